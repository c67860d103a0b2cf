"""`POST …/query/` with a HogQLQuery: the response shape PostHog's clients read, HogQL's semantics (ClickHouse's
meaning where SQL databases differ), the limits, and every bad or hostile statement refused with a 400."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.db import connection
from rest_framework.test import APIClient

from events import hogql
from events.stores import events_store
from posthog_clone.errors import Timeout
from query_languages import Sql
from tests.events.helpers import (
    BASE_TIME,
    assert_hogql_400,
    hogql_rows,
    make_event,
    minutes,
    run_hogql,
    store,
    stored_events,
)
from tests.support.clickhouse import is_clickhouse
from tests.support.tenants import Tenant

pytestmark = pytest.mark.usefixtures("events_backend")


class TestShape:
    def test_every_key_clients_read(self, api: APIClient, url: str, dataset: None) -> None:
        response = run_hogql(api, url, "select event, count() from events group by event order by count() desc")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["results"] == [["sign out", 3], ["sign up", 1]]
        assert body["columns"] == ["event", "count()"]
        assert body["types"] == [["event", "String"], ["count()", "UInt64"]]
        assert (body["hasMore"], body["limit"], body["offset"]) == (False, 100, 0)
        for key in ("hogql", "clickhouse", "query", "timings", "modifiers", "error", "explain", "metadata",
                    "query_status", "is_cached", "cache_key", "last_refresh", "next_allowed_client_refresh",
                    "cache_target_age", "timezone", "calculation_trigger"):  # fmt: skip
            assert key in body, key
        assert body["error"] is None and body["query_status"] is None and body["timezone"] == "UTC"
        assert body["last_refresh"].endswith("Z")

    def test_both_url_families_and_the_projects_slash_less_form(
        self, api: APIClient, tenant: Tenant, dataset: None
    ) -> None:
        for path in (f"/api/projects/{tenant.team.id}/query/", f"/api/environments/{tenant.team.id}/query"):
            assert hogql_rows(api, path, "select count() from events") == [[4]]

    def test_columns_are_aliases_or_the_expression_text(self, api: APIClient, url: str, dataset: None) -> None:
        response = run_hogql(api, url, "select properties.key, event as name, concat(event, ' ', properties.key) "
                                 "from events order by timestamp limit 1")  # fmt: skip
        body = response.json()
        assert body["columns"] == ["properties.key", "name", "concat(event, ' ', properties.key)"]
        assert [t for _, t in body["types"]] == ["Nullable(String)", "String", "String"]
        assert body["results"] == [["test_val1", "sign up", "sign up test_val1"]]
        assert body["hasMore"] is None and body["limit"] is None  # an explicit LIMIT, as in PostHog

    def test_timestamps_render_as_rfc3339_in_the_project_time_zone(
        self, api: APIClient, url: str, tenant: Tenant, dataset: None
    ) -> None:
        assert hogql_rows(api, url, "select timestamp from events order by timestamp limit 1") == [
            ["2026-11-01T12:01:00Z"]
        ]
        tenant.team.timezone = "Europe/Paris"
        tenant.team.save()
        response = run_hogql(api, url, "select timestamp, toDate(timestamp) from events order by timestamp limit 1")
        assert response.json()["results"] == [["2026-11-01T13:01:00+01:00", "2026-11-01"]]
        assert response.json()["types"][0] == ["timestamp", "DateTime64(6, 'Europe/Paris')"]

    def test_to_time_zone_renders_in_that_zone(self, api: APIClient, url: str, dataset: None) -> None:
        body = run_hogql(
            api, url, "select toTimeZone(timestamp, 'Europe/Paris') from events order by timestamp limit 1"
        ).json()
        assert body["results"] == [["2026-11-01T13:01:00+01:00"]]
        assert body["types"][0][1] == "DateTime64(6, 'Europe/Paris')"
        assert_hogql_400(run_hogql(api, url, "select toTimeZone(timestamp, 'Mars/Base') from events"), "hogql_query_error",
                         "Unknown time zone")  # fmt: skip

    def test_star_is_the_events_columns(self, api: APIClient, url: str, dataset: None) -> None:
        body = run_hogql(api, url, "select * from events order by timestamp limit 1").json()
        assert body["columns"] == ["uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain",
                                   "created_at"]  # fmt: skip
        assert body["results"][0][1] == "sign up"
        assert isinstance(body["results"][0][2], str)  # the whole properties column is a JSON string, as in PostHog


class TestSemantics:
    """Where ClickHouse and PostgreSQL differ, ClickHouse's meaning."""

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("7 / 2", 3.5),  # `/` divides as floats
            ("7 % 2", 1),
            ("1 / 0", None),  # ClickHouse's inf, rendered as null
            ("1 = 1", 1),  # comparisons are 0/1
            ("'a' = 'b'", 0),
            ("properties.missing", None),  # a missing property is NULL
            ("properties.missing is null", 1),
            ("toInt('42') + 1", 43),
            ("toFloat('2.5') * 2", 5.0),
            ("toInt('abc')", None),
            ("length('héllo')", 6),  # bytes, as ClickHouse counts
            ("lower('ÀB')", "àb"),
            ("if(1 > 2, 'yes', 'no')", "no"),
            ("multiIf(false, 1, true, 2, 3)", 2),
            ("coalesce(properties.missing, 'fallback')", "fallback"),
            ("concat('a', properties.missing, 1)", "a1"),  # NULL reads as
            ("toString(1 = 1)", "1"),
            ("-(3)", -3),
            ("dateDiff('minute', timestamp, timestamp + interval 90 minute)", 90),
            ("dateDiff('day', toDateTime('2026-11-01 23:00:00'), toDateTime('2026-11-02 01:00:00'))", 1),
            ("dateDiff('month', '2026-01-31', '2026-02-01')", 1),
            ("dateDiff('week', '2026-11-01', '2026-11-02')", 1),  # Sunday to Monday: weeks start on Monday here
            ("dateDiff('year', '2025-12-31', '2027-01-01')", 2),
            ("toBool('true')", 1),
            ("toBool('no')", None),
            ("replaceRegexpAll('a1b22', '\\\\d+', 'X')", "aXbX"),
            ("replaceRegexpAll('ab', '(a)(b)', '\\\\2\\\\1')", "ba"),
            ("splitByChar(',', 'a,b')", ["a", "b"]),
        ],
    )
    def test_expressions(self, api: APIClient, url: str, dataset: None, expression: str, expected: Any) -> None:
        assert hogql_rows(api, url, f"select {expression} from events limit 1") == [[expected]]

    def test_a_column_aliased_to_its_own_name_is_the_column(self, api: APIClient, url: str, dataset: None) -> None:
        query = "select event as event, concat(event, '!') as shout from events where event = 'sign up' order by event limit 1"
        assert hogql_rows(api, url, query) == [["sign up", "sign up!"]]

    def test_an_alias_used_many_times_is_printed_once(self, api: APIClient, url: str, dataset: None) -> None:
        chain = ", ".join(f"a{n} + a{n} as a{n + 1}" for n in range(8))
        assert hogql_rows(api, url, f"select 1 as a0, {chain} from events limit 1") == [[2**n for n in range(9)]]

    def test_long_argument_lists_and_in_lists_run(self, api: APIClient, url: str, dataset: None) -> None:
        # PostgreSQL nests a concat() as deeply as it has arguments: the most HogQL allows must still run there.
        assert hogql_rows(api, url, "select concat(" + ", ".join(["'x'"] * 1000) + ") from events limit 1") == [
            ["x" * 1000]
        ]
        names = ", ".join(f"'name {n}'" for n in range(2000))
        assert hogql_rows(api, url, f"select count() from events where event in ({names}, 'sign up')") == [[1]]

    def test_a_string_compared_with_a_number_is_read_as_one(self, api: APIClient, url: str, dataset: None) -> None:
        # n is "7", 12 and "x": numeric text and numbers compare as numbers; "x" is not one and matches nothing.
        assert hogql_rows(api, url, "select count() from events where properties.n > 5") == [[2]]
        assert hogql_rows(api, url, "select count() from events where properties.n = 12") == [[1]]
        assert hogql_rows(api, url, "select count() from events where properties.n in (7, 8)") == [[1]]

    def test_aggregates_are_typed_as_clickhouse_types_them(self, api: APIClient, url: str, dataset: None) -> None:
        body = run_hogql(api, url, "select count(), uniq(event), countIf(event = 'sign up'), avg(toFloat(properties.n)), "
                             "sum(toInt(properties.n)), min(timestamp) from events").json()  # fmt: skip
        assert body["results"] == [[4, 2, 1, 9.5, 19, "2026-11-01T12:01:00Z"]]
        assert [t for _, t in body["types"]] == ["UInt64", "UInt64", "UInt64", "Float64", "Int64",
                                                 "DateTime64(6, 'UTC')"]  # fmt: skip

    def test_where_group_having_order_limit_offset(self, api: APIClient, url: str, dataset: None) -> None:
        query = ("select properties.key as k, count() as c from events where event = 'sign out' or "
                 "like(properties.key, '%val1') group by k having c >= 1 order by c desc, k limit 2 offset 1")  # fmt: skip
        assert hogql_rows(api, url, query) == [["test_val1", 1], ["test_val3", 1]]

    def test_dates_intervals_and_date_strings(self, api: APIClient, url: str, dataset: None) -> None:
        assert hogql_rows(api, url, "select count() from events where timestamp > '2026-11-01 12:02:30'") == [[2]]
        assert hogql_rows(api, url, "select count() from events where timestamp > now() - interval 7 day") == [[0]]
        assert hogql_rows(
            api, url, "select count() from events where timestamp between '2026-11-01' and '2026-11-02'"
        ) == [[4]]
        assert hogql_rows(api, url, "select toStartOfDay(timestamp) from events limit 1") == [["2026-11-01T00:00:00Z"]]
        # ClickHouse's weeks start on Sunday: Sunday 1 November 2026 starts its own week.
        assert hogql_rows(api, url, "select toStartOfWeek(timestamp) from events limit 1") == [["2026-11-01"]]  # a date

    def test_regex_like_and_in(self, api: APIClient, url: str, dataset: None) -> None:
        assert hogql_rows(api, url, "select count() from events where properties.key =~ 'val[12]$'") == [[3]]
        assert hogql_rows(api, url, "select count() from events where properties.key !~ 'val[12]$'") == [[1]]
        assert hogql_rows(api, url, "select count() from events where event ilike 'SIGN%'") == [[4]]
        assert hogql_rows(api, url, "select count() from events where event not in ('sign up')") == [[3]]

    def test_placeholders_are_bound_values(self, api: APIClient, url: str, dataset: None) -> None:
        assert hogql_rows(api, url, "select count() from events where distinct_id = {id}", values={"id": "2"}) == [[4]]
        tricky = "2' or '1'='1"
        assert hogql_rows(api, url, "select count() from events where distinct_id = {id}", values={"id": tricky}) == [
            [0]
        ]
        assert hogql_rows(api, url, "select count() from events where event in {names}",
                    values={"names": ["sign up", "nope"]}) == [[1]]  # fmt: skip

    def test_person_fields(self, api: APIClient, url: str, dataset: None) -> None:
        assert hogql_rows(api, url, "select distinct person.properties.email from events") == [["a@b.c"]]
        assert hogql_rows(api, url, "select count() from persons where properties.email = 'a@b.c'") == [[1]]
        [[person_id, same]] = hogql_rows(api, url, "select person_id, person.id = person_id from events limit 1")
        assert len(person_id) == 36 and same == 1


