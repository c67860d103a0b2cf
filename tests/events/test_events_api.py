"""The events list, retrieve and values endpoints."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from events.records import EventInput
from tests.api_base import TeamScopedReadAPITests
from tests.events.helpers import BASE_TIME, make_event, minutes, store
from tests.support.errors import assert_error
from tests.support.tenants import Tenant

pytestmark = pytest.mark.usefixtures("events_backend")


class TestEventsAccess(TeamScopedReadAPITests):
    resource = "events"
    scope_object = "query"

    def make_object(self, tenant: Tenant) -> EventInput:
        return store(tenant.team, make_event())[0]

    def object_id(self, obj: EventInput) -> str:
        return str(obj.uuid)


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("query:read")


@pytest.fixture
def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/events/"


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [event["event"] for event in response.json()["results"]]


class TestBadParameters:
    @pytest.mark.parametrize(
        ("params", "attr"),
        [
            ({"limit": "ten"}, "limit"),
            ({"limit": "0"}, "limit"),
            ({"limit": "-5"}, "limit"),
            ({"limit": "--5"}, "limit"),
            ({"before": "-99999999999d"}, "before"),
            ({"after": "-9999999y"}, "after"),
            ({"before": "9999-12-31T23:00:00Z"}, "before"),
            (
                {"properties": '[{"key": "a", "value": "-1000000m", "operator": "is_date_after"}]'},
                "properties__0__value",
            ),
            ({"offset": "x"}, "offset"),
            ({"before": "next tuesday"}, "before"),
            ({"after": "2024-13-45"}, "after"),
            ({"before": "2024-01-01", "before_uuid": "nope"}, "before_uuid"),
            ({"after_uuid": "nope"}, "after_uuid"),
            ({"event": ["a", "b"]}, "event"),
            ({"limit": str(2**62 + 1)}, "limit"),
            ({"orderBy": '["-event"]'}, "orderBy"),
            ({"orderBy": "timestamp"}, None),
            ({"properties": '[{"key": "a", "value": 1, "operator": "nearly"}]'}, "properties__0__operator"),
            ({"properties": '[{"key": "a", "value": 1, "type": "cohort"}]'}, "properties__0__type"),
            ({"properties": '[{"key": "a", "value": "(", "operator": "regex"}]'}, "properties__0__value"),
            ({"select": '"event"'}, "select"),
            ({"where": "[1]"}, "where"),
            ({"select": '["event"]', "orderBy": '"-timestamp"'}, "orderBy"),
        ],
    )
    def test_bad_parameters_are_400(self, api: APIClient, url: str, tenant: Tenant, params: dict, attr: str) -> None:
        store(tenant.team, make_event(properties={"a": "x"}))
        assert_error(api.get(url, params), type="validation_error", attr=attr)

    # Each bad parameter's whole answer; with several, the first in the order they are read answers alone.
    @pytest.mark.parametrize(
        ("params", "type_", "code", "attr", "detail"),
        [
            ({"limit": "1.5"}, "validation_error", "invalid_input", "limit",
             "A whole number of at least 1 is required."),
            ({"offset": "-1"}, "validation_error", "invalid_input", "offset",
             "A whole number of at least 0 is required."),
            ({"before_uuid": "nope"}, "validation_error", "invalid_input", "before_uuid",
             "'nope' is not a valid UUID."),
            ({"properties": "[{"}, "validation_error", "invalid_input", None,
             "Properties are unparsable!"),
            ({"properties": "[{\"key\": \"a\\u0000\", \"value\": 1}]"}, "validation_error", "null_characters_not_allowed", "properties",
             "The character U+0000 is not allowed."),
            ({"orderBy": "timestamp"}, "validation_error", "invalid_input", None,
             "orderBy is not valid JSON."),
            ({"orderBy": "[1]", "select": "[\"event\"]"}, "validation_error", "invalid_input", "orderBy",
             "orderBy must be a JSON list of HogQL expressions, `-` first for descending."),
            ({"select": "[\" \"]"}, "validation_error", "invalid_input", "select",
             "select must be a JSON list of HogQL expressions."),
            ({"select": "{"}, "validation_error", "invalid_input", None,
             "select is not valid JSON."),
            ({"select": "[\"\\u0000\"]"}, "validation_error", "null_characters_not_allowed", "select",
             "The character U+0000 is not allowed."),
            ({"where": "nope"}, "validation_error", "invalid_input", None,
             "where is not valid JSON."),
            ({"distinct_id": ["a", "b"]}, "validation_error", "invalid_input", "distinct_id",
             "distinct_id may be given once."),
            ({"include_person": ["1", "0"]}, "validation_error", "invalid_input", "include_person",
             "include_person may be given once."),
            ({"format": ["json", "json"]}, "validation_error", "invalid_input", "format",
             "format may be given once."),
            ({"limit": "x", "select": "\"e\""}, "validation_error", "invalid_input", "select",
             "select must be a JSON list of HogQL expressions."),
            ({"limit": "x", "offset": "y"}, "validation_error", "invalid_input", "limit",
             "A whole number of at least 1 is required."),
            ({"offset": "y", "orderBy": "z"}, "validation_error", "invalid_input", "offset",
             "A whole number of at least 0 is required."),
            ({"orderBy": "[\"x\"]", "properties": "[{"}, "validation_error", "invalid_input", "orderBy",
             "orderBy must be [\"-timestamp\"] or [\"timestamp\"]."),
            ({"before": "nope", "properties": "[{"}, "validation_error", "invalid_input", None,
             "Properties are unparsable!"),
            ({"after": "nope", "before": "nope"}, "validation_error", "invalid_input", "before",
             "'nope' is not an ISO 8601 date-time or a relative date such as -7d."),
            ({"after": "nope", "before_uuid": "nope"}, "validation_error", "invalid_input", "after",
             "'nope' is not an ISO 8601 date-time or a relative date such as -7d."),
            ({"after_uuid": "nope", "before_uuid": "nope"}, "validation_error", "invalid_input", "before_uuid",
             "'nope' is not a valid UUID."),
            ({"limit": "x", "where": "[1]"}, "validation_error", "invalid_input", "where",
             "where must be a JSON list of HogQL expressions."),
            ({"event": ["a", "b"], "limit": "x"}, "validation_error", "invalid_input", "event",
             "event may be given once."),
            ({"limit": "x", "properties": "[" * 300 + "]" * 300}, "validation_error", "invalid_input", "limit",
             "A whole number of at least 1 is required."),
            ({"before": "x", "select": "[\"event\"]", "where": "[\"nope = 1\"]"}, "validation_error", "invalid_input", "before",
             "'x' is not an ISO 8601 date-time or a relative date such as -7d."),
        ],
    )  # fmt: skip
    def test_the_first_bad_parameter_answers_exactly(self, api: APIClient, url: str, params: dict, type_: str,
                                                     code: str, attr: str | None, detail: str) -> None:  # fmt: skip
        assert_error(api.get(url, params), type=type_, code=code, attr=attr, detail=detail)

    @pytest.mark.parametrize("name", ["limit", "offset", "before", "before_uuid", "properties", "orderBy", "select",
                                      "where", "event", "person_id"])  # fmt: skip
    def test_an_empty_parameter_is_absent(self, api: APIClient, url: str, tenant: Tenant, name: str) -> None:
        store(tenant.team, make_event())
        assert len(api.get(url, {name: ""}).json()["results"]) == 1

    @pytest.mark.parametrize(
        ("levels", "detail"),
        [
            (30, "Property groups nest at most 20 levels deep."),
            (400, "JSON nested more than 254 levels deep is not accepted."),  # refused before parsing the filter
        ],
    )
    def test_absurdly_nested_groups_are_400_not_500(self, api: APIClient, url: str, levels: int, detail: str) -> None:
        properties: Any = {"type": "AND", "values": [{"key": "a", "value": 1}]}
        for _ in range(levels):
            properties = {"type": "OR", "values": [properties]}
        response = api.get(url, {"properties": json.dumps(properties)})
        assert response.status_code == 400
        assert response.json()["detail"] == detail

    def test_unparsable_properties(self, api: APIClient, url: str) -> None:
        assert_error(
            api.get(url, {"properties": "[{"}), type="validation_error", attr=None, detail="Properties are unparsable!"
        )

    @pytest.mark.parametrize("pattern", ["a{2,1}", "^((a+)\\2)+$"])  # the second backtracks for minutes in PostgreSQL
    def test_invalid_regex_is_400_even_when_no_event_has_the_property(
        self, api: APIClient, url: str, pattern: str
    ) -> None:
        response = api.get(url, {"properties": json.dumps([{"key": "x", "value": pattern, "operator": "regex"}])})
        assert_error(response, type="validation_error", attr="properties__0__value")
        assert response.json()["detail"].startswith("Invalid regular expression")

    def test_errors_stay_json_when_csv_was_asked_for(self, api: APIClient, url: str) -> None:
        response = api.get(url, {"format": "csv", "limit": "x"})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("application/json")

    def test_retrieve_bad_and_missing_ids(self, api: APIClient, url: str) -> None:
        assert_error(api.get(f"{url}123456/"), type="validation_error", attr="id", detail="Invalid UUID")
        missing = uuid.uuid4()
        response = api.get(f"{url}{missing}/")
        assert response.status_code == 404
        assert response.json()["detail"] == f"No events exist for event UUID {missing}"

    def test_values_needs_a_key(self, api: APIClient, url: str) -> None:
        assert_error(api.get(f"{url}values/"), type="validation_error", attr="key", detail="You must provide a key")

    def test_write_methods_are_405(self, key_client: Any, url: str) -> None:
        assert key_client("query:write").post(url, {}, format="json").status_code == 405


class TestList:
    def test_shape(self, api: APIClient, url: str, tenant: Tenant) -> None:
        chain = 'a.nav:href="/pricing"nth-child="1"nth-of-type="1"text="Pricing"'
        [event] = store(tenant.team, make_event(event="$autocapture", distinct_id="ann", elements_chain=chain,
                                                properties={"$set": {"email": "ann@x.io", "age": 3}}))  # fmt: skip
        body = api.get(url).json()
        assert body["next"] is None
        assert set(body) == {"next", "results"}
        assert body["results"] == [
            {
                "id": str(event.uuid),
                "distinct_id": "ann",
                "properties": {"$set": {"email": "ann@x.io", "age": 3}},
                "event": "$autocapture",
                "timestamp": "2026-11-01T12:00:00+00:00",
                "person": {"is_identified": False, "distinct_ids": ["ann"], "properties": {"email": "ann@x.io"}},
                "elements": [
                    {"event": None, "text": "Pricing", "tag_name": "a", "attr_class": ["nav"], "href": "/pricing",
                     "attr_id": None, "nth_child": 1, "nth_of_type": 1, "attributes": {}, "order": 0}
                ],
                "elements_chain": chain,
            }
        ]  # fmt: skip

    def test_include_person_false(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, make_event())
        assert api.get(url, {"include_person": "false"}).json()["results"][0]["person"] is None

    def test_filters(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(
            tenant.team,
            make_event(event="signup", distinct_id="a", timestamp=minutes(1)),
            make_event(event="login", distinct_id="b", timestamp=minutes(2)),
            make_event(event="signup", distinct_id="b", timestamp=minutes(3)),
        )
        assert names(api.get(url, {"event": "signup"})) == ["signup", "signup"]
        assert [e["distinct_id"] for e in api.get(url, {"distinct_id": "b"}).json()["results"]] == ["b", "b"]
        assert names(api.get(url, {"event": "signup", "distinct_id": "b"})) == ["signup"]
        assert names(api.get(url, {"event": "nothing"})) == []

    def test_person_id_by_integer_or_uuid(self, api: APIClient, url: str, tenant: Tenant) -> None:
        from events.models import PersonDistinctId

        store(
            tenant.team,
            make_event(event="anon", distinct_id="anon-1", timestamp=minutes(1)),
            make_event(event="$identify", distinct_id="u-1", properties={"$anon_distinct_id": "anon-1"},
                       timestamp=minutes(2)),
            make_event(event="other", distinct_id="u-2", timestamp=minutes(3)),
        )  # fmt: skip
        person = PersonDistinctId.objects.get(team=tenant.team, distinct_id="u-1").person
        assert names(api.get(url, {"person_id": person.id})) == ["$identify", "anon"]
        assert names(api.get(url, {"person_id": str(person.uuid)})) == ["$identify", "anon"]
        assert names(api.get(url, {"person_id": "999999"})) == []
        assert names(api.get(url, {"person_id": str(uuid.uuid4())})) == []
        assert names(api.get(url, {"person_id": "not-an-id"})) == []

    def test_before_and_after_are_exclusive(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, *(make_event(event=f"e{n}", timestamp=minutes(n)) for n in range(5)))
        response = api.get(url, {"after": minutes(1).isoformat(), "before": minutes(4).isoformat()})
        assert names(response) == ["e3", "e2"]

    def test_unencoded_plus_in_offsets_is_understood(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(
            tenant.team, make_event(event="early", timestamp=minutes(0)), make_event(event="late", timestamp=minutes(9))
        )
        # `?before=2026-11-01T12:05:00+00:00` typed into a shell arrives with a space instead of the plus.
        assert names(api.get(f"{url}?before=2026-11-01T12:05:00+00:00")) == ["early"]

    def test_relative_dates(self, api: APIClient, url: str, tenant: Tenant) -> None:
        now = datetime.now(UTC)
        store(
            tenant.team,
            make_event(event="5 days ago", timestamp=now - timedelta(days=5)),
            make_event(event="2 days ago", timestamp=now - timedelta(days=2)),
            make_event(event="2 hours ago", timestamp=now - timedelta(hours=2)),
        )
        assert names(api.get(url, {"after": "-4d", "before": "1d"})) == ["2 days ago"]
        assert names(api.get(url, {"after": "-3h"})) == ["2 hours ago"]

    def test_future_events_are_hidden_unless_asked_for(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, make_event(event="tomorrow", timestamp=datetime.now(UTC) + timedelta(hours=20)))
        assert names(api.get(url)) == []
        assert names(api.get(url, {"before": (datetime.now(UTC) + timedelta(days=2)).isoformat()})) == ["tomorrow"]

    def test_properties_filter_and_person_filter(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(
            tenant.team,
            make_event(event="pro", distinct_id="p", properties={"$browser": "Chrome", "$set": {"plan": "pro"}}),
            make_event(event="free", distinct_id="f", properties={"$browser": "Firefox", "$set": {"plan": "free"}}),
        )
        by_browser = [{"key": "$browser", "value": "chrome", "operator": "icontains"}]
        assert names(api.get(url, {"properties": json.dumps(by_browser)})) == ["pro"]
        by_person = [{"key": "plan", "value": "free", "type": "person"}]
        assert names(api.get(url, {"properties": json.dumps(by_person)})) == ["free"]
        assert names(api.get(url, {"properties": json.dumps({"$browser": "Firefox"})})) == ["free"]

    def test_limit_default_and_max(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, *(make_event(event=f"e{n}", timestamp=minutes(n)) for n in range(105)))
        assert len(api.get(url).json()["results"]) == 100
        assert len(api.get(url, {"limit": 5}).json()["results"]) == 5
        assert len(api.get(url, {"limit": 5000}).json()["results"]) == 105
        assert names(api.get(url, {"limit": 2, "offset": 3})) == ["e101", "e100"]

    def test_ascending_order(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, *(make_event(event=f"e{n}", timestamp=minutes(n)) for n in range(3)))
        assert names(api.get(url, {"orderBy": '["timestamp"]'})) == ["e0", "e1", "e2"]
        assert names(api.get(url, {"orderBy": '["-timestamp"]'})) == ["e2", "e1", "e0"]


class TestCursorPages:
    @pytest.mark.parametrize("order_by", ['["-timestamp"]', '["timestamp"]'])
    def test_pages_never_skip_or_repeat_events_sharing_timestamps(
        self, api: APIClient, url: str, tenant: Tenant, order_by: str
    ) -> None:
        # 250 events on only 3 distinct timestamps: pages of 100 must still cover each event exactly once.
        store(tenant.team, *(make_event(event=f"e{n}", timestamp=minutes(n % 3)) for n in range(250)))
        seen: list[str] = []
        page_sizes = []
        next_url: str | None = f"{url}?orderBy={order_by}&event_name_ignored=1"
        for _ in range(10):  # bounded: 3 pages expected
            body = api.get(next_url).json()
            page_sizes.append(len(body["results"]))
            seen.extend(event["id"] for event in body["results"])
            timestamps = [event["timestamp"] for event in body["results"]]
            assert timestamps == sorted(timestamps, reverse=order_by == '["-timestamp"]')
            next_url = body["next"]
            if next_url is None:
                break
        assert page_sizes == [100, 100, 50]
        assert len(seen) == len(set(seen)) == 250

    def test_next_keeps_the_other_parameters_and_a_readable_before(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        store(tenant.team, *(make_event(event="x", distinct_id="d", timestamp=minutes(n)) for n in range(3)))
        body = api.get(url, {"limit": 2, "distinct_id": "d"}).json()
        query = parse_qs(urlsplit(body["next"]).query)
        assert body["next"].startswith("http://testserver/api/environments/")
        assert query["distinct_id"] == ["d"]
        assert query["limit"] == ["2"]
        assert query["before"] == [body["results"][-1]["timestamp"]]
        assert query["before_uuid"] == [body["results"][-1]["id"]]


class TestCsv:
    def test_csv_flattens_columns_and_has_no_next(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(
            tenant.team,
            make_event(event="a", properties={"$browser": "Chrome", "$set": {"email": "x@y.z"}}, timestamp=minutes(1)),
            make_event(event="b", properties={"plan": "pro"}, timestamp=minutes(2)),
        )
        for response in (api.get(url, {"format": "csv"}), api.get(url, HTTP_ACCEPT="text/csv")):
            assert response.status_code == 200
            assert response["Content-Type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(response.content.decode())))
            assert [row["event"] for row in rows] == ["b", "a"]
            assert rows[1]["properties.$browser"] == "Chrome"
            assert rows[0]["properties.plan"] == "pro"
            assert rows[1]["person.properties.email"] == "x@y.z"
            assert "next" not in response.content.decode().splitlines()[0]

    def test_an_empty_page_is_a_csv_document_with_its_header(self, api: APIClient, url: str) -> None:
        response = api.get(url, {"format": "csv"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response.content.decode().splitlines() == ["id,distinct_id,event,timestamp,elements_chain"]

    def test_cells_a_spreadsheet_would_run_as_formulas_stay_text(self, api: APIClient, url: str,
                                                                  tenant: Tenant) -> None:  # fmt: skip
        store(tenant.team, make_event(event="=HYPERLINK(\"http://x\")", properties={"@cmd": "+1+1", "n": -3,
                                                                                     "neg": "-2"}))  # fmt: skip
        [row] = list(csv.DictReader(io.StringIO(api.get(url, {"format": "csv"}).content.decode())))
        assert row["event"] == '\'=HYPERLINK("http://x")'
        assert (row["properties.@cmd"], row["properties.n"], row["properties.neg"]) == ("'+1+1", "-3", "'-2")

    def test_select_as_csv_is_named_by_its_columns(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, make_event(event="a", properties={"plan": "pro"}), make_event(event="=b"))
        response = api.get(url, {"format": "csv", "select": json.dumps(["event", "properties.plan", "count()"]),
                                 "orderBy": json.dumps(["event"])})  # fmt: skip
        assert response.status_code == 200, response.content
        assert list(csv.reader(io.StringIO(response.content.decode()))) == [
            ["event", "properties.plan", "count()"], ["'=b", "", "1"], ["a", "pro", "1"],
        ]  # fmt: skip

    def test_csv_default_limit_is_1000(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(tenant.team, *(make_event(event="bulk", timestamp=BASE_TIME - timedelta(seconds=n)) for n in range(1001)))
        rows = list(csv.DictReader(io.StringIO(api.get(url, {"format": "csv"}).content.decode())))
        assert len(rows) == 1000


class TestRetrieve:
    def test_retrieve(self, api: APIClient, url: str, tenant: Tenant) -> None:
        [event] = store(tenant.team, make_event(event="one", properties={"k": 1}))
        body = api.get(f"{url}{event.uuid}/").json()
        assert body["id"] == str(event.uuid)
        assert body["properties"] == {"k": 1}
        assert body["person"]["distinct_ids"] == ["user-1"]

    def test_other_projects_event_is_404(self, api: APIClient, url: str, other_tenant: Tenant) -> None:
        [theirs] = store(other_tenant.team, make_event())
        assert api.get(f"{url}{theirs.uuid}/").status_code == 404


class TestValues:
    def test_event_names_skip_core_events(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store(
            tenant.team, *(make_event(event=name) for name in ["zeta", "$pageview", "alpha", "$autocapture", "alpha"])
        )
        assert api.get(f"{url}values/", {"key": "custom_event"}).json() == [{"name": "alpha"}, {"name": "zeta"}]

    def test_property_values(self, api: APIClient, url: str, tenant: Tenant) -> None:
        now = datetime.now(UTC)
        store(
            tenant.team,
            make_event(event="view", properties={"plan": "enterprise"}, timestamp=now - timedelta(hours=1)),
            make_event(event="view", properties={"plan": "pro"}, timestamp=now - timedelta(hours=2)),
            make_event(event="click", properties={"plan": "Professional"}, timestamp=now - timedelta(hours=3)),
            make_event(event="view", properties={"plan": ["team", "pro"]}, timestamp=now - timedelta(hours=4)),
            make_event(event="view", properties={"plan": True}, timestamp=now - timedelta(hours=5)),
            make_event(event="view", properties={"plan": "ancient"}, timestamp=now - timedelta(days=8)),
        )
        values = [v["name"] for v in api.get(f"{url}values/", {"key": "plan"}).json()]
        assert values == ["pro", "team", "true", "enterprise", "Professional"]
        assert [v["name"] for v in api.get(f"{url}values/", {"key": "plan", "value": "PRO"}).json()] == [
            "pro",
            "Professional",
        ]
        only_clicks = api.get(f"{url}values/", {"key": "plan", "event_name": "click"}).json()
        assert only_clicks == [{"name": "Professional"}]
        assert api.get(f"{url}values/", {"key": "plan", "value": "%"}).json() == []


class TestHogQLSelectAndWhere:
    """`select` and `where` on the list: HogQL expressions (JSON lists)."""

    @pytest.fixture
    def events(self, tenant: Tenant) -> None:
        store(tenant.team,
              make_event(event="a", distinct_id="u1", properties={"plan": "pro", "n": "3"}, timestamp=minutes(1)),
              make_event(event="b", distinct_id="u1", properties={"plan": "free", "n": 10}, timestamp=minutes(2)),
              make_event(event="b", distinct_id="u2", properties={"$set": {"email": "u2@x.io"}}, timestamp=minutes(3)))  # fmt: skip

    def test_where_filters_the_normal_list(self, api: APIClient, url: str, events: None) -> None:
        assert names(
            api.get(url, {"where": json.dumps(["properties.plan = 'pro' or event = 'b'", "properties.n > 5"])})
        ) == ["b"]
        assert names(api.get(url, {"where": json.dumps(["person.properties.email like '%x.io'"])})) == ["b"]

    def test_select_answers_columns_types_and_rows(self, api: APIClient, url: str, events: None) -> None:
        response = api.get(
            url, {"select": json.dumps(["event", "properties.plan"]), "orderBy": json.dumps(["timestamp"])}
        )
        body = response.json()
        assert body["columns"] == ["event", "properties.plan"]
        assert body["types"] == ["String", "Nullable(String)"]
        assert body["results"] == [["a", "pro"], ["b", "free"], ["b", None]]
        assert body["hasMore"] is False and body["next"] is None

    def test_aggregates_group_and_where_aggregates_are_having(self, api: APIClient, url: str, events: None) -> None:
        body = api.get(url, {"select": json.dumps(["event", "count()"]), "where": json.dumps(["count() > 1"])}).json()
        assert body["results"] == [["b", 2]]

    def test_select_pages_with_next(self, api: APIClient, url: str, events: None) -> None:
        first = api.get(url, {"select": json.dumps(["distinct_id", "timestamp"]), "limit": "2"}).json()
        assert first["results"][0][1] == "2026-11-01T12:03:00Z" and first["hasMore"] is True
        second = api.get(first["next"]).json()
        assert [row[0] for row in second["results"]] == ["u1"] and second["next"] is None

    def test_the_list_filters_apply_to_select(self, api: APIClient, url: str, events: None) -> None:
        body = api.get(url, {"select": json.dumps(["count()"]), "event": "b", "distinct_id": "u1"}).json()
        assert body["results"] == [[1]]

    def test_bad_expressions_are_400(self, api: APIClient, url: str, events: None) -> None:
        assert api.get(url, {"where": json.dumps(["nope = 1"])}).status_code == 400
        assert api.get(url, {"where": json.dumps(["count() > 1"])}).status_code == 400  # no select to group by
        assert api.get(url, {"select": json.dumps(["event ="])}).json()["code"] == "hogql_syntax_error"
