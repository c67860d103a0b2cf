from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from posthog_clone.object_storage import get_object_storage
from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet
from tests.api_base import TeamScopedAPITests
from tests.support.errors import assert_error
from tests.support.tenants import Tenant
from tests.symbol_sets.helpers import make_release, make_symbol_set, start, upload


def url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/projects/{tenant.team.id}/error_tracking/releases/{suffix}"


class TestReleasesAccess(TeamScopedAPITests):
    resource = "error_tracking/releases"
    scope_object = "error_tracking"

    def make_object(self, tenant: Tenant) -> ErrorTrackingRelease:
        return make_release(tenant)

    def create_payload(self) -> dict[str, Any]:
        return {"version": "1.0.0", "project": "web"}

    def update_payload(self) -> dict[str, Any]:
        return {"version": "1.0.1", "metadata": {"git": {"branch": "main"}}}


class TestCreate:
    def test_full_release(self, api: APIClient, tenant: Tenant) -> None:
        body = {"hash_id": "abc", "version": "2.0.0", "project": "web", "metadata": {"git": {"commit_id": "c0ffee"}}}
        response = api.post(url(tenant), body, format="json")
        assert response.status_code == 201, response.content
        release = ErrorTrackingRelease.objects.get()
        assert response.json() == {
            "id": str(release.id),
            "hash_id": "abc",
            "team_id": tenant.team.id,
            "created_at": response.json()["created_at"],
            "metadata": {"git": {"commit_id": "c0ffee"}},
            "version": "2.0.0",
            "project": "web",
        }

    @pytest.mark.parametrize("hash_id", [None, ""])
    def test_hash_id_defaults_to_the_release_id(self, api: APIClient, tenant: Tenant, hash_id: str | None) -> None:
        body = {"version": "1", "project": "web", **({} if hash_id is None else {"hash_id": hash_id})}
        created = api.post(url(tenant), body, format="json").json()
        assert created["hash_id"] == created["id"]

    @pytest.mark.parametrize(
        ("body", "attr", "detail"),
        [
            ({"project": "web"}, "version", "Version is required"),
            ({"version": "", "project": "web"}, "version", "Version is required"),
            ({"version": "1"}, "project", "Project is required"),
            ({"version": "1", "project": None}, "project", "Project is required"),
            (
                {"version": "1", "project": "web", "hash_id": "h" * 129},
                "hash_id",
                "Hash id length cannot exceed 128 bytes",
            ),
            (
                {"version": "1", "project": "web", "hash_id": "é" * 65},
                "hash_id",
                "Hash id length cannot exceed 128 bytes",
            ),
            ({"version": "1", "project": "web", "hash_id": "a\x00"}, "hash_id", None),
            ({"version": "1", "project": "web", "metadata": {"k": "a\x00"}}, "metadata", None),
            ({"version": "1", "project": "web", "metadata": {"a\x00": 1}}, "metadata", None),
        ],
    )
    def test_invalid(self, api: APIClient, tenant: Tenant, body: dict, attr: str, detail: str | None) -> None:
        response = api.post(url(tenant), body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["attr"] == attr
        if detail is not None:
            assert response.json()["detail"] == detail
        assert not ErrorTrackingRelease.objects.exists()

    def test_hash_id_is_unique_per_project(self, api: APIClient, tenant: Tenant, other_tenant: Tenant) -> None:
        make_release(other_tenant, hash_id="shared")
        first = api.post(url(tenant), {"hash_id": "shared", "version": "1", "project": "p"}, format="json")
        assert first.status_code == 201
        again = api.post(url(tenant), {"hash_id": "shared", "version": "2", "project": "p"}, format="json")
        assert_error(again, code="invalid_input", detail="Hash id shared already in use", attr="hash_id")

    def test_update_to_an_empty_hash_id_uses_the_release_id(self, api: APIClient, tenant: Tenant) -> None:
        mine = make_release(tenant, hash_id="mine")
        response = api.patch(url(tenant, f"{mine.id}/"), {"hash_id": ""}, format="json")
        assert response.json()["hash_id"] == str(mine.id)

    def test_update_to_a_used_hash_id(self, api: APIClient, tenant: Tenant) -> None:
        make_release(tenant, "1.0.0", hash_id="taken")
        mine = make_release(tenant, "2.0.0", hash_id="mine")
        response = api.patch(url(tenant, f"{mine.id}/"), {"hash_id": "taken"}, format="json")
        assert_error(response, code="invalid_input", detail="Hash id taken already in use", attr="hash_id")
        mine.refresh_from_db()
        assert mine.hash_id == "mine"


class TestByHash:
    def test_found_and_not_found(self, key_client: Any, tenant: Tenant, other_tenant: Tenant) -> None:
        reader = key_client("error_tracking:read")
        mine = make_release(tenant, hash_id="a1b2")
        make_release(other_tenant, hash_id="theirs")

        found = reader.get(url(tenant, "hash/a1b2"))
        assert found.status_code == 200
        assert found.json()["id"] == str(mine.id)
        for missing in ["hash/nope", "hash/theirs"]:
            assert_error(reader.get(url(tenant, missing)), 404, code="not_found")

    def test_hash_ids_may_hold_dots(self, key_client: Any, tenant: Tenant) -> None:
        release = make_release(tenant, hash_id="web@1.2.3")  # a version used as the hash id
        found = key_client("error_tracking:read").get(url(tenant, "hash/web@1.2.3"))
        assert found.status_code == 200
        assert found.json()["id"] == str(release.id)

    def test_needs_read_scope(self, key_client: Any, tenant: Tenant) -> None:
        make_release(tenant, hash_id="a1b2")
        response = key_client("user:read").get(url(tenant, "hash/a1b2"))
        assert_error(
            response, 403, code="permission_denied", detail="API key missing required scope 'error_tracking:read'"
        )


def test_delete_takes_its_symbol_sets_and_their_objects(
    api: APIClient, tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    release = make_release(tenant)
    entry = start(api, tenant, {"chunk_id": "chunk", "release_id": str(release.id)}).json()["id_map"]["chunk"]
    upload(entry, b"bytes")
    unrelated = make_symbol_set(tenant, "unrelated")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(url(tenant, f"{release.id}/"))

    assert response.status_code == 204
    assert list(ErrorTrackingSymbolSet.objects.all()) == [unrelated]
    assert get_object_storage().head(entry["presigned_url"]["fields"]["key"]) is None