class TestLimits:
    @pytest.fixture
    def many(self, tenant: Tenant) -> None:
        store(tenant.team, *(make_event(distinct_id=f"u{n}", timestamp=minutes(n)) for n in range(105)))

    def test_no_limit_returns_100_rows_and_says_there_are_more(self, api: APIClient, url: str, many: None) -> None:
        body = run_hogql(api, url, "select distinct_id from events order by timestamp").json()
        assert len(body["results"]) == 100 and body["hasMore"] is True and body["limit"] == 100

    def test_an_explicit_limit_is_honoured(self, api: APIClient, url: str, many: None) -> None:
        body = run_hogql(api, url, "select distinct_id from events order by timestamp limit 103").json()
        assert len(body["results"]) == 103 and body["hasMore"] is None

    def test_offset_works_with_a_personal_api_key(self, api: APIClient, url: str, many: None) -> None:
        assert hogql_rows(api, url, "select distinct_id from events order by timestamp limit 2 offset 100") == [
            ["u100"],
            ["u101"],
        ]

    def test_a_capped_limit_says_so(self, api: APIClient, url: str, many: None, monkeypatch: Any) -> None:
        monkeypatch.setattr(hogql, "MAX_ROWS", 50)
        body = run_hogql(api, url, "select distinct_id from events limit 60000").json()
        assert len(body["results"]) == 50 and body["hasMore"] is True and body["limit"] == 50


