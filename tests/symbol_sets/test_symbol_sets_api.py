from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from posthog_clone import embedded
from posthog_clone.object_storage import get_object_storage
from symbol_sets.models import ErrorTrackingSymbolSet
from tests.api_base import TeamScopedReadAPITests
from tests.support.errors import assert_error
from tests.support.storage import MOTO_CREDENTIALS
from tests.support.tenants import Tenant
from tests.symbol_sets.helpers import (
    CHUNK_A,
    CHUNK_B,
    MAX_SIZE,
    finish,
    make_release,
    make_symbol_set,
    start,
    upload,
    url,
)
from tests.symbol_sets.uploads import decoded_policy


class TestSymbolSetsAccess(TeamScopedReadAPITests):
    resource = "error_tracking/symbol_sets"
    scope_object = "error_tracking"

    def make_object(self, tenant: Tenant) -> ErrorTrackingSymbolSet:
        return make_symbol_set(tenant)


# --- bad input: 4xx in the error shape, nothing written ----------------------------------------------------
class TestBulkStartUploadRejects:
    @pytest.mark.parametrize(
        ("body", "code", "attr"),
        [
            ({"symbol_sets": "a"}, "not_a_list", "symbol_sets"),
            ({"symbol_sets": [{"release_id": None}]}, "required", "symbol_sets__0__chunk_id"),
            ({"symbol_sets": [{"chunk_id": ""}]}, "blank", "symbol_sets__0__chunk_id"),
            ({"symbol_sets": [{"chunk_id": "a" * 257}]}, "max_length", "symbol_sets__0__chunk_id"),
            ({"symbol_sets": [{"chunk_id": "a\x00b"}]}, "null_characters_not_allowed", "symbol_sets__0__chunk_id"),
            (
                {"symbol_sets": [{"chunk_id": "a", "content_hash": ["h"]}]},
                "invalid_input",
                "symbol_sets__0__content_hash",
            ),
            ({"symbol_sets": [{"chunk_id": "a", "content_hash": ""}]}, "blank", "symbol_sets__0__content_hash"),
            ({"symbol_sets": [{"chunk_id": str(i)} for i in range(1001)]}, "max_length", "symbol_sets"),
            ({"chunk_ids": "a"}, "not_a_list", "chunk_ids"),
            ({"ref": {"a": 1}}, "invalid_input", "ref"),
            ({"force": "maybe"}, "invalid_input", "force"),
        ],
    )
    def test_malformed_bodies(self, api: APIClient, tenant: Tenant, body: dict, code: str, attr: str | None) -> None:
        assert_error(api.post(url(tenant, "bulk_start_upload"), body, format="json"), code=code, attr=attr)
        assert not ErrorTrackingSymbolSet.objects.exists()

    def test_not_an_object_or_not_json(self, api: APIClient, tenant: Tenant) -> None:
        assert api.post(url(tenant, "bulk_start_upload"), [1], format="json").status_code == 400
        broken = api.post(url(tenant, "bulk_start_upload"), "{", content_type="application/json")
        assert_error(broken, code="parse_error")

    def test_force_and_skip_on_conflict_together(self, api: APIClient, tenant: Tenant) -> None:
        response = start(api, tenant, {"chunk_id": CHUNK_A}, force=True, skip_on_conflict=True)
        assert_error(
            response, code="invalid_conflict_handling", detail="Use either force or skip_on_conflict, not both."
        )
        assert not ErrorTrackingSymbolSet.objects.exists()

    def test_duplicate_chunk_ids_are_listed_once_sorted(self, api: APIClient, tenant: Tenant) -> None:
        response = start(api, tenant, *[{"chunk_id": chunk} for chunk in ["b", "c", "a", "b", "a", "a"]])
        assert_error(response, code="invalid_chunk_ids", detail="Duplicate chunk IDs provided: a, b")
        assert not ErrorTrackingSymbolSet.objects.exists()

    def test_duplicates_across_body_forms(self, api: APIClient, tenant: Tenant) -> None:
        body = {"symbol_sets": [{"chunk_id": "a"}], "chunk_ids": ["b"], "ref": "a"}
        assert_error(api.post(url(tenant, "bulk_start_upload"), body, format="json"), code="invalid_chunk_ids")

    @pytest.mark.parametrize("release_id", ["not-a-uuid", "1234", "g" * 32])
    def test_malformed_release_id(self, api: APIClient, tenant: Tenant, release_id: str) -> None:
        response = start(api, tenant, {"chunk_id": "a"}, {"chunk_id": "b", "release_id": release_id})
        assert_error(response, code="invalid_release_id", detail=f"Invalid release ID provided: {release_id}")
        assert not ErrorTrackingSymbolSet.objects.exists()

    def test_unknown_release_id_including_another_projects(
        self, api: APIClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        theirs = make_release(other_tenant)
        response = start(api, tenant, {"chunk_id": "a"}, {"chunk_id": "b", "release_id": str(theirs.id)})
        assert_error(response, code="invalid_release_id", detail=f"Unknown release ID provided: {theirs.id}")
        assert not ErrorTrackingSymbolSet.objects.exists()

    def test_object_storage_off(self, api: APIClient, tenant: Tenant, settings: Any) -> None:
        settings.OBJECT_STORAGE_ENABLED = False
        response = start(api, tenant, {"chunk_id": "a"})
        assert_error(
            response,
            code="object_storage_required",
            detail="Object storage must be available to allow source map uploads.",
        )
        assert not ErrorTrackingSymbolSet.objects.exists()


class TestBulkFinishUploadRejects:
    def test_null_content_hashes(self, api: APIClient, tenant: Tenant) -> None:
        assert_error(
            finish(api, tenant, None), code="null", detail="content_hashes are required", attr="content_hashes"
        )

    def test_not_a_dict(self, api: APIClient, tenant: Tenant) -> None:
        assert_error(finish(api, tenant, ["a"]), code="not_a_dict", attr="content_hashes")

    @pytest.mark.parametrize("body", [{}, {"content_hashes": {}}])
    def test_nothing_to_finish_succeeds(self, api: APIClient, tenant: Tenant, body: dict) -> None:
        response = api.post(url(tenant, "bulk_finish_upload"), body, format="json")
        assert response.status_code == 200
        assert response.json() == {"success": True}

    def test_ids_that_are_not_uuids_or_not_the_projects(
        self, api: APIClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        theirs = make_symbol_set(other_tenant)
        missing = uuid.uuid4()
        response = finish(api, tenant, {"zzz": "h", str(theirs.id): "h", str(missing): "h", "12": "h"})
        expected = ", ".join(sorted(["zzz", str(theirs.id), str(missing), "12"]))
        assert_error(response, code="symbol_set_not_found", detail=f"Unknown symbol set IDs: {expected}")
        theirs.refresh_from_db()
        assert theirs.content_hash is None

    @pytest.mark.parametrize("content_hash", [None, ""])
    def test_empty_content_hash(self, api: APIClient, tenant: Tenant, content_hash: str | None) -> None:
        mine = make_symbol_set(tenant)
        response = finish(api, tenant, {str(mine.id): content_hash})
        assert_error(
            response,
            code="content_hash_required",
            detail="A content hash must be provided to complete symbol set upload.",
        )

    def test_too_many(self, api: APIClient, tenant: Tenant) -> None:
        response = finish(api, tenant, {str(uuid.uuid4()): "h" for _ in range(1001)})
        assert_error(response, code="invalid_input", attr="content_hashes")

    def test_object_storage_off(self, api: APIClient, tenant: Tenant, settings: Any) -> None:
        mine = make_symbol_set(tenant)
        settings.OBJECT_STORAGE_ENABLED = False
        assert_error(finish(api, tenant, {str(mine.id): "h"}), code="object_storage_required")


class TestSingleUploadRejects:
    @pytest.mark.parametrize(
        ("query", "code"), [("", "required"), ("?chunk_id=", "blank"), ("?release_id=x", "required")]
    )
    def test_start_needs_chunk_id(self, api: APIClient, tenant: Tenant, query: str, code: str) -> None:
        response = api.post(url(tenant, f"start_upload{query}"))
        assert_error(response, code=code, detail="chunk_id query parameter is required", attr="chunk_id")

    def test_start_with_malformed_or_unknown_release(self, api: APIClient, tenant: Tenant) -> None:
        assert_error(api.post(url(tenant, "start_upload?chunk_id=a&release_id=nope")), code="invalid_release_id")
        unknown = api.post(url(tenant, f"start_upload?chunk_id=a&release_id={uuid.uuid4()}"))
        assert_error(unknown, code="invalid_release_id")
        assert not ErrorTrackingSymbolSet.objects.exists()

    @pytest.mark.parametrize("body", [{}, {"content_hash": ""}, {"content_hash": None}])
    def test_finish_needs_content_hash(self, api: APIClient, tenant: Tenant, body: dict) -> None:
        mine = make_symbol_set(tenant)
        response = api.put(url(tenant, f"{mine.id}/finish_upload"), body, format="json")
        assert_error(response, code="content_hash_required")

    @pytest.mark.parametrize("symbol_set_id", ["not-a-uuid", "2f1c9a52-7d0e-4b8a-9c3e-5a6b7c8d9e0f"])
    def test_finish_unknown_id_is_404(self, api: APIClient, tenant: Tenant, symbol_set_id: str) -> None:
        response = api.put(url(tenant, f"{symbol_set_id}/finish_upload"), {"content_hash": "h"}, format="json")
        assert_error(response, 404, code="not_found")


class TestBulkDeleteRejects:
    @pytest.mark.parametrize(("body", "code"), [({}, "required"), ({"ids": []}, "empty"), ({"ids": None}, "null")])
    def test_missing_ids(self, api: APIClient, tenant: Tenant, body: dict, code: str) -> None:
        response = api.post(url(tenant, "bulk_delete"), body, format="json")
        assert_error(response, code=code, detail="ids is required", attr="ids")

    def test_ids_not_a_list(self, api: APIClient, tenant: Tenant) -> None:
        response = api.post(url(tenant, "bulk_delete"), {"ids": "abc"}, format="json")
        assert_error(response, code="not_a_list", detail="ids must be a list", attr="ids")

    @pytest.mark.parametrize("not_a_uuid", ["nope", False, 0, 7])
    def test_ids_that_are_not_uuids(self, api: APIClient, tenant: Tenant, not_a_uuid: object) -> None:
        mine = make_symbol_set(tenant)
        response = api.post(url(tenant, "bulk_delete"), {"ids": [str(mine.id), not_a_uuid]}, format="json")
        assert_error(response, code="invalid_input", attr="ids__1")
        assert ErrorTrackingSymbolSet.objects.filter(id=mine.id).exists()


class TestListRejects:
    @pytest.mark.parametrize(("param", "value"), [("status", "broken"), ("order_by", "storage_ptr")])
    def test_bad_choices(self, api: APIClient, tenant: Tenant, param: str, value: str) -> None:
        assert_error(api.get(url(tenant), {param: value}), code="invalid_choice", attr=param)

    def test_ref_with_nul_character(self, api: APIClient, tenant: Tenant) -> None:
        assert api.get(url(tenant), {"ref": "a\x00b"}).status_code == 400

    def test_list_parameters_do_not_apply_to_one_set(self, api: APIClient, tenant: Tenant) -> None:
        symbol_set = make_symbol_set(tenant)
        params = {"status": "broken", "ref": "other"}
        assert api.get(url(tenant, f"{symbol_set.id}/"), params).json()["id"] == str(symbol_set.id)
        assert api.get(url(tenant, f"{symbol_set.id}/download/"), params).status_code == 200


# --- list and retrieve --------------------------------------------------------------------------------------
class TestList:
    def test_item_shape_hides_storage_details(self, api: APIClient, tenant: Tenant) -> None:
        release = make_release(tenant, metadata={"git": {"commit_id": "abc123"}})
        symbol_set = make_symbol_set(tenant, content_hash="h", release=release, failure_reason="no frames")

        item = api.get(url(tenant, f"{symbol_set.id}/")).json()

        assert item == {
            "id": str(symbol_set.id),
            "ref": CHUNK_A,
            "team_id": tenant.team.id,
            "created_at": item["created_at"],
            "last_used": None,
            "failure_reason": "no frames",
            "has_uploaded_file": True,
            "release": {
                "id": str(release.id),
                "hash_id": "hash-1.0.0",
                "team_id": tenant.team.id,
                "created_at": item["release"]["created_at"],
                "metadata": {"git": {"commit_id": "abc123"}},
                "version": "1.0.0",
                "project": "web",
            },
        }

    def test_filters(self, api: APIClient, tenant: Tenant) -> None:
        release = make_release(tenant, "2.5.0-Beta", project="Checkout", metadata={"git": {"commit_id": "DEADBEEF"}})
        with_release = make_symbol_set(tenant, "chunk-one", release=release)
        pending = make_symbol_set(tenant, "chunk-two")
        failed = make_symbol_set(tenant, "CHUNK-three", storage_ptr=None, failure_reason="not found")

        def ids(**params: str) -> set[str]:
            response = api.get(url(tenant), params)
            assert response.status_code == 200, response.content
            return {item["id"] for item in response.json()["results"]}

        assert ids(ref="chunk-two") == {str(pending.id)}
        assert ids(ref="CHUNK-TWO") == set()  # exact
        assert ids(search="chunk-t") == {str(pending.id), str(failed.id)}  # case-insensitive substring
        assert ids(search="beta") == {str(with_release.id)}  # release version
        assert ids(search="checkout") == {str(with_release.id)}  # release project
        assert ids(search="deadbeef") == {str(with_release.id)}  # git commit id
        assert ids(status="valid") == {str(with_release.id), str(pending.id)}
        assert ids(status="invalid") == {str(failed.id)}
        assert ids(status="all") == ids() == {str(with_release.id), str(pending.id), str(failed.id)}

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            (None, ["c", "b", "a"]),
            ("created_at", ["a", "b", "c"]),
            ("-created_at", ["c", "b", "a"]),
            ("ref", ["a", "b", "c"]),
            ("-ref", ["c", "b", "a"]),
            ("last_used", ["b", "a", "c"]),
            ("-last_used", ["c", "a", "b"]),
        ],
    )
    def test_order_by(self, api: APIClient, tenant: Tenant, order_by: str | None, expected: list[str]) -> None:
        now = timezone.now()
        for offset, (ref, last_used) in enumerate([("a", 1), ("b", 2), ("c", None)]):
            symbol_set = make_symbol_set(tenant, ref, last_used=now - timedelta(days=last_used) if last_used else None)
            ErrorTrackingSymbolSet.objects.filter(id=symbol_set.id).update(created_at=now + timedelta(seconds=offset))
        response = api.get(url(tenant), {"order_by": order_by} if order_by else {})
        assert [item["ref"] for item in response.json()["results"]] == expected

    def test_pages_hold_at_most_100(self, api: APIClient, tenant: Tenant) -> None:
        ErrorTrackingSymbolSet.objects.bulk_create(
            [ErrorTrackingSymbolSet(team=tenant.team, ref=f"chunk-{index}") for index in range(101)]
        )
        body = api.get(url(tenant), {"limit": 500}).json()
        assert (body["count"], len(body["results"])) == (101, 100)
        assert "limit=100" in body["next"]

    def test_read_scope_can_list_retrieve_and_download(self, key_client: Any, tenant: Tenant) -> None:
        reader = key_client("error_tracking:read")
        symbol_set = make_symbol_set(tenant)
        assert reader.get(url(tenant)).status_code == 200
        assert reader.get(url(tenant, f"{symbol_set.id}/")).status_code == 200
        assert reader.get(url(tenant, f"{symbol_set.id}/download/")).status_code == 200


