"""Inputs a hostile or careless client sends: each answers a clear 4xx in PostHog's error shape, never a 500, and
nothing accepted can later break a read."""

from __future__ import annotations

import gzip
import json
import socket
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from environments.models import Team
from evaluations.models import Evaluation
from events.ingestion import MAX_DECOMPRESSED_BYTES, MAX_EVENTS_PER_REQUEST, MAX_PERSON_LINKS_PER_REQUEST
from symbol_sets.models import ErrorTrackingRelease
from tests.support.errors import assert_error
from tests.support.tenants import Tenant


def nested(depth: int, leaf: str = "1") -> str:
    """JSON text of `leaf` inside `depth` arrays (built as text: Python's own encoder cannot go that deep)."""
    return "[" * depth + leaf + "]" * depth


def with_deep(document: dict[str, Any], depth: int, leaf: str = "1") -> str:
    """`document` as JSON with its "DEEP" string replaced by `depth` levels of nesting."""
    return json.dumps(document).replace('"DEEP"', nested(depth, leaf))


# --- 1. numbers that JSON accepts must render on every later read --------------------------------------------

BIG_NUMBERS = [1e22, 2**64, -(10**19), 1.5e300]


@pytest.mark.django_db
class TestBigNumbersRender:
    @pytest.mark.parametrize("number", BIG_NUMBERS)
    def test_release_metadata(self, key_client: Any, tenant: Tenant, number: float) -> None:
        api = key_client("error_tracking:write")
        url = f"/api/environments/{tenant.team.id}/error_tracking/releases/"
        body = json.dumps({"version": "v", "project": "p", "metadata": {"n": number}})
        created = api.post(url, body, content_type="application/json")
        assert created.status_code == 201, created.content
        release_id = created.json()["id"]
        for response in (api.get(f"{url}{release_id}/"), api.get(url)):
            assert response.status_code == 200, response.content
        assert api.get(f"{url}{release_id}/").json()["metadata"]["n"] == pytest.approx(float(number))
        assert ErrorTrackingRelease.objects.get(pk=release_id).metadata["n"] == pytest.approx(float(number))

    @pytest.mark.parametrize("number", BIG_NUMBERS)
    def test_evaluation_condition_value_and_patch(self, key_client: Any, tenant: Tenant, number: float) -> None:
        api = key_client("evaluation:write")
        url = f"/api/environments/{tenant.team.id}/evaluations/"
        body = {"name": "n", "evaluation_type": "llm_judge", "output_type": "boolean",
                "evaluation_config": {"prompt": "p"},
                "conditions": [{"properties": [{"key": "k", "value": number, "operator": "gt"}]}]}  # fmt: skip
        created = api.post(url, json.dumps(body), content_type="application/json")
        assert created.status_code == 201, created.content
        evaluation_id = created.json()["id"]
        assert api.get(url).status_code == 200
        assert api.get(f"{url}{evaluation_id}/").status_code == 200
        deleted = api.patch(f"{url}{evaluation_id}/", {"deleted": True}, format="json")
        assert deleted.status_code == 200, deleted.content
        assert Evaluation.objects.get(pk=evaluation_id).deleted is True

    def test_event_properties(self, key_client: Any, tenant: Tenant) -> None:
        batch = {"api_key": tenant.team.api_token,
                 "batch": [{"event": "big", "distinct_id": "d", "properties": {"n": 10**22, "m": 1.5e300}}]}  # fmt: skip
        assert Client().post("/batch/", json.dumps(batch), content_type="application/json").status_code == 200
        listed = key_client("query:read").get(f"/api/environments/{tenant.team.id}/events/")
        assert listed.status_code == 200
        assert listed.json()["results"][0]["properties"]["n"] == pytest.approx(1e22)


