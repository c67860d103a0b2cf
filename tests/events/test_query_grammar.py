"""The HogQL syntax PostHog's parser reads, run end to end through `POST …/query/` on every events store: each new
form answers what PostHog answers, and what we do not run is a 400 that names it (the grammar oracle,
tests/query_languages/test_grammar_oracle.py, checks the parsing itself against PostHog's parser)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.events.helpers import assert_hogql_400, hogql_rows, run_hogql

pytestmark = pytest.mark.usefixtures("events_backend")


BY_TIME = "from events order by timestamp"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"select case when event = 'sign up' then 1 else 0 end {BY_TIME}", [[1], [0], [0], [0]]),
        (
            f"select CASE WHEN properties.n = '7' THEN 'a' WHEN properties.n = 'x' THEN 'b' END {BY_TIME}",
            [["a"], [None], ["b"], [None]],
        ),
        (
            f"select case properties.key when 'test_val1' then 'one' when 'test_val2' then 'two' else 'other' end {BY_TIME}",
            [["one"], ["two"], ["other"], ["two"]],
        ),
        ("select event e, count() c from events group by e order by c desc", [["sign out", 3], ["sign up", 1]]),
        (f"select properties.n ?? 'none' {BY_TIME}", [["7"], ["12"], ["x"], ["none"]]),
        (f"select properties.missing ?? properties.n ?? 'none' {BY_TIME}", [["7"], ["12"], ["x"], ["none"]]),
        (f"select event || '!' || properties.key {BY_TIME} limit 1", [["sign up!test_val1"]]),
        (f"select event = 'sign up' ? 'yes' : 'no' {BY_TIME}", [["yes"], ["no"], ["no"], ["no"]]),
        (f"select properties.n = '7' ? 1 : properties.n = 'x' ? 2 : 3 {BY_TIME}", [[1], [3], [2], [3]]),
        ("select 0x1F, 0b101, +1, - -2, 1 < 2 < 3, 3 > 2 > 1", [[31, 5, 1, 2, 1, 0]]),
        ("select inf > 1e308, -inf < 0, 1 + 1 as two", [[1, 1, 2]]),
        (
            "select properties.key, properties.n from events order by properties.n nulls first limit 1",
            [["test_val2", None]],
        ),
        (
            "select properties.key from events order by properties.n desc nulls first, timestamp limit 2",
            [["test_val2"], ["test_val3"]],
        ),
        (
            "select properties.key from events order by properties.n asc nulls last, timestamp",
            [["test_val2"], ["test_val1"], ["test_val3"], ["test_val2"]],
        ),
        # LIMIT n, m is n rows from row m on, as PostHog reads it (ClickHouse itself reads it the other way round).
        (f"select event, properties.key {BY_TIME} limit 1, 2", [["sign out", "test_val3"]]),
        (f"select event {BY_TIME} offset 3", [["sign out"]]),
        ("select events.event from events where events.event = 'sign up'", [["sign up"]]),
        ("select e.event from events e where e.event = 'sign up'", [["sign up"]]),
        ("select event, from events where event = 'sign up'", [["sign up"]]),
        ("select event from events group by event, order by event", [["sign out"], ["sign up"]]),
        (f"select toString(12), 12::String, cast(properties.n as String) {BY_TIME} limit 1", [["12", "12", "7"]]),
        ("select 1", [[1]]),
        ("select 'a' || 'b' as ab where 1 = 1", [["ab"]]),
        ("SELECT count() FROM events WHERE properties.key IN ('test_val1', 'test_val3',)", [[2]]),
    ],
)
def test_syntax_runs_as_posthog_reads_it(api: APIClient, url: str, dataset: None, query: str, expected: Any) -> None:
    assert hogql_rows(api, url, query) == expected


def test_a_qualified_star_is_the_tables_columns(api: APIClient, url: str, dataset: None) -> None:
    response = run_hogql(api, url, "select e.* from events e limit 1")
    assert response.status_code == 200, response.content
    assert response.json()["columns"] == ["uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain",
                                          "created_at"]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "code", "contains"),
    [
        ("select event from events limit 1 by event", "hogql_query_error", "LIMIT … BY is not supported"),
        (
            "select event from events order by event limit 1 with ties",
            "hogql_query_error",
            "WITH TIES is not supported",
        ),
        ("select event from events union all select event from events", "hogql_query_error", "UNION (several SELECTs"),
        (
            "select event from events e join persons p on e.person_id = p.id",
            "hogql_query_error",
            "Joins are not supported",
        ),
        ("select count() over (partition by event) from events", "hogql_query_error", "Window functions"),
        ("select arrayMap(x -> x, [1]) from events", "hogql_query_error", "Lambdas"),
        ("with a as (select 1) select * from a", "hogql_query_error", "WITH"),
        ("select topK(3)(event) from events", "hogql_query_error", "Parametric functions such as topK"),
        ("select f'{event}' from events", "hogql_query_error", "Template strings"),
        ("select 1 as team_id from events", "hogql_syntax_error", '"team_id" cannot be an alias'),
        ("select 1 true from events", "hogql_syntax_error", '"true" cannot be an alias'),
        (
            "select count() from events where timestamp > now() - interval 7 days",
            "hogql_query_error",
            "Unknown interval unit 'days'",
        ),
        ("select count() from events where event = '\\q'", "hogql_syntax_error", "unknown escape sequence '\\\\q'"),
        ("select coalesce() from events", "hogql_query_error", "coalesce() takes at least 1 argument"),
        ("select multiIf(1, 2) from events", "hogql_query_error", "multiIf() takes at least 3"),
        ("select event from events as e, persons", "hogql_query_error", "Joins are not supported"),
        ("select * where 1", "hogql_query_error", "'*' needs a table"),
        ("select event", "hogql_query_error", "Unable to resolve field: event"),
        ("select x.* from events", "hogql_query_error", "Unknown table 'x'"),
    ],
)
def test_what_we_do_not_run_is_a_400_naming_it(api: APIClient, url: str, query: str, code: str, contains: str) -> None:
    assert_hogql_400(run_hogql(api, url, query), code, contains)