class TestRefusals:
    @pytest.mark.parametrize(
        ("query", "code", "contains"),
        [
            ("select event from", "hogql_syntax_error", "Syntax error"),
            ("select event frm events", "hogql_syntax_error", "line 1, column 18"),  # `frm` is an alias
            ("select user_id from events", "hogql_query_error", "Unable to resolve field: user_id"),
            ("select event from events_event", "hogql_query_error", "Unknown table 'events_event'"),
            ("select event from events join persons on 1 = 1", "hogql_query_error", "Joins are not supported"),
            ("select event from (select event from events)", "hogql_query_error", "Subqueries are not supported"),
            ("select pg_sleep(5) from events", "hogql_query_error", "Unsupported function 'pg_sleep'"),
            ("select event from events where count() > 1", "hogql_query_error", "use HAVING"),
            ("select event, count() from events", "hogql_query_error", "'event' must be in GROUP BY"),
            ("select event from events where properties.a =~ '('", "hogql_query_error", "Invalid regular expression"),
            (
                "select event from events where properties.a =~ '^((a+)\\\\2)+$'",
                "hogql_query_error",
                "Invalid regular expression: invalid escape sequence: \\2",
            ),
            ("select properties.a + 1 from events", "hogql_query_error", "wrap it in toFloat"),
            ("select event from events where {missing}", "hogql_query_error", "Unresolved placeholder: {missing}"),
            ("select event from events limit -1", "hogql_query_error", "LIMIT must be a whole number"),
            ("select event from events; drop table events_event", "hogql_syntax_error", "Syntax error"),
            ("select event from events where event = \u2018x\u2019", "hogql_syntax_error", "unexpected character"),
            ("select " + "(" * 100 + "1" + ")" * 100 + " from events", "hogql_query_error", "nest more than"),
            ("select " + "+".join(["1"] * 5000) + " from events", "hogql_query_error", "nests more than 100"),
            ("select " + "not " * 3000 + "1 from events", "hogql_query_error", "nests more than 100"),
            ("select distinct event from events order by timestamp", "hogql_query_error", "SELECT DISTINCT"),
            ("select toDateTime('not a date') from events", "hogql_query_error", "date-time"),
            ("select 99999999999999999999 from events", "hogql_query_error", "64-bit"),
            ("select a as a from events", "hogql_query_error", "Unable to resolve field: a"),
            ("select b as a, a as b from events", "hogql_query_error", "Cyclic aliases: b -> a -> b"),
            (
                "select concat(" + ", ".join(["'x'"] * 1001) + ") from events",
                "hogql_query_error",
                "concat() takes at most 1,000 arguments",
            ),
            (
                "select event from events where event in (" + ", ".join(["'x'"] * 10_001) + ")",
                "hogql_query_error",
                "A list may hold at most 10,000 items",
            ),
            (
                "select " + ", ".join(f"{n} + 1" for n in range(7000)) + " from events",
                "hogql_query_error",
                "more than 20,000 expressions",
            ),
            (
                "select 1 as a0, " + ", ".join(f"a{n} + a{n} as a{n + 1}" for n in range(40)) + " from events",
                "hogql_query_error",
                "too large once its aliases are written out",
            ),
        ],
    )
    def test_refused_with_a_400_naming_the_problem(
        self, api: APIClient, url: str, tenant: Tenant, dataset: None, query: str, code: str, contains: str
    ) -> None:
        assert_hogql_400(run_hogql(api, url, query), code, contains)
        assert len(stored_events(tenant.team)) == 4  # the server and its tables are unharmed

    @pytest.mark.parametrize(
        ("body", "attr", "contains"),
        [
            ({}, "query", "required"),
            ({"query": "select 1"}, "query", ""),
            ({"query": {"kind": "TrendsQuery"}}, "query__kind", "Supported: HogQLQuery"),
            ({"query": {"kind": "HogQLQuery", "query": "select 1", "bogus": 1}}, "query__bogus", "Extra inputs"),
            ({"query": {"kind": "HogQLQuery", "query": 5}}, "query__query", "must be a string"),
            ({"query": {"kind": "HogQLQuery", "query": "select 1", "values": [1]}}, "query__values", "object"),
            ({"query": {"kind": "HogQLQuery", "query": "select 1"}, "refresh": "sometimes"}, "refresh", "blocking"),
        ],
    )
    def test_bad_bodies(self, api: APIClient, url: str, body: dict[str, Any], attr: str, contains: str) -> None:
        response = api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["attr"] == attr
        assert contains in response.json()["detail"]

    @pytest.mark.parametrize("refresh", ["blocking", "force_blocking", "async", "force_async", True, False])
    def test_every_refresh_mode_answers_at_once(self, api: APIClient, url: str, dataset: None, refresh: Any) -> None:
        body = {"query": {"kind": "HogQLQuery", "query": "select count() from events"}, "refresh": refresh}
        response = api.post(url, body, format="json")
        assert response.status_code == 200 and response.json()["results"] == [[4]]

    def test_a_query_inside_a_transaction_leaves_it_as_it_was(self, tenant: Tenant, dataset: None) -> None:
        from django.utils import timezone

        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            before = cursor.fetchone()[0]
        result = hogql.hogql_select(team=tenant.team, query="select count() from events", values=None,
                                    now=timezone.now())  # fmt: skip
        assert result.rows == [(4,)]
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == before
        store(tenant.team, make_event(event="written after"))  # the transaction still writes

    def test_a_slow_statement_is_stopped_with_a_timeout(self, settings: Any, db: None, events_backend: str) -> None:
        settings.QUERY_TIMEOUT_SECONDS = 0.05
        slow = "SELECT count() FROM numbers(100000000000)" if is_clickhouse(events_backend) else "SELECT pg_sleep(2)"
        with pytest.raises(Timeout) as raised:
            events_store().run_query(Sql(slow), seconds=settings.QUERY_TIMEOUT_SECONDS)
        assert raised.value.code == "query_timeout"
        assert events_store().run_query(Sql("SELECT 1"), seconds=1) == [(1,)]  # the store is usable afterwards

    def test_the_timeout_counts_the_time_before_the_database(self, api: APIClient, url: str, settings: Any) -> None:
        # Parsing and printing alone take longer than this: the database is never given the statement.
        settings.QUERY_TIMEOUT_SECONDS = 1e-9
        response = run_hogql(api, url, "select count() from events")
        assert (response.status_code, response.json()["code"]) == (504, "query_timeout")


