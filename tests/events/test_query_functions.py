"""The HogQL functions a ClickHouse user reaches for, run end to end through `POST …/query/` on every events store:
each answers what ClickHouse answers (the semantics oracle, tests/query_languages/test_hogql_oracle.py, compares them
with ClickHouse under PostHog's rules), and a wrong call is a 400 that names the function."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.events.helpers import assert_hogql_400, hogql_rows, make_event, minutes, run_hogql, store
from tests.support.tenants import Tenant

pytestmark = pytest.mark.usefixtures("events_backend")


def test_scalar_functions(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(
        api,
        url,
        "select round(toFloat(properties.n) / 7, 2), greatest(properties.key, 'test_val2'), "
        "least(toInt(properties.n), 10), extract(properties.key, 'val([0-9])'), "
        "formatDateTime(timestamp, '%Y-%m-%d %H:%i %p %a'), has(splitByChar('_', properties.key), 'val2'), "
        "indexOf(['test_val3', 'test_val2'], properties.key) from events order by timestamp",
    )
    assert rows == [
        [1.0, "test_val2", 7, "1", "2026-11-01 12:01 PM Sun", 0, 0],
        [1.71, "test_val2", 10, "2", "2026-11-01 12:02 PM Sun", 1, 2],
        [None, "test_val3", 10, "3", "2026-11-01 12:03 PM Sun", 0, 1],  # least() ignores NULL, as ClickHouse's
        [None, "test_val2", 10, "2", "2026-11-01 12:04 PM Sun", 1, 2],
    ]


def test_math_functions(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(
        api,
        url,
        "select sqrt(toFloat(properties.n)), pow(toInt(properties.n), 2), power(2, 10), "
        "floor(toFloat(properties.n) / 7, 1), ceil(toFloat(properties.n) / 7, 1), floor(toInt(properties.n), -1), "
        "CEIL(toInt(properties.n), -1), floor(0.29, 2) from events order by timestamp",
    )
    assert rows == [
        [2.6457513110645907, 49.0, 1024.0, 1.0, 1.0, 0, 10, 0.28],  # 0.29 * 100 is 28.999…, as in ClickHouse
        [3.4641016151377544, 144.0, 1024.0, 1.7, 1.8, 10, 20, 0.28],
        [None, None, 1024.0, None, None, None, None, 0.28],
        [None, None, 1024.0, None, None, None, None, 0.28],
    ]


def test_a_date_as_a_number_and_a_typed_null_as_text(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(
        api,
        url,
        "select toFloat(toDate(timestamp)), toInt(timestamp), toFloat(toDate('2024-03-05')), "
        "splitByChar(',', toString(toInt(NULL))), splitByChar(',', toString(NULL)) from events "
        "order by timestamp limit 1",
    )
    # Days and seconds since 1970, as ClickHouse counts them; toInt(NULL) is a NULL Int64 (splitByChar reads '').
    assert rows == [[20758.0, 1793534460, 19787.0, [""], None]]


def test_array_functions_read_a_json_array_property(api: APIClient, url: str, tenant: Tenant) -> None:
    store(
        tenant.team,
        make_event(distinct_id="a", properties={"tags": ["a", "b"]}, timestamp=minutes(1)),
        make_event(distinct_id="b", properties={"tags": ["b", 1, None, True]}, timestamp=minutes(2)),
        make_event(distinct_id="c", properties={"tags": "a,b"}, timestamp=minutes(3)),
        make_event(distinct_id="d", properties={}, timestamp=minutes(4)),
    )
    rows = hogql_rows(
        api,
        url,
        "select has(properties.tags, 'a'), indexOf(properties.tags, 'b'), indexOf(properties.tags, '1'), "
        "has(properties.tags, ''), length(properties.tags) from events order by timestamp",
    )
    # Items as ClickHouse's JSONExtract(…, 'Array(String)') reads them (1 as '1', null as ''); a text is no array.
    # length() is of the property's text, as in PostHog (jsonb's spacing here).
    assert rows == [[1, 2, 0, 0, 10], [0, 1, 2, 1, 20], [0, 0, 0, 0, 3], [0, 0, 0, 0, None]]
    assert hogql_rows(api, url, "select count() from events where has(properties.tags, 'b')") == [[2]]


def test_format_date_time_in_a_time_zone(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(api, url, "select formatDateTime(timestamp, '%F %T %e/%m', 'Asia/Tokyo') from events "
                      "order by timestamp limit 1")  # fmt: skip
    assert rows == [["2026-11-01 21:01:00 1/11"]]


def test_aggregates(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(
        api,
        url,
        "select event, quantile(0.5)(toFloat(properties.n)), median(toInt(properties.n)), "
        "quantile(0.9)(toFloat(properties.n)), argMax(properties.key, timestamp), argMin(properties.key, timestamp), "
        "length(groupArray(properties.n)), has(groupArray(properties.key), 'test_val3'), any(distinct_id) "
        "from events group by event order by event",
    )
    assert rows == [
        ["sign out", 12.0, 12.0, 12.0, "test_val2", "test_val2", 2, 1, "2"],
        ["sign up", 7.0, 7.0, 7.0, "test_val1", "test_val1", 1, 0, "2"],
    ]
    [[median, top]] = hogql_rows(api, url, "select median(toInt(properties.n)), quantile(0.9)(toInt(properties.n)) "
                                 "from events")  # fmt: skip
    assert (median, top) == (9.5, pytest.approx(11.5))  # interpolated between 7 and 12, as ClickHouse's quantile


def test_aggregates_over_no_rows(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(
        api,
        url,
        "select quantile(0.5)(toFloat(properties.n)), median(toInt(properties.n)), groupArray(event), "
        "argMax(properties.key, timestamp), any(properties.key) from events where event = 'nothing'",
    )
    assert rows == [[None, None, [], None, None]]


def test_group_array_of_one_value(api: APIClient, url: str, dataset: None) -> None:
    rows = hogql_rows(api, url, "select groupArray(properties.key) from events where event = 'sign up'")
    assert rows == [[["test_val1"]]]


@pytest.mark.parametrize(
    ("query", "contains"),
    [
        ("select round() from events", "round() takes 1 or 2 argument(s)"),
        ("select round(1, 2, 3) from events", "round() takes 1 or 2 argument(s)"),
        ("select greatest(1) from events", "greatest() takes at least 2 argument(s)"),
        ("select least() from events", "least() takes at least 2 argument(s)"),
        ("select extract('a') from events", "extract() takes 2 argument(s)"),
        ("select formatDateTime(timestamp) from events", "formatDateTime() takes 2 or 3 argument(s)"),
        ("select has([1]) from events", "has() takes 2 argument(s)"),
        ("select indexOf([1], 1, 2) from events", "indexOf() takes 2 argument(s)"),
        ("select quantile(0.5)(1, 2) from events", "quantile() takes 1 argument(s)"),
        ("select median() from events", "median() takes 1 argument(s)"),
        ("select argMax(event) from events", "argMax() takes 2 argument(s)"),
        ("select argMin(event, timestamp, 1) from events", "argMin() takes 2 argument(s)"),
        ("select groupArray(event, event) from events", "groupArray() takes 1 argument(s)"),
        ("select any() from events", "any() takes 1 argument(s)"),
        ("select round(1.5, 1.5) from events", "round() needs its precision as an integer constant"),
        ("select round(1.5, toInt(properties.n)) from events", "round() needs its precision"),
        ("select formatDateTime(timestamp, '%q') from events", "formatDateTime() does not support '%q'"),
        ("select formatDateTime(timestamp, '%Y %V') from events", "formatDateTime() does not support '%V'"),
        ("select formatDateTime(timestamp, '100%') from events", "formatDateTime() does not support a '%' at the end"),
        ("select formatDateTime(timestamp, event) from events", "formatDateTime() needs its format as a string"),
        ("select formatDateTime(timestamp, '%Y', 'Mars/Base') from events", "Unknown time zone 'Mars/Base'"),
        ("select extract(event, properties.key) from events", "extract() needs its pattern as a string constant"),
        ("select extract(event, '(a') from events", "Invalid regular expression"),
        ("select has(event, 'a') from events", "has() needs an array as its first argument"),
        ("select has(['a'], 1) from events", "has() looks for a value of its array's kind"),
        ("select has([1, 'a'], 1) from events", "An array's items are of one kind"),
        ("select greatest('a', 1) from events", "greatest() compares values of one kind"),
        ("select quantile(event) from events", "quantile() takes its level"),
        ("select quantile(2)(toInt(properties.n)) from events", "quantile() takes its level"),
        ("select quantile(0.1, 0.2)(toInt(properties.n)) from events", "quantile() takes its level"),
        ("select quantile(0.5)(event) from events", "Arithmetic needs numbers"),
        ("select median(0.5)(toInt(properties.n)) from events", "Parametric functions such as median"),
        ("select round(0.5)(1) from events", "Parametric functions such as round"),
        ("select argMax(event, count()) from events", "Aggregates cannot be nested"),
        ("select median(DISTINCT toInt(properties.n)) from events", "median(DISTINCT …) is not supported"),
        ("select groupArray(*) from events", "groupArray() does not take '*'"),
        ("select sqrt() from events", "sqrt() takes 1 argument(s)"),
        ("select sqrt(4, 2) from events", "sqrt() takes 1 argument(s)"),
        ("select pow(2) from events", "pow() takes 2 argument(s)"),
        ("select POW(2) from events", "POW() takes 2 argument(s)"),
        ("select power(1, 2, 3) from events", "power() takes 2 argument(s)"),
        ("select floor() from events", "floor() takes 1 or 2 argument(s)"),
        ("select ceil(1.5, 1, 2) from events", "ceil() takes 1 or 2 argument(s)"),
        ("select floor(1.5, 0.5) from events", "floor() needs its precision as an integer constant from -20 to 20"),
        ("select ceil(1.5, toInt(properties.n)) from events", "ceil() needs its precision"),
        ("select floor(1.5, 21) from events", "floor() needs its precision"),
        ("select sqrt(event) from events", "Arithmetic needs numbers"),
        ("select pow(2, properties.n) from events", "Arithmetic needs numbers"),
        ("select has(properties.tags, 1) from events", "has() looks for a value of its array's kind"),
    ],
)
def test_a_wrong_call_is_a_400_naming_it(api: APIClient, url: str, query: str, contains: str) -> None:
    assert_hogql_400(run_hogql(api, url, query), "hogql_query_error", contains)


def test_a_tie_of_arg_max_is_any_tied_rows_value(api: APIClient, url: str, dataset: None) -> None:
    # Every event has distinct id 2: ClickHouse answers the first row it meets, PostgreSQL any of them too.
    [[best, least]] = hogql_rows(api, url, "select argMax(properties.key, distinct_id), "
                                 "argMin(properties.key, distinct_id) from events")  # fmt: skip
    assert {best, least} <= {"test_val1", "test_val2", "test_val3"}