# --- scopes and tenancy --------------------------------------------------------------------------------------
WRITE_REQUESTS = [
    ("post", "bulk_start_upload", {"symbol_sets": [{"chunk_id": "a"}]}),
    ("post", "bulk_finish_upload", {"content_hashes": {}}),
    ("post", "bulk_check_upload", {"symbol_sets": [{"chunk_id": "a"}]}),
    ("post", "bulk_delete", {"ids": [str(uuid.uuid4())]}),
    ("post", "start_upload?chunk_id=a", None),
    ("put", "{id}/finish_upload", {"content_hash": "h"}),
    ("post", "{id}/finish_upload", {"content_hash": "h"}),
    ("delete", "{id}/", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), WRITE_REQUESTS)
def test_writes_need_the_write_scope(key_client: Any, tenant: Tenant, method: str, suffix: str, body: Any) -> None:
    symbol_set = make_symbol_set(tenant)
    response = getattr(key_client("error_tracking:read"), method)(
        url(tenant, suffix.format(id=symbol_set.id)), body, format="json"
    )
    assert_error(
        response, 403, code="permission_denied", detail="API key missing required scope 'error_tracking:write'"
    )
    assert ErrorTrackingSymbolSet.objects.get().storage_ptr == symbol_set.storage_ptr


@pytest.mark.parametrize("method", ["put", "patch", "post"])
def test_no_update_or_direct_create(api: APIClient, tenant: Tenant, method: str) -> None:
    symbol_set = make_symbol_set(tenant)
    target = url(tenant) if method == "post" else url(tenant, f"{symbol_set.id}/")
    response = getattr(api, method)(target, {"ref": "changed", "storage_ptr": "x"}, format="json")
    assert response.status_code == 405
    assert ErrorTrackingSymbolSet.objects.get().ref == CHUNK_A