class TestTenancy:
    def test_a_query_sees_only_its_own_project(
        self, api: APIClient, url: str, dataset: None, other_tenant: Tenant
    ) -> None:
        store(other_tenant.team, make_event(event="secret", distinct_id="2", timestamp=BASE_TIME))
        assert hogql_rows(api, url, "select count() from events") == [[4]]
        assert hogql_rows(api, url, "select count() from events where event = 'secret'") == [[0]]
        assert hogql_rows(api, url, "select count() from events where event = '' or 1=1 --'") == [[4]]
        assert hogql_rows(api, url, "select count() from persons") == [[1]]

    def test_another_organizations_project_is_403(self, api: APIClient, other_tenant: Tenant) -> None:
        response = run_hogql(api, f"/api/environments/{other_tenant.team.id}/query/", "select 1 from events")
        assert response.status_code == 403
        assert response.json()["detail"] == "You don't have access to the project."

    def test_query_read_is_enough_and_needed(self, key_client: Any, url: str, dataset: None) -> None:
        assert run_hogql(key_client("event:read"), url, "select count() from events").status_code == 403
        assert run_hogql(key_client("query:read"), url, "select count() from events").status_code == 200


def events_query(api: APIClient, url: str, **node: Any) -> Any:
    return api.post(url, {"query": {"kind": "EventsQuery", **node}}, format="json")


