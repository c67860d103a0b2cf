"""The capture endpoints, as PostHog's SDKs call them: payload forms, tokens, bad input and timestamps."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from events.ingestion import MAX_DECOMPRESSED_BYTES
from events.records import StoredEvent
from tests.events.helpers import stored_events
from tests.support.errors import ERROR_KEYS
from tests.support.tenants import Tenant

pytestmark = pytest.mark.usefixtures("events_backend")


@pytest.fixture
def raw() -> Client:
    return Client()


@pytest.fixture
def token(tenant: Tenant) -> str:
    return tenant.team.api_token


def post_json(raw: Client, path: str, body: Any, **extra: Any) -> Any:
    return raw.post(path, json.dumps(body), content_type="application/json", **extra)


def stored(tenant: Tenant) -> list[StoredEvent]:
    return stored_events(tenant.team)


# --- bad input -------------------------------------------------------------------------------------------


class TestBadInput:
    def test_missing_token_is_401(self, raw: Client, tenant: Tenant) -> None:
        response = post_json(raw, "/batch/", {"batch": [{"event": "x", "distinct_id": "d"}]})
        assert response.status_code == 401
        assert response.json()["code"] == "missing_api_key"
        assert response.json()["type"] == "authentication_error"
        assert stored(tenant) == []

    def test_unknown_token_is_401(self, raw: Client, tenant: Tenant) -> None:
        response = post_json(raw, "/batch/", {"api_key": "phc_nope", "batch": [{"event": "x", "distinct_id": "d"}]})
        assert response.status_code == 401
        assert response.json() == {
            "type": "authentication_error",
            "code": "invalid_api_key",
            "detail": "Project API key invalid. You can find your project API key in your PostHog project settings.",
            "attr": None,
        }

    @pytest.mark.parametrize(
        ("body", "content_type", "path"),
        [
            (b'{"api_key": "x", "batch": [', "application/json", "/batch/"),
            (b"", "application/json", "/batch/"),
            (b"\x1f\x8bnot really gzip", "application/json", "/batch/"),
            (b"data=%%%not-base64", "application/x-www-form-urlencoded", "/e/"),
            (b'"just a string"', "application/json", "/capture/"),
            (b'{"api_key": "k", "batch": {"event": "x"}}', "application/json", "/batch/"),
        ],
    )
    def test_malformed_payloads_are_400(
        self, raw: Client, token: str, body: bytes, content_type: str, path: str
    ) -> None:
        response = raw.post(path, body, content_type=content_type)
        assert response.status_code == 400, response.content
        assert set(response.json()) == ERROR_KEYS
        assert response.json()["code"] == "invalid_payload"

    def test_lz64_is_refused_clearly(self, raw: Client, token: str) -> None:
        response = raw.post("/e/?compression=lz64", b"whatever", content_type="text/plain")
        assert response.status_code == 400
        assert "Unsupported compression: lz64" in response.json()["detail"]

    def test_decompression_bomb_is_413(self, raw: Client, token: str) -> None:
        bomb = gzip.compress(b"[" + b" " * (MAX_DECOMPRESSED_BYTES + 10) + b"]")
        response = raw.post("/batch/", bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 413

    def test_other_methods_are_405(self, raw: Client) -> None:
        assert raw.put("/batch/", b"{}", content_type="application/json").status_code == 405

    @pytest.mark.parametrize(
        ("event", "attr", "detail"),
        [
            ({"distinct_id": "d"}, "event", "The event name is missing."),
            ({"event": "  ", "distinct_id": "d"}, "event", "The event name is missing."),
            ({"event": "x"}, "distinct_id", "The distinct_id is missing."),
            ({"event": "x", "distinct_id": {"an": "object"}}, "distinct_id", "The distinct_id is missing."),
            ({"event": "x", "distinct_id": "d", "timestamp": "yesterday-ish"}, "timestamp",
             "'yesterday-ish' is not an ISO 8601 date-time."),
            ({"event": "x", "distinct_id": "d", "uuid": "not-a-uuid"}, "uuid", "'not-a-uuid' is not a valid UUID."),
            ({"event": "x", "distinct_id": "d", "properties": ["a"]}, "properties",
             "properties must be a JSON object."),
            ({"event": "x", "distinct_id": "d", "offset": "soon"}, "offset", "must be a number of milliseconds."),
        ],
    )  # fmt: skip
    def test_a_bad_single_event_is_400_with_its_field(
        self, raw: Client, tenant: Tenant, token: str, event: dict, attr: str, detail: str
    ) -> None:
        response = post_json(raw, "/capture/", {"api_key": token, **event})
        assert response.status_code == 400
        assert response.json() == {"type": "validation_error", "code": "invalid_event", "detail": detail, "attr": attr}
        assert stored(tenant) == []

    def test_a_batch_keeps_its_good_events_and_names_the_bad_ones(
        self, raw: Client, tenant: Tenant, token: str
    ) -> None:
        batch = [
            {"event": "good-1", "distinct_id": "d"},
            {"distinct_id": "d"},
            {"event": "good-2", "distinct_id": "d", "timestamp": "2026-11-01T00:00:00Z"},
            {"event": "bad-time", "distinct_id": "d", "timestamp": "nope"},
        ]
        response = post_json(raw, "/batch/", {"api_key": token, "batch": batch})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == 1
        assert [(r["index"], r["attr"]) for r in body["rejected"]] == [
            (1, "batch__1__event"),
            (3, "batch__3__timestamp"),
        ]
        assert all(r["code"] == "invalid_event" for r in body["rejected"])
        assert sorted(e.event for e in stored(tenant)) == ["good-1", "good-2"]

    def test_a_batch_of_only_bad_events_is_400(self, raw: Client, tenant: Tenant, token: str) -> None:
        response = post_json(raw, "/batch/", {"api_key": token, "batch": [{"distinct_id": "d"}, 5]})
        assert response.status_code == 400
        assert response.json()["attr"] == "batch__0__event"
        assert stored(tenant) == []

    def test_top_level_set_beside_a_malformed_properties_set(self, raw: Client, tenant: Tenant, token: str) -> None:
        event = {"event": "x", "distinct_id": "d", "$set": {"plan": "pro"}, "properties": {"$set": "not a dict"}}
        assert post_json(raw, "/capture/", {"api_key": token, **event}).status_code == 200
        assert stored(tenant)[0].properties == {"$set": {"plan": "pro"}}

    def test_nul_characters_and_nan_do_not_break_storage(self, raw: Client, tenant: Tenant, token: str) -> None:
        # Written by hand: NaN and a lone surrogate are not something json.dumps would produce.
        body = (
            '{"api_key": "' + token + '", "batch": [{"event": "x\\u0000y", "distinct_id": "d", '
            '"properties": {"n": NaN, "s": "a\\u0000b", "lone": "\\ud800", "big": 123456789012345678901234567890}}]}'
        )
        response = raw.post("/batch/", body.encode(), content_type="application/json")
        assert response.status_code == 200, response.content
        [event] = stored(tenant)
        assert event.event == "x\ufffdy"
        big = event.properties.pop("big")
        assert event.properties == {"n": None, "s": "a\ufffdb", "lone": "\ufffd"}
        assert float(big) == 1.2345678901234568e29  # past 64 bits: kept as a number, at float precision


# --- payload forms ----------------------------------------------------------------------------------------


class TestPayloadForms:
    def test_python_sdk_batch(self, raw: Client, tenant: Tenant, token: str) -> None:
        event_uuid = str(uuid.uuid4())
        body = {
            "api_key": token,
            "batch": [{"event": "signed up", "distinct_id": "u1", "properties": {"plan": "pro"},
                       "timestamp": "2026-11-01T10:00:00+00:00", "uuid": event_uuid, "type": "capture"}],
            "sent_at": "2026-11-01T10:00:00+00:00",
        }  # fmt: skip
        response = post_json(raw, "/batch/", body)
        assert response.status_code == 200
        assert response.json() == {"status": 1}
        [event] = stored(tenant)
        assert (str(event.uuid), event.event, event.distinct_id) == (event_uuid, "signed up", "u1")
        assert event.properties == {"plan": "pro"}

    @pytest.mark.parametrize("path", ["/batch/", "/batch", "/capture/", "/e/", "/e", "/i/v0/e/", "/track/"])
    def test_every_capture_path_takes_a_single_event_and_a_list(
        self, raw: Client, tenant: Tenant, token: str, path: str
    ) -> None:
        assert post_json(raw, path, {"event": "one", "distinct_id": "d", "api_key": token}).status_code == 200
        listed = [{"event": "two", "properties": {"distinct_id": "d", "token": token}}]
        assert post_json(raw, path, listed).status_code == 200
        assert sorted(e.event for e in stored(tenant)) == ["one", "two"]

    def test_gzip_content_encoding(self, raw: Client, tenant: Tenant, token: str) -> None:
        body = gzip.compress(json.dumps({"api_key": token, "batch": [{"event": "z", "distinct_id": "d"}]}).encode())
        response = raw.post("/batch/", body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 200
        assert [e.event for e in stored(tenant)] == ["z"]

    def test_gzip_js_query_parameter(self, raw: Client, tenant: Tenant, token: str) -> None:
        body = gzip.compress(json.dumps([{"event": "js", "properties": {"distinct_id": "d", "token": token}}]).encode())
        response = raw.post("/e/?compression=gzip-js&ver=1.200.0", body, content_type="text/plain")
        assert response.status_code == 200
        assert [e.event for e in stored(tenant)] == ["js"]

    @pytest.mark.parametrize("urlsafe", [False, True])
    def test_posthog_js_form_with_base64_data(self, raw: Client, tenant: Tenant, token: str, urlsafe: bool) -> None:
        payload = json.dumps({"event": "form", "properties": {"distinct_id": "d", "token": token, "q": "??>>"}})
        encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
        data = encode(payload.encode()).decode()
        from urllib.parse import urlencode

        response = raw.post("/e/", urlencode({"data": data}), content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200, response.content
        assert [e.properties["q"] for e in stored(tenant)] == ["??>>"]

    def test_form_with_plain_json_data_and_get_beacon(self, raw: Client, tenant: Tenant, token: str) -> None:
        from urllib.parse import urlencode

        data = json.dumps({"event": "plain", "properties": {"distinct_id": "d", "token": token}})
        assert (
            raw.post("/e/", urlencode({"data": data}), content_type="application/x-www-form-urlencoded").status_code
            == 200
        )
        beacon = base64.b64encode(
            json.dumps({"event": "beacon", "properties": {"distinct_id": "d", "token": token}}).encode()
        )
        assert raw.get("/e/", {"data": beacon.decode()}).status_code == 200
        assert sorted(e.event for e in stored(tenant)) == ["beacon", "plain"]

    def test_cors_preflight_for_browsers(self, raw: Client) -> None:
        response = raw.options("/e/", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "*"

    def test_autocapture_elements_become_a_chain(self, raw: Client, tenant: Tenant, token: str) -> None:
        elements = [
            {"tag_name": "button", "$el_text": "Buy", "attr__class": "btn primary", "nth_child": 2, "nth_of_type": 1},
            {"tag_name": "form", "attr__id": "checkout"},
        ]
        event = {
            "event": "$autocapture",
            "distinct_id": "d",
            "properties": {"$elements": elements, "$event_type": "click"},
        }
        assert post_json(raw, "/capture/", {"api_key": token, **event}).status_code == 200
        [stored_event] = stored(tenant)
        assert stored_event.elements_chain == (
            'button.btn.primary:attr__class="btn primary"nth-child="2"nth-of-type="1"text="Buy";'
            'form:attr__id="checkout"attr_id="checkout"nth-child="0"nth-of-type="0"'
        )
        assert "$elements" not in stored_event.properties

    def test_elements_chain_property_is_taken_as_is(self, raw: Client, tenant: Tenant, token: str) -> None:
        chain = 'a.link:href="/x"nth-child="1"nth-of-type="1"text="Go"'
        event = {"event": "$autocapture", "distinct_id": "d", "properties": {"$elements_chain": chain}}
        assert post_json(raw, "/capture/", {"api_key": token, **event}).status_code == 200
        assert stored(tenant)[0].elements_chain == chain

    def test_duplicate_uuids_are_stored_once(self, raw: Client, tenant: Tenant, token: str) -> None:
        event_uuid = str(uuid.uuid4())
        event = {"event": "dup", "distinct_id": "d", "uuid": event_uuid}
        assert post_json(raw, "/batch/", {"api_key": token, "batch": [event, event]}).status_code == 200
        assert post_json(raw, "/batch/", {"api_key": token, "batch": [event]}).status_code == 200
        assert len(stored(tenant)) == 1

    def test_the_same_uuid_in_two_projects_is_two_events(
        self, raw: Client, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        event = {"event": "shared", "distinct_id": "d", "uuid": str(uuid.uuid4())}
        for team in (tenant.team, other_tenant.team):
            assert post_json(raw, "/batch/", {"api_key": team.api_token, "batch": [event]}).status_code == 200
        for team in (tenant.team, other_tenant.team):
            assert [str(e.uuid) for e in stored_events(team)] == [event["uuid"]]

    def test_first_event_marks_the_project_as_ingesting(self, raw: Client, tenant: Tenant, token: str) -> None:
        assert tenant.team.ingested_event is False
        post_json(raw, "/batch/", {"api_key": token, "batch": [{"event": "x", "distinct_id": "d"}]})
        tenant.team.refresh_from_db()
        assert tenant.team.ingested_event is True


# --- timestamps ---------------------------------------------------------------------------------------------


def _captured_at(raw: Client, tenant: Tenant, token: str, event: dict[str, Any], **payload: Any) -> datetime:
    response = post_json(raw, "/batch/", {"api_key": token, "batch": [{"distinct_id": "d", "event": "t", **event}],
                                          **payload})  # fmt: skip
    assert response.status_code == 200, response.content
    return stored(tenant)[-1].timestamp


class TestTimestamps:
    def test_sent_at_corrects_the_clients_clock(self, raw: Client, tenant: Tenant, token: str) -> None:
        # The client's clock runs 1 hour behind: it stamped the event 10 minutes before it sent it.
        now = datetime.now(UTC)
        client_now = now - timedelta(hours=1)
        event_time = client_now - timedelta(minutes=10)
        stamped = _captured_at(
            raw, tenant, token, {"timestamp": event_time.isoformat()}, sent_at=client_now.isoformat()
        )
        assert abs(stamped - (now - timedelta(minutes=10))) < timedelta(seconds=30)

    def test_ignore_sent_at_keeps_the_timestamp(self, raw: Client, tenant: Tenant, token: str) -> None:
        stamped = _captured_at(
            raw, tenant, token,
            {"timestamp": "2026-01-01T00:00:00Z", "properties": {"$ignore_sent_at": True}},
            sent_at="2020-01-01T00:00:00Z",
        )  # fmt: skip
        assert stamped == datetime(2026, 1, 1, tzinfo=UTC)

    def test_offset_is_milliseconds_before_now(self, raw: Client, tenant: Tenant, token: str) -> None:
        stamped = _captured_at(raw, tenant, token, {"offset": 60_000})
        assert abs(stamped - (datetime.now(UTC) - timedelta(minutes=1))) < timedelta(seconds=30)

    def test_missing_timestamp_is_now(self, raw: Client, tenant: Tenant, token: str) -> None:
        assert abs(_captured_at(raw, tenant, token, {}) - datetime.now(UTC)) < timedelta(seconds=30)

    def test_naive_timestamp_is_utc(self, raw: Client, tenant: Tenant, token: str) -> None:
        assert _captured_at(raw, tenant, token, {"timestamp": "2026-02-03T04:05:06.789"}) == datetime(
            2026, 2, 3, 4, 5, 6, 789000, tzinfo=UTC
        )

    def test_far_future_timestamp_becomes_now(self, raw: Client, tenant: Tenant, token: str) -> None:
        future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        assert abs(_captured_at(raw, tenant, token, {"timestamp": future}) - datetime.now(UTC)) < timedelta(seconds=30)