def test_another_projects_sets_cannot_be_finished_downloaded_or_deleted(
    api: APIClient, tenant: Tenant, other_tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    theirs = make_symbol_set(other_tenant)
    for response in [
        api.put(url(tenant, f"{theirs.id}/finish_upload"), {"content_hash": "h"}, format="json"),
        api.get(url(tenant, f"{theirs.id}/download/")),
        api.delete(url(tenant, f"{theirs.id}/")),
    ]:
        assert_error(response, 404, code="not_found")
    assert_error(finish(api, tenant, {str(theirs.id): "h"}), code="symbol_set_not_found")
    with django_capture_on_commit_callbacks(execute=True):
        deleted = api.post(url(tenant, "bulk_delete"), {"ids": [str(theirs.id)]}, format="json")
    assert deleted.json() == {"deleted": 0}
    theirs.refresh_from_db()
    assert theirs.content_hash is None


def test_project_of_another_organization_cannot_start_uploads(
    api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    response = start(api, other_tenant, {"chunk_id": "a"})
    assert_error(response, 403, code="permission_denied", detail="You don't have access to the project.")
    assert not ErrorTrackingSymbolSet.objects.exists()


# --- the re-upload rules of bulk_start_upload ----------------------------------------------------------------
class TestBulkStartUpload:
    def test_new_chunks_get_rows_and_uploads(self, api: APIClient, tenant: Tenant) -> None:
        release = make_release(tenant)
        response = start(
            api,
            tenant,
            {"chunk_id": CHUNK_A, "release_id": str(release.id), "content_hash": "h"},
            {"chunk_id": CHUNK_B},
        )

        assert response.status_code == 200, response.content
        id_map = response.json()["id_map"]
        assert set(id_map) == {CHUNK_A, CHUNK_B}
        for chunk_id, entry in id_map.items():
            symbol_set = ErrorTrackingSymbolSet.objects.get(ref=chunk_id)
            assert entry["symbol_set_id"] == str(symbol_set.id)
            assert entry["presigned_url"]["fields"]["key"] == symbol_set.storage_ptr
            assert symbol_set.storage_ptr.startswith("symbolsets/")
            assert symbol_set.content_hash is None  # only finish records it
            assert symbol_set.last_used is not None
            policy = decoded_policy(entry["presigned_url"]["fields"])
            assert ["content-length-range", 0, MAX_SIZE] in policy["conditions"]
        assert ErrorTrackingSymbolSet.objects.get(ref=CHUNK_A).release == release
        assert ErrorTrackingSymbolSet.objects.get(ref=CHUNK_B).release is None

    @pytest.mark.parametrize(
        "body",
        [
            {"chunk_ids": [CHUNK_A, CHUNK_B], "release_id": "{release}"},
            {
                "symbol_sets": [{"chunk_id": CHUNK_A, "release_id": "{release}"}],
                "ref": CHUNK_B,
                "release_id": "{release}",
            },
        ],
        ids=["legacy-chunk-ids", "symbol-sets-and-ref"],
    )
    def test_other_body_forms(self, api: APIClient, tenant: Tenant, body: dict) -> None:
        release = make_release(tenant)
        filled = {k: str(release.id) if v == "{release}" else v for k, v in body.items()}
        for item in filled.get("symbol_sets", []):
            item["release_id"] = str(release.id)
        response = api.post(url(tenant, "bulk_start_upload"), filled, format="json")
        assert set(response.json()["id_map"]) == {CHUNK_A, CHUNK_B}
        assert set(ErrorTrackingSymbolSet.objects.values_list("ref", "release_id")) == {
            (CHUNK_A, release.id),
            (CHUNK_B, release.id),
        }

    def test_seed_single_ref_form_ignores_storage_fields(self, api: APIClient, tenant: Tenant) -> None:
        body = {"ref": CHUNK_A, "storage_ptr": "../../elsewhere", "failure_reason": "x"}
        response = api.post(url(tenant, "bulk_start_upload"), body, format="json")
        symbol_set = ErrorTrackingSymbolSet.objects.get()
        assert response.json()["id_map"][CHUNK_A]["symbol_set_id"] == str(symbol_set.id)
        assert symbol_set.storage_ptr.startswith("symbolsets/")
        assert symbol_set.failure_reason is None

    @pytest.mark.parametrize("sent_hash", [None, "new-hash"])
    def test_pending_upload_restarts_on_a_new_key(self, api: APIClient, tenant: Tenant, sent_hash: str | None) -> None:
        pending = make_symbol_set(tenant, failure_reason="old failure")
        response = start(api, tenant, {"chunk_id": CHUNK_A, "content_hash": sent_hash})
        entry = response.json()["id_map"][CHUNK_A]
        restarted = ErrorTrackingSymbolSet.objects.get()
        assert entry["symbol_set_id"] == str(pending.id)
        assert restarted.storage_ptr != pending.storage_ptr
        assert entry["presigned_url"]["fields"]["key"] == restarted.storage_ptr
        assert (restarted.content_hash, restarted.failure_reason) == (None, None)

    def test_same_content_is_skipped(self, api: APIClient, tenant: Tenant) -> None:
        stored = make_symbol_set(tenant, content_hash="h")
        response = start(api, tenant, {"chunk_id": CHUNK_A, "content_hash": "h"}, {"chunk_id": CHUNK_B})
        assert set(response.json()["id_map"]) == {CHUNK_B}
        stored_after = ErrorTrackingSymbolSet.objects.get(ref=CHUNK_A)
        assert (stored_after.storage_ptr, stored_after.content_hash) == (stored.storage_ptr, "h")

    @pytest.mark.parametrize("form", ["symbol_sets", "chunk_ids"])
    def test_stored_content_needs_a_hash_to_be_replaced(self, api: APIClient, tenant: Tenant, form: str) -> None:
        make_symbol_set(tenant, content_hash="h")
        body = {"symbol_sets": [{"chunk_id": CHUNK_A}]} if form == "symbol_sets" else {"chunk_ids": [CHUNK_A]}
        response = api.post(url(tenant, "bulk_start_upload"), body, format="json")
        assert_error(
            response,
            code="content_hash_required",
            detail=f"Symbol set {CHUNK_A} already has content; provide a content_hash to update it.",
        )

    def test_different_content_is_refused(self, api: APIClient, tenant: Tenant) -> None:
        stored = make_symbol_set(tenant, content_hash="h")
        response = start(api, tenant, {"chunk_id": CHUNK_A, "content_hash": "other"})
        assert_error(
            response,
            code="content_hash_mismatch",
            detail=f"Symbol set {CHUNK_A} already exists with different content.",
        )
        stored_after = ErrorTrackingSymbolSet.objects.get()
        assert (stored_after.storage_ptr, stored_after.content_hash) == (stored.storage_ptr, "h")

    def test_different_content_with_force_is_reissued(self, api: APIClient, tenant: Tenant) -> None:
        stored = make_symbol_set(tenant, content_hash="h")
        response = start(api, tenant, {"chunk_id": CHUNK_A, "content_hash": "other"}, force=True)
        entry = response.json()["id_map"][CHUNK_A]
        replaced = ErrorTrackingSymbolSet.objects.get()
        assert entry["symbol_set_id"] == str(stored.id)
        assert replaced.storage_ptr != stored.storage_ptr
        assert replaced.content_hash is None  # until finish confirms the new file

    def test_different_content_with_skip_on_conflict_keeps_the_old(self, api: APIClient, tenant: Tenant) -> None:
        stored = make_symbol_set(tenant, content_hash="h")
        response = start(api, tenant, {"chunk_id": CHUNK_A, "content_hash": "other"}, skip_on_conflict=True)
        assert response.json() == {"id_map": {}}
        stored_after = ErrorTrackingSymbolSet.objects.get()
        assert (stored_after.storage_ptr, stored_after.content_hash) == (stored.storage_ptr, "h")

    def test_release_attached_to_a_pending_set_reissues_the_upload(self, api: APIClient, tenant: Tenant) -> None:
        pending = make_symbol_set(tenant)
        release = make_release(tenant)
        response = start(api, tenant, {"chunk_id": CHUNK_A, "release_id": str(release.id)})
        assert CHUNK_A in response.json()["id_map"]
        updated = ErrorTrackingSymbolSet.objects.get()
        assert (updated.release_id, updated.storage_ptr != pending.storage_ptr) == (release.id, True)

    def test_release_attached_to_an_uploaded_set_with_same_content(self, api: APIClient, tenant: Tenant) -> None:
        stored = make_symbol_set(tenant, content_hash="h")
        release = make_release(tenant)
        response = start(api, tenant, {"chunk_id": CHUNK_A, "release_id": str(release.id), "content_hash": "h"})
        assert response.json() == {"id_map": {}}
        updated = ErrorTrackingSymbolSet.objects.get()
        assert (updated.release_id, updated.storage_ptr) == (release.id, stored.storage_ptr)

    def test_release_cannot_change(self, api: APIClient, tenant: Tenant) -> None:
        first, second = make_release(tenant, "1.0.0"), make_release(tenant, "2.0.0")
        make_symbol_set(tenant, release=first, content_hash="h")
        response = start(api, tenant, {"chunk_id": CHUNK_A, "release_id": str(second.id), "content_hash": "other"})
        assert_error(response, code="release_id_mismatch", detail=f"Symbol set {CHUNK_A} already has a release ID")
        assert ErrorTrackingSymbolSet.objects.get().release_id == first.id

    def test_upload_without_release_keeps_the_release(self, api: APIClient, tenant: Tenant) -> None:
        release = make_release(tenant)
        make_symbol_set(tenant, release=release)
        start(api, tenant, {"chunk_id": CHUNK_A, "release_id": None})
        assert ErrorTrackingSymbolSet.objects.get().release_id == release.id

    def test_a_failing_chunk_leaves_no_row_of_its_batch(self, api: APIClient, tenant: Tenant) -> None:
        make_symbol_set(tenant, CHUNK_B, content_hash="h")
        response = start(api, tenant, {"chunk_id": CHUNK_A}, {"chunk_id": CHUNK_B, "content_hash": "other"})
        assert_error(response, code="content_hash_mismatch")
        assert list(ErrorTrackingSymbolSet.objects.values_list("ref", flat=True)) == [CHUNK_B]

    def test_last_used_is_refreshed_only_when_stale(self, api: APIClient, tenant: Tenant) -> None:
        now = timezone.now()
        stale = make_symbol_set(tenant, CHUNK_A, content_hash="h", last_used=now - timedelta(hours=13))
        fresh = make_symbol_set(tenant, CHUNK_B, content_hash="h", last_used=now - timedelta(hours=1))
        start(api, tenant, {"chunk_id": CHUNK_A, "content_hash": "h"}, {"chunk_id": CHUNK_B, "content_hash": "h"})
        stale.refresh_from_db()
        fresh.refresh_from_db()
        assert stale.last_used >= now
        assert fresh.last_used == now - timedelta(hours=1)

    def test_check_upload_lists_what_start_would_act_on(self, api: APIClient, tenant: Tenant) -> None:
        release = make_release(tenant)
        make_symbol_set(tenant, "skip", content_hash="h")
        make_symbol_set(tenant, "bind", content_hash="h")
        make_symbol_set(tenant, "pending")
        body = {
            "symbol_sets": [
                {"chunk_id": "new"},
                {"chunk_id": "skip", "content_hash": "h"},
                {"chunk_id": "bind", "content_hash": "h", "release_id": str(release.id)},
                {"chunk_id": "pending", "content_hash": "h"},
            ]
        }
        before = list(ErrorTrackingSymbolSet.objects.values_list("ref", "storage_ptr", "release_id", "content_hash"))
        response = api.post(url(tenant, "bulk_check_upload"), body, format="json")
        assert response.status_code == 200
        assert response.json() == {"chunk_ids_to_upload": ["new", "bind", "pending"]}
        after = list(ErrorTrackingSymbolSet.objects.values_list("ref", "storage_ptr", "release_id", "content_hash"))
        assert after == before

    def test_check_upload_raises_the_same_errors(self, api: APIClient, tenant: Tenant) -> None:
        make_symbol_set(tenant, content_hash="h")
        response = api.post(
            url(tenant, "bulk_check_upload"),
            {"symbol_sets": [{"chunk_id": CHUNK_A, "content_hash": "other"}]},
            format="json",
        )
        assert_error(response, code="content_hash_mismatch")


class TestSingleStartUpload:
    def test_creates_a_pending_set_with_an_hour_to_upload(self, api: APIClient, tenant: Tenant) -> None:
        release = make_release(tenant)
        before = timezone.now()
        response = api.post(url(tenant, f"start_upload?chunk_id={CHUNK_A}&release_id={release.id}"))
        assert response.status_code == 200, response.content
        symbol_set = ErrorTrackingSymbolSet.objects.get()
        assert response.json()["symbol_set_id"] == str(symbol_set.id)
        assert response.json()["presigned_url"]["fields"]["key"] == symbol_set.storage_ptr
        assert symbol_set.release == release
        expiration = decoded_policy(response.json()["presigned_url"]["fields"])["expiration"]
        assert (before + timedelta(seconds=3590)).strftime("%Y-%m-%dT%H:%M:%SZ") <= expiration

    def test_restart_replaces_stored_content(self, api: APIClient, tenant: Tenant) -> None:
        stored = make_symbol_set(tenant, content_hash="h")
        response = api.post(url(tenant, f"start_upload?chunk_id={CHUNK_A}"))
        restarted = ErrorTrackingSymbolSet.objects.get()
        assert response.json()["symbol_set_id"] == str(stored.id)
        assert (restarted.content_hash, restarted.storage_ptr != stored.storage_ptr) == (None, True)

    def test_release_cannot_change(self, api: APIClient, tenant: Tenant) -> None:
        first, second = make_release(tenant, "1.0.0"), make_release(tenant, "2.0.0")
        make_symbol_set(tenant, release=first)
        response = api.post(url(tenant, f"start_upload?chunk_id={CHUNK_A}&release_id={second.id}"))
        assert_error(response, code="release_id_mismatch")


# --- finishing: the file must be there, non-empty and within the limit --------------------------------------
class TestFinishUpload:
    def test_bulk_finish_records_hashes_all_or_nothing(self, api: APIClient, tenant: Tenant) -> None:
        entries = start(api, tenant, {"chunk_id": CHUNK_A}, {"chunk_id": CHUNK_B}).json()["id_map"]
        upload(entries[CHUNK_A], b"a bytes")
        hashes = {entries[CHUNK_A]["symbol_set_id"]: "hash-a", entries[CHUNK_B]["symbol_set_id"]: "hash-b"}

        assert_error(
            finish(api, tenant, hashes), code="file_not_found", detail="No file has been uploaded for the symbol set."
        )
        assert set(ErrorTrackingSymbolSet.objects.values_list("content_hash", flat=True)) == {None}

        upload(entries[CHUNK_B], b"b bytes")
        assert finish(api, tenant, hashes).json() == {"success": True}
        assert dict(ErrorTrackingSymbolSet.objects.values_list("ref", "content_hash")) == {
            CHUNK_A: "hash-a",
            CHUNK_B: "hash-b",
        }
        # Bulk finish overwrites; the single finish does not (below).
        assert finish(api, tenant, {entries[CHUNK_A]["symbol_set_id"]: "rehash"}).status_code == 200
        assert ErrorTrackingSymbolSet.objects.get(ref=CHUNK_A).content_hash == "rehash"

    def test_set_without_storage_pointer_has_no_file(self, api: APIClient, tenant: Tenant) -> None:
        failed = make_symbol_set(tenant, storage_ptr=None)
        assert_error(finish(api, tenant, {str(failed.id): "h"}), code="file_not_found")

    def test_empty_file_costs_the_set(
        self, api: APIClient, tenant: Tenant, local_storage: Path, django_capture_on_commit_callbacks: Any
    ) -> None:
        entries = start(api, tenant, {"chunk_id": CHUNK_A}, {"chunk_id": CHUNK_B}).json()["id_map"]
        upload(entries[CHUNK_A], b"")
        upload(entries[CHUNK_B], b"fine")
        hashes = {entry["symbol_set_id"]: "h" for entry in entries.values()}

        with django_capture_on_commit_callbacks(execute=True):
            response = finish(api, tenant, hashes)

        assert_error(response, code="file_too_large", detail="The uploaded symbol set file was too large.")
        remaining = ErrorTrackingSymbolSet.objects.get()
        assert (remaining.ref, remaining.content_hash) == (CHUNK_B, None)
        assert get_object_storage().head(entries[CHUNK_A]["presigned_url"]["fields"]["key"]) is None

    def test_single_finish_keeps_the_first_hash(self, api: APIClient, tenant: Tenant) -> None:
        entry = start(api, tenant, {"chunk_id": CHUNK_A}).json()["id_map"][CHUNK_A]
        finish_url = url(tenant, f"{entry['symbol_set_id']}/finish_upload")

        assert_error(api.put(finish_url, {"content_hash": "first"}, format="json"), code="file_not_found")
        upload(entry, b"bytes")
        assert api.put(finish_url, {"content_hash": "first"}, format="json").json() == {"success": True}
        assert api.post(finish_url, {"content_hash": "second"}, format="json").status_code == 200
        assert ErrorTrackingSymbolSet.objects.get().content_hash == "first"

    def test_single_finish_with_storage_off(self, api: APIClient, tenant: Tenant, settings: Any) -> None:
        mine = make_symbol_set(tenant)
        settings.OBJECT_STORAGE_ENABLED = False
        response = api.put(url(tenant, f"{mine.id}/finish_upload"), {"content_hash": "h"}, format="json")
        assert_error(response, code="object_storage_required")


class TestFinishUploadOnS3:
    def test_file_over_100_mib_costs_the_set(
        self,
        api: APIClient,
        tenant: Tenant,
        s3_storage: str,
        moto_endpoint: str,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        entry = start(api, tenant, {"chunk_id": CHUNK_A}).json()["id_map"][CHUNK_A]
        key = entry["presigned_url"]["fields"]["key"]
        # moto, like some S3-compatible stores, takes any size: the finish check is what enforces the limit.
        s3 = boto3.client("s3", endpoint_url=moto_endpoint, **MOTO_CREDENTIALS)
        s3.put_object(Bucket=s3_storage, Key=key, Body=bytes(MAX_SIZE + 1))

        with django_capture_on_commit_callbacks(execute=True):
            response = finish(api, tenant, {entry["symbol_set_id"]: "h"})

        assert_error(response, code="file_too_large")
        assert not ErrorTrackingSymbolSet.objects.exists()
        assert get_object_storage().head(key) is None

    def test_unreachable_store_is_503(self, api: APIClient, tenant: Tenant, s3_storage: str, settings: Any) -> None:
        mine = make_symbol_set(tenant)
        settings.OBJECT_STORAGE_ENDPOINT = f"http://127.0.0.1:{embedded.free_port()}"
        response = finish(api, tenant, {str(mine.id): "h"})
        assert_error(response, 503, code="object_storage_unavailable")
        assert response.json()["type"] == "server_error"
        mine.refresh_from_db()
        assert mine.content_hash is None


# --- download and delete ---------------------------------------------------------------------------------------
class TestDownloadAndDelete:
    def test_download_url(self, api: APIClient, tenant: Tenant, settings: Any) -> None:
        entry = start(api, tenant, {"chunk_id": CHUNK_A}).json()["id_map"][CHUNK_A]
        response = api.get(url(tenant, f"{entry['symbol_set_id']}/download/"))
        assert response.status_code == 200
        key = entry["presigned_url"]["fields"]["key"]
        assert response.json()["url"].startswith(f"{settings.SITE_URL}/object_storage/{key}?expires=")

    def test_download_without_file_is_404(self, api: APIClient, tenant: Tenant) -> None:
        failed = make_symbol_set(tenant, storage_ptr=None)
        response = api.get(url(tenant, f"{failed.id}/download/"))
        assert_error(response, 404, code="not_found", detail="Symbol set has no uploaded file.")

    def test_download_with_storage_off(self, api: APIClient, tenant: Tenant, settings: Any) -> None:
        mine = make_symbol_set(tenant)
        settings.OBJECT_STORAGE_ENABLED = False
        assert_error(api.get(url(tenant, f"{mine.id}/download/")), code="object_storage_required")

    def test_delete_removes_the_object(
        self, api: APIClient, tenant: Tenant, django_capture_on_commit_callbacks: Any
    ) -> None:
        entry = start(api, tenant, {"chunk_id": CHUNK_A}).json()["id_map"][CHUNK_A]
        upload(entry, b"bytes")
        key = entry["presigned_url"]["fields"]["key"]

        with django_capture_on_commit_callbacks(execute=True):
            response = api.delete(url(tenant, f"{entry['symbol_set_id']}/"))

        assert response.status_code == 204
        assert response.content == b""
        assert not ErrorTrackingSymbolSet.objects.exists()
        assert get_object_storage().head(key) is None

    def test_bulk_delete_removes_the_projects_sets_and_objects(
        self, api: APIClient, tenant: Tenant, other_tenant: Tenant, django_capture_on_commit_callbacks: Any
    ) -> None:
        entries = start(api, tenant, {"chunk_id": CHUNK_A}, {"chunk_id": CHUNK_B}).json()["id_map"]
        for entry in entries.values():
            upload(entry, b"bytes")
        kept = make_symbol_set(tenant, "kept")
        theirs = make_symbol_set(other_tenant)
        ids = [entry["symbol_set_id"] for entry in entries.values()] + [str(theirs.id), str(uuid.uuid4())]

        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(url(tenant, "bulk_delete"), {"ids": ids}, format="json")

        assert response.json() == {"deleted": 2}
        assert set(ErrorTrackingSymbolSet.objects.values_list("id", flat=True)) == {kept.id, theirs.id}
        storage = get_object_storage()
        assert all(storage.head(entry["presigned_url"]["fields"]["key"]) is None for entry in entries.values())


def test_concurrent_creation_of_the_same_chunk_is_409(api: APIClient, tenant: Tenant) -> None:
    """Two requests creating one new ref: the unique constraint decides, and the loser is told to retry. Simulated
    by a row that appears between the lookup and the insert (another request's, committed meanwhile)."""
    with connection.cursor() as cursor:
        # Just before our insert, a trigger inserts the competing row the other request would have committed.
        # The test's transaction rolls the function and trigger back with everything else.
        cursor.execute(
            """
            CREATE FUNCTION insert_competing_symbol_set() RETURNS trigger AS $$
            BEGIN
                IF pg_trigger_depth() = 1 THEN
                    INSERT INTO symbol_sets_errortrackingsymbolset (id, team_id, ref, created_at)
                    VALUES (gen_random_uuid(), NEW.team_id, NEW.ref, now());
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER insert_competing_symbol_set BEFORE INSERT ON symbol_sets_errortrackingsymbolset
                FOR EACH ROW EXECUTE FUNCTION insert_competing_symbol_set();
            """
        )
    response = start(api, tenant, {"chunk_id": "raced"})
    assert_error(response, 409, code="concurrent_upload")