class TestEventsQuery:
    """PostHog's EventsQuery examples (`test_query.py`), on the same four events."""

    def test_columns_and_their_types(self, api: APIClient, url: str, dataset: None) -> None:
        select = ["properties.key", "event", "distinct_id", "concat(event, ' ', properties.key)"]
        body = events_query(api, url, select=select, after="all", orderBy=["timestamp"]).json()
        assert body["columns"] == select
        assert body["types"] == ["Nullable(String)", "String", "String", "String"]
        assert body["results"][0] == ["test_val1", "sign up", "2", "sign up test_val1"]
        assert (body["hasMore"], body["limit"], body["offset"]) == (False, 100, 0)

    def test_aggregates_group_the_other_columns_and_order_by_count(
        self, api: APIClient, url: str, dataset: None
    ) -> None:
        body = events_query(api, url, select=["count()", "event"], after="all").json()
        assert body["types"] == ["UInt64", "String"]
        assert body["results"] == [[3, "sign out"], [1, "sign up"]]

    def test_where_and_order_by(self, api: APIClient, url: str, dataset: None) -> None:
        body = events_query(api, url, select=["count()", "event"], after="all",
                            where=["event == 'sign up' or like(properties.key, '%val2')"],
                            orderBy=["count() DESC", "event"]).json()  # fmt: skip
        assert body["results"] == [[2, "sign out"], [1, "sign up"]]

    def test_aggregate_where_items_filter_groups(self, api: APIClient, url: str, dataset: None) -> None:
        body = events_query(api, url, select=["event", "count() as c"], after="all", where=["count() > 1"]).json()
        assert body["columns"] == ["event", "c"] and body["results"] == [["sign out", 3]]

    def test_star_and_person_are_objects(self, api: APIClient, url: str, dataset: None, tenant: Tenant) -> None:
        body = events_query(api, url, select=["*", "event", "person"], after="all", orderBy=["timestamp DESC"]).json()
        star, event, person = body["results"][0]
        assert body["types"][0].startswith("Tuple(") and body["types"][2].startswith("Tuple(")
        assert event == "sign out" and star["event"] == "sign out" and star["team_id"] == tenant.team.id
        assert star["properties"]["key"] == "test_val2" and star["timestamp"] == "2026-11-01T12:04:00Z"
        assert person["distinct_id"] == "2" and person["properties"]["email"] == "a@b.c"

    def test_the_window_defaults_to_the_last_24_hours(self, api: APIClient, url: str, dataset: None) -> None:
        assert events_query(api, url, select=["count()"]).json()["results"] == [[0]]
        assert events_query(api, url, select=["count()"], after="2026-11-01T12:02:30Z").json()["results"] == [[2]]
        assert events_query(api, url, select=["count()"], after="all", before="2026-11-01T12:02:30Z"
                            ).json()["results"] == [[2]]  # fmt: skip

    def test_filters(self, api: APIClient, url: str, dataset: None) -> None:
        def count(**node: Any) -> int:
            return events_query(api, url, select=["count()"], after="all", **node).json()["results"][0][0]

        assert count(event="sign up") == 1
        assert count(events=["sign up", "sign out"]) == 4
        assert count(properties=[{"key": "key", "value": "test_val2"}]) == 2
        assert count(properties=[{"key": "email", "value": "a@b.c", "type": "person"}]) == 4

    def test_limit_offset_and_has_more(self, api: APIClient, url: str, dataset: None) -> None:
        body = events_query(api, url, select=["event"], after="all", orderBy=["timestamp"], limit=2, offset=1).json()
        assert body["results"] == [["sign out"], ["sign out"]] and body["hasMore"] is True

    @pytest.mark.parametrize(
        ("node", "attr"),
        [
            ({}, "query__select"),
            ({"select": []}, "query__select"),
            ({"select": ["event"], "limit": -1}, "query__limit"),
            ({"select": ["event"], "after": "whenever"}, "query__after"),
            (
                {"select": ["event"], "properties": [{"key": "a", "operator": "nearly", "value": 1}]},
                "query__properties__0__operator",
            ),
            ({"select": ["event"], "unknown": 1}, "query__unknown"),
        ],
    )
    def test_bad_nodes(self, api: APIClient, url: str, node: dict[str, Any], attr: str) -> None:
        response = events_query(api, url, **node)
        assert response.status_code == 400, response.content
        assert response.json()["attr"] == attr

    def test_bad_expressions(self, api: APIClient, url: str, dataset: None) -> None:
        assert_hogql_400(events_query(api, url, select=["nope"]), "hogql_query_error", "Unable to resolve field: nope")
        assert_hogql_400(events_query(api, url, select=["event"], where=["event ="]), "hogql_syntax_error", "Syntax")