# --- 2. one nesting limit -----------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestDeepNesting:
    @pytest.mark.parametrize("depth", [300, 1100, 5000])
    @pytest.mark.parametrize("token", ["none", "invalid", "valid"])
    def test_capture(self, tenant: Tenant, depth: int, token: str) -> None:
        payload: dict[str, Any] = {"batch": [{"event": "e", "distinct_id": "d", "properties": {"x": "DEEP"}}]}
        if token != "none":
            payload["api_key"] = tenant.team.api_token if token == "valid" else "phc_nope"
        response = Client().post("/batch/", with_deep(payload, depth), content_type="application/json")
        body = assert_error(response, 400, code="nested_too_deeply")
        assert "254" in body["detail"]

    def test_capture_form_data(self, tenant: Tenant) -> None:
        data = with_deep({"api_key": tenant.team.api_token, "event": "e", "distinct_id": "d",
                          "properties": {"x": "DEEP"}}, 2000)  # fmt: skip
        response = Client().post("/e/", urlencode({"data": data}), content_type="application/x-www-form-urlencoded")
        assert_error(response, 400, code="nested_too_deeply")

    def test_just_under_the_limit_is_stored(self, tenant: Tenant) -> None:
        payload = {"api_key": tenant.team.api_token, "event": "e", "distinct_id": "d", "properties": {"x": "DEEP"}}
        response = Client().post("/batch/", with_deep(payload, 240), content_type="application/json")
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize("field", ["evaluation_config", "conditions", "output_config"])
    def test_api_json_fields(self, key_client: Any, tenant: Tenant, field: str) -> None:
        body = {"name": "n", "evaluation_type": "llm_judge", "output_type": "boolean",
                "evaluation_config": {"prompt": "p"}, field: {"x": "DEEP"}}  # fmt: skip
        response = key_client("evaluation:write").post(
            f"/api/environments/{tenant.team.id}/evaluations/", with_deep(body, 400), content_type="application/json"
        )
        assert assert_error(response, 400, code="nested_too_deeply")["type"] == "invalid_request"  # the client's fault

    @pytest.mark.parametrize("depth", [400, 1000, 3000])
    def test_login_without_credentials(self, depth: int) -> None:
        body = with_deep({"email": "DEEP", "password": "x"}, depth, '"a@b.c"')
        assert_error(Client().post("/api/login", body, content_type="application/json"), 400, code="nested_too_deeply")

    def test_release_metadata(self, key_client: Any, tenant: Tenant) -> None:
        body = with_deep({"version": "v", "project": "p", "metadata": {"x": "DEEP"}}, 500)
        response = key_client("error_tracking:write").post(
            f"/api/environments/{tenant.team.id}/error_tracking/releases/", body, content_type="application/json"
        )
        assert_error(response, 400, code="nested_too_deeply")


# --- 3. oversized form and multipart bodies -----------------------------------------------------------------------


@pytest.mark.django_db
class TestOversizedForms:
    """The API takes JSON only: a form or multipart body, of any size, is 415 and never parsed."""

    @pytest.mark.parametrize("path", ["/api/login", "/api/projects/", "/api/environments/1/evaluations/"])
    def test_forms_are_415_whatever_their_size(self, settings: Any, path: str) -> None:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
        for body in ("a=" + "x" * 5000, "&".join(f"f{n}=v" for n in range(1500))):
            response = Client().post(path, body, content_type="application/x-www-form-urlencoded")
            assert_error(response, 415, code="unsupported_media_type")
        assert_error(Client().post(path, {f"f{n}": "v" for n in range(1500)}), 415, code="unsupported_media_type")


# --- 4. NUL in query parameters and paths, by one mechanism --------------------------------------------------


@pytest.mark.django_db
class TestNulInRequests:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/environments/{team}/events/?event=a%00b",
            "/api/environments/{team}/events/?distinct_id=%00",
            "/api/environments/{team}/events/?properties=" + json.dumps([{"key": "a\u0000", "value": "v"}]),
            "/api/environments/{team}/events/?properties=" + json.dumps([{"key": "a", "value": "v\u0000"}]),
            "/api/environments/{team}/events/values/?key=%00",
            "/api/environments/{team}/events/values/?key=a&value=%00",
            "/api/environments/{team}/events/values/?key=a&event_name=%00",
            "/api/projects/?search=%00",
            "/api/environments/{team}/error_tracking/releases/hash/%00/",
            "/api/environments/{team}/evaluations/?search=%00",
        ],
    )
    def test_answers_400(self, key_client: Any, tenant: Tenant, path: str) -> None:
        response = key_client("*").get(path.replace("{team}", str(tenant.team.id)))
        body = assert_error(response, 400, code="null_characters_not_allowed")
        assert body["type"] == "validation_error"

    def test_without_credentials_too(self) -> None:
        assert_error(Client().get("/api/projects/?search=%00"), 400, code="null_characters_not_allowed")

    def test_capture_query_string(self, tenant: Tenant) -> None:
        response = Client().get(f"/e/?data=%00&api_key={tenant.team.api_token}")
        assert response.status_code == 400


# --- 5. a key scoped to one organization cannot create projects in another ---------------------------------------