class TestOneEventsQueryForBothEndpoints:
    """`/query/`'s EventsQuery and the events list's `select` run the same query: the same upper bound when none is
    given (a little past now, PostHog's `before` default), and cells rendered in their column's time zone."""

    @pytest.fixture
    def now(self, tenant: Tenant) -> Iterator[datetime]:
        store(tenant.team, *(make_event(event=name, timestamp=BASE_TIME + offset) for name, offset in (
            ("an hour ago", -timedelta(hours=1)), ("4 s ahead", timedelta(seconds=4)),
            ("6 s ahead", timedelta(seconds=6)))))  # fmt: skip
        with patch("django.utils.timezone.now", return_value=BASE_TIME):
            yield BASE_TIME

    def test_before_defaults_to_five_seconds_past_now_on_both(self, api: APIClient, url: str, tenant: Tenant,
                                                              now: datetime) -> None:  # fmt: skip
        select, order = ["event"], ["timestamp"]
        assert events_query(api, url, select=select, orderBy=order).json()["results"] == [
            ["an hour ago"],
            ["4 s ahead"],
        ]
        listed = api.get(f"/api/environments/{tenant.team.id}/events/",
                         {"select": json.dumps(select), "orderBy": json.dumps(order)})  # fmt: skip
        assert listed.json()["results"] == [["an hour ago"], ["4 s ahead"]]

    def test_a_column_in_another_zone_renders_there_on_both(self, api: APIClient, url: str, tenant: Tenant,
                                                            now: datetime) -> None:  # fmt: skip
        select, where = ["toTimeZone(timestamp, 'Europe/Paris')"], ["event = 'an hour ago'"]
        shown = [["2026-11-01T12:00:00+01:00"]]
        assert events_query(api, url, select=select, where=where).json()["results"] == shown
        listed = api.get(f"/api/environments/{tenant.team.id}/events/",
                         {"select": json.dumps(select), "where": json.dumps(where)})  # fmt: skip
        assert listed.json()["results"] == shown