@pytest.mark.django_db
def test_org_scoped_key_cannot_create_a_project_in_another_org(key_client: Any, tenant: Tenant) -> None:
    from environments import services

    other = services.organization_create(name="Other", owner=tenant.user)
    tenant.user.refresh_from_db()
    current = tenant.user.current_organization_id
    scoped_to = other.id if current == tenant.organization.id else tenant.organization.id  # not the current one
    api = key_client("*", scoped_organizations=[str(scoped_to)])
    before = Team.objects.count()
    response = api.post("/api/projects/", {"name": "Sneaky"}, format="json")
    body = assert_error(response, 403, code="permission_denied")
    assert body["detail"] == f"API key does not have access to the requested organization: ID {current}."
    assert Team.objects.count() == before


# --- 6. one project per batch ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_with_two_projects_tokens_is_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    from events.models import Event

    batch = {"batch": [
        {"event": "a", "distinct_id": "d", "properties": {"token": tenant.team.api_token}},
        {"event": "b", "distinct_id": "d", "properties": {"token": other_tenant.team.api_token}},
    ]}  # fmt: skip
    response = Client().post("/batch/", json.dumps(batch), content_type="application/json")
    assert_error(response, 400, code="multiple_tokens")
    assert Event.objects.count() == 0


# --- 12. chunked bodies -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/batch/", "/api/login"])
def test_a_chunked_body_without_a_length_is_411_not_read_as_empty(live_server: Any, path: str) -> None:
    host, port = live_server.url.removeprefix("http://").split(":")
    body = b'{"event": "e"}'
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len(body):x}\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request + body + b"\r\n0\r\n\r\n")  # all of it at once: the answer comes unread
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, answer = received.partition(b"\r\n\r\n")
    assert head.split()[1] == b"411"
    assert json.loads(answer) == {
        "type": "invalid_request", "code": "length_required",
        "detail": "Send the body with a Content-Length; chunked bodies are not accepted.", "attr": None,
    }  # fmt: skip


# --- 9. caps -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_evaluation_description_is_capped(key_client: Any, tenant: Tenant) -> None:
    body = {"name": "n", "evaluation_type": "llm_judge", "output_type": "boolean",
            "evaluation_config": {"prompt": "p"}, "description": "d" * 10_001}  # fmt: skip
    response = key_client("evaluation:write").post(f"/api/environments/{tenant.team.id}/evaluations/", body,
                                                   format="json")  # fmt: skip
    body_ = assert_error(response, 400, code="max_length")
    assert body_["attr"] == "description"


@pytest.mark.django_db
def test_projects_per_organization_are_capped(key_client: Any, tenant: Tenant, settings: Any) -> None:
    settings.MAX_PROJECTS_PER_ORGANIZATION = 2
    api = key_client("*")
    assert api.post("/api/projects/", {"name": "Second"}, format="json").status_code == 201
    response = api.post("/api/projects/", {"name": "Third"}, format="json")
    body = assert_error(response, 400, code="project_limit_reached")
    assert body["detail"] == "An organization may have at most 2 projects."
    assert Team.objects.filter(organization=tenant.organization).count() == 2


# --- 8. bounded work per request -----------------------------------------------------------------------------


@pytest.mark.django_db
class TestBoundedWork:
    def post(self, payload: Any) -> Any:
        return Client().post("/batch/", json.dumps(payload), content_type="application/json")

    def test_too_many_events(self, tenant: Tenant) -> None:
        events = [{"event": "e", "distinct_id": "d"} for _ in range(MAX_EVENTS_PER_REQUEST + 1)]
        body = assert_error(self.post({"api_key": tenant.team.api_token, "batch": events}), 413, code="too_many_events")
        assert "10,000" in body["detail"]

    def test_a_chain_of_identifies(self, tenant: Tenant) -> None:
        from events.models import Event

        chain = [{"event": "$identify", "distinct_id": f"user-{n + 1}", "properties": {"$anon_distinct_id": f"user-{n}"}}
                 for n in range(MAX_PERSON_LINKS_PER_REQUEST + 1)]  # fmt: skip
        assert_error(self.post({"api_key": tenant.team.api_token, "batch": chain}), 400, code="too_many_person_links")
        assert not Event.objects.exists()
        allowed = self.post({"api_key": tenant.team.api_token, "batch": chain[:MAX_PERSON_LINKS_PER_REQUEST]})
        assert allowed.status_code == 200

    def test_inflating_past_the_body_limit(self, tenant: Tenant) -> None:
        bomb = gzip.compress(b"[" + b" " * (MAX_DECOMPRESSED_BYTES + 10) + b"]")
        response = Client().post("/batch/", bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
        body = assert_error(response, 413, code="payload_too_large")
        assert "20 MiB" in body["detail"]
