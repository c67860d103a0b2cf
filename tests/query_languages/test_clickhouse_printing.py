"""HogQL printed for ClickHouse means what it means printed for PostgreSQL: every supported function and operator,
selected over the same events in both databases, gives the same values (and what one refuses, the other does)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from events.sql_schema import clickhouse_dialect
from query_languages import HogQLError, parse_select, pattern_problem, print_select, sql
from query_languages.hogql.functions import SUPPORTED_FUNCTIONS
from tests.query_languages.engines import BASE_TIME, DATABASE, Engines, Stored, same, select_both, stored_once

pytestmark = pytest.mark.django_db

CORPUS = [
    Stored("a", {"s": "Chrome", "n": 5, "f": "2.5", "b": True, "t": "x%y", "big": 1e20, "small": 1.5e-7,
                 "whole": 100.0, "zero": -0.0, "obj": {"k": "v", "list": [1, "a"]}, "ws": " 7 ", "plus": "+7",
                 "id": "1234567890123456789", "date": "2024-01-05T10:00:00Z", "version": "v1.2.3", "u": "ÀB ß",
                 "nl": "a\nb", "e": "1e3", "huge": "1e400", "half": 2.5, "neg": -7, "q": 'say "hi"',
                 "frac": -0.25},
           person={"plan": "pro", "n": 3}, elements_chain='a.link:href="/x"nth-child="1";div:attr__id="main"'),
    Stored("b", {"s": "firefox", "n": "12", "f": 0, "b": False, "arr": [1, 2.5, None], "whole": 7.0, "neg": "-3.5",
                 "dot": ".5", "version": "2.0", "frac": "[1]"},
           timestamp=BASE_TIME + timedelta(minutes=1, seconds=30.5),
           person={"plan": "free"}),
    Stored("c", {"s": "", "n": "abc", "nested": {"k": "v"}, "inf": "inf", "space": "\t8\n", "version": "x",
                 "frac": 1e-5},
           timestamp=BASE_TIME + timedelta(days=40, hours=3)),
    Stored("d", {}, event="$autocapture", timestamp=BASE_TIME - timedelta(days=400, minutes=7)),
]  # fmt: skip

EXPRESSIONS = [
    # ClickHouse's functions added for PostHog's users, and the comparison functions
    "abs(toInt(properties.neg))", "abs(-9223372036854775807 - 1)", "abs(toFloat(properties.half))",
    "sqrt(toFloat(properties.half))", "sqrt(toInt(properties.neg))", "pow(toInt(properties.n), 2)",
    "power(toFloat(properties.half), -1)", "pow(0, toInt(properties.neg))", "floor(toFloat(properties.half), 1)",
    "ceil(toFloat(properties.frac), 1)", "floor(toInt(properties.neg), -1)", "ceil(toInt(properties.n), -1)",
    "has(properties.arr, '2.5')", "indexOf(properties.obj.list, 'a')", "has(properties.arr, properties.missing)",
    "toFloat(toDate(timestamp))", "toInt(timestamp)", "length(splitByChar(',', toString(toInt(NULL))))",
    "floor(toFloat(properties.half))", "ceil(toFloat(properties.half))", "floor(3)", "startsWith(properties.s, 'a')",
    "endsWith(properties.s, 'c')", "trimLeft(properties.space)", "trimRight(properties.space)",
    "nullIf(properties.s, '')", "toYear(timestamp)", "toMonth(timestamp)", "toDayOfMonth(timestamp)",
    "toDayOfWeek(timestamp)", "toHour(toTimeZone(timestamp, 'Asia/Kolkata'))", "toMinute(timestamp)",
    "toDayOfWeek(toDate(properties.date))", "toUnixTimestamp(timestamp)", "equals(properties.s, properties.missing)",
    "notEquals(properties.n, 5)", "less(1, 2)", "lessOrEquals(properties.n, 5)", "greater(properties.n, 5)",
    "greaterOrEquals(properties.n, 5)", "like(properties.s, 'a%')", "ilike(properties.s, 'A%')",
    "notLike(properties.s, 'a%')", "notILike(properties.s, 'A%')",
    "round(toFloat(properties.half), 1)", "round(toInt(properties.n), -1)", "greatest(properties.s, 'b')",
    "least(toInt(properties.n), 3)", "extract(properties.s, '[a-z]')", "formatDateTime(timestamp, '%F %T %a %j')",
    "has(splitByChar(',', properties.s), 'a')", "indexOf(['a', 'abc'], properties.s)",
    # fields, and the text of every kind of JSON value
    "event", "distinct_id", "uuid", "timestamp", "created_at", "elements_chain", "properties.s", "properties.n",
    "properties.b", "properties.big", "properties.small", "properties.whole", "properties.zero", "properties.obj",
    "properties.obj.k", "properties.obj.list", "properties.arr", "properties.nested.k", "properties.missing",
    "properties['t']", "properties.q", "person_id", "person.id", "person.created_at", "person.properties.plan",
    "person.properties.n", "person.properties.missing", "toInt(person.properties.n) + 0 = 3",
    # readings that are not the text: fractions, whole floats, exponents, containers, strings that look like them
    "properties.frac", "toFloat(properties.frac)", "properties.frac like '%0.%'", "properties.frac =~ '^-0'",
    "properties.whole like '%.0'", "properties.obj ilike '%\"k\": \"v\"%'", "properties.obj like '%\"k\":\"v\"%'",
    "properties.big =~ '0{5}'",
    # constants
    "1", "-1", "300", "2.5", "1e20", "1e-7", "true", "false", "null", "'text'", "''",
    # arithmetic
    "1 + 2", "7 - 10", "6 * 7", "7 / 2", "1 / 0", "0 / 0", "7 % 2", "-7 % 2", "7.5 % 2", "5 % 0", "-(3)",
    "toInt(properties.n) + 1", "toFloat(properties.f) * 2", "toInt(properties.n) / toInt(properties.n)",
    "toInt(properties.n) % 5", "1 + null", "null * 2",
    # comparisons and logic
    "1 = 1", "'a' = 'b'", "properties.n > 6", "properties.n = 12", "properties.n < 'b'", "properties.s >= 'C'",
    "properties.s != 'Chrome'", "properties.f = 2.5", "properties.b = 'true'", "properties.b = true",
    "properties.n in (5, 12)", "properties.n in ('5', 'abc')", "properties.n not in (5, null)", "event in (null)",
    "properties.s in ('Chrome', null)", "timestamp in ('2026-11-01 12:00:00')", "properties.n in (1e3, 5)",
    "1 and 0", "1 or null", "null and 0", "not toBool(properties.b)", "not (properties.n = 5)", "properties.s is null",
    "properties.s is not null", "timestamp > '2026-11-01 12:01:00'", "timestamp <= now()",
    "properties.s like 'Ch%'", "properties.s ilike 'CH%'", "properties.s not like '%o%'",
    "properties.s not ilike '_IREFOX'", "properties.t like 'x\\\\%y'", "properties.t like 'x\\\\y'",
    "properties.nl like 'a_b'", "properties.s =~ '^[A-Z]'", "properties.s !~ 'o'", "properties.s =~* 'FIRE'",
    "properties.s !~* 'chrome'", "properties.nl =~ 'a.b'", "properties.nl =~ '^b'",
    # text functions
    "lower(properties.u)", "upper(properties.s)", "trim(properties.ws)", "trim(properties.space)",
    "length(properties.u)", "length(properties.missing)", "concat(properties.s, '-', properties.n, 1, 2.5, true)",
    "concat(properties.missing)", "concat(event, null)", "toString(1 = 1)", "toString(2.5)", "toString(1e15)",
    "toString(1e-5)", "toString(1 / 3)", "toString(100.0)", "toString(timestamp)", "toString(uuid)",
    "toString(toDate(timestamp))", "toString(toBool('true'))", "toString(null)", "toString(-7)",
    "like(properties.s, '%e%')", "ilike(properties.s, '%E%')", "match(properties.s, 'fox$')",
    "match(properties.nl, '\\n')", "replaceRegexpAll(properties.s, '[aeiou]', '_')",
    "replaceRegexpAll(properties.version, '(\\\\d+)\\\\.(\\\\d+)', '\\\\2.\\\\1')",
    "replaceRegexpAll(properties.s, '', '-')", "replaceRegexpAll(properties.s, 'o*', '.')",
    "replaceRegexpAll(properties.s, 'r', '\\\\\\\\')", "replaceRegexpAll(properties.s, 'e', '\\\\0\\\\0')",
    "splitByChar(',', 'a,b,,c')", "splitByChar('.', coalesce(properties.version, ''))", "splitByChar(',', '')",
    "toString(splitByChar(',', 'a,b c,,\"x\",\\\\,null,{}'))", "length(splitByChar(',', event))",
    "concat(splitByChar(',', '')) = '{}'",
    "JSONExtractString(properties, 's')", "JSONExtractString(properties, 'n')", "JSONExtractString(properties, 'x')",
    "JSONExtractString(person.properties, 'plan')", "JSONExtractString(properties, event)",
    # numbers from text
    "toInt(properties.n)", "toInt(properties.ws)", "toInt(properties.plus)", "toInt(properties.id)",
    "toInt(properties.e)", "toInt(properties.huge)", "toInt(properties.f)", "toInt(2.7)", "toInt(-2.7)",
    "toInt64(properties.neg)", "toFloat(properties.f)", "toFloat(properties.dot)", "toFloat(properties.space)",
    "toFloat(properties.huge)", "toFloat(properties.`inf`)", "toString(toFloat('-0'))", "toString(-(0.0))", "toFloat64(properties.e)", "toFloat(true)",
    "toFloat(properties.n) > 1e300", "properties.huge > 5", "properties.id = 1234567890123456789",
    "1234567890123456788 < properties.id", "properties.id in (1234567890123456789)", "properties.n in (5.0, 12)",
    "properties.f >= 2.5", "2 < properties.n", "(properties.s = 'Chrome') = properties.b",
    # conditionals and nulls
    "if(properties.n > 6, 'big', 'small')", "if(toBool(properties.b), 1, 2.5)", "if(1 = 1, properties.s, null)",
    "if(null, 1, 2)", "multiIf(properties.n = 5, 'five', properties.n = 12, 'twelve', 'other')",
    "multiIf(false, 1, 2)", "coalesce(properties.missing, properties.s, 'x')", "coalesce(null, 1, 2.5)",
    "coalesce(toInt(properties.n), -1)", "coalesce(properties.n, 3)", "ifNull(properties.s, 'none')",
    "ifNull(null, null)", "isNull(properties.s)", "isNotNull(person_id)", "toBool(properties.b)",
    "toBool('1')", "toBool('no')", "toBool(0)", "toBool(2.5)", "toBool(properties.missing)",
    # dates
    "now()", "today()", "toDate(timestamp)", "toDate('2026-11-01 23:30:00')", "toDateTime('2026-11-01')",
    "toStartOfHour(timestamp)", "toStartOfDay(timestamp)", "toStartOfWeek(timestamp)", "toStartOfMonth(timestamp)",
    "toStartOfWeek(toDateTime('2026-11-07 23:00:00'))", "toTimeZone(timestamp, 'Asia/Kolkata')",
    "toStartOfHour(toTimeZone(timestamp, 'Asia/Kolkata'))", "timestamp + interval 90 minute",
    "timestamp - interval 1 month", "timestamp + interval 1.5 second", "timestamp + interval 2.5 day",
    "timestamp + interval 1 quarter", "timestamp - interval 1 year", "timestamp + interval 1 week",
    "timestamp + interval toInt(properties.n) hour", "timestamp + interval null day",
    "dateDiff('second', timestamp, now())", "dateDiff('minute', timestamp, timestamp + interval 90 second)",
    "dateDiff('hour', '2026-11-01 10:59:59', '2026-11-01 11:00:00')", "dateDiff('day', timestamp, now())",
    "dateDiff('week', '2026-11-01', '2026-11-02')", "dateDiff('week', timestamp, now())",
    "dateDiff('month', '2026-01-31', '2026-02-01')", "dateDiff('quarter', timestamp, '2027-06-30')",
    "dateDiff('year', '2025-12-31', '2027-01-01')", "dateDiff('day', person.created_at, timestamp) >= 0",
    "toDate(timestamp) = today()", "toDate(timestamp) = '2026-11-01'", "coalesce(timestamp, now())",
]  # fmt: skip
AGGREGATES = [
    "count()", "count(properties.s)", "count(distinct properties.s)", "uniq(properties.s)", "countIf(properties.n > 6)",
    "sum(toInt(properties.n))", "sum(toFloat(properties.f))", "sum(properties.n > 6)", "sum(distinct toInt(1))",
    "avg(toInt(properties.n))", "avg(toFloat(properties.f))", "min(timestamp)", "max(properties.s)",
    "min(properties.n > 6)", "max(toFloat(properties.whole))", "min(toDate(timestamp))",
    "quantile(0.9)(toFloat(properties.f))", "median(toInt(properties.n))", "argMax(properties.s, timestamp)",
    "argMin(properties.s, timestamp)", "length(groupArray(properties.s))", "any(properties.missing)",
]  # fmt: skip
REFUSED = [
    "properties.a + 1", "concat()", "like(event, 'a\\\\')", "event like 'a\\\\'", "replaceRegexpAll(event, 'a', '\\\\1')",
    "properties.s =~ '('",
    "not properties.b", "toBool(properties.missing) and properties.s",
]  # fmt: skip


@pytest.fixture(scope="module")
def stored_corpus(django_db_setup: None, django_db_blocker: Any, clickhouse: Any) -> Iterator[Engines]:
    with stored_once(django_db_blocker, clickhouse, CORPUS) as stored:
        yield stored


@pytest.fixture
def corpus(db: None, stored_corpus: Engines) -> Engines:
    return replace(stored_corpus)


def test_every_function_is_covered() -> None:
    used = {match for text in EXPRESSIONS + AGGREGATES for match in re.findall(r"(\w+)\(", text)}
    assert set(SUPPORTED_FUNCTIONS) - used == set()


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_each_expression_selects_the_same_values(corpus: Engines, expression: str) -> None:
    postgres, clickhouse = select_both(corpus, f"select distinct_id, {expression} from events order by distinct_id")
    assert isinstance(postgres, list), postgres
    assert isinstance(clickhouse, list), clickhouse
    assert same(postgres, clickhouse), (postgres, clickhouse)


@pytest.mark.parametrize("aggregate", AGGREGATES)
def test_each_aggregate_gives_the_same_value(corpus: Engines, aggregate: str) -> None:
    for query in (f"select {aggregate} from events", f"select event, {aggregate} from events group by event "
                  "order by event", f"select {aggregate} from events where event = 'none'"):  # fmt: skip
        postgres, clickhouse = select_both(corpus, query)
        assert isinstance(postgres, list) and isinstance(clickhouse, list), (query, postgres, clickhouse)
        assert same(postgres, clickhouse), (query, postgres, clickhouse)


@pytest.mark.parametrize("expression", REFUSED)
def test_what_is_refused_is_refused_up_front_by_both(corpus: Engines, expression: str) -> None:
    postgres, clickhouse = select_both(corpus, f"select {expression} from events")
    assert str(postgres).startswith("HogQLError") and str(clickhouse).startswith("HogQLError"), (postgres, clickhouse)


@pytest.mark.parametrize(
    "query",
    [
        "select distinct properties.s from events order by properties.s desc",
        "select properties.n, count() from events group by properties.n order by properties.n",
        "select distinct_id from events order by toInt(properties.n) desc, distinct_id",
        "select distinct_id from events order by toInt(properties.n) asc, distinct_id limit 2 offset 1",
        "select event, count() as c from events group by event having c > 1",
        "select toStartOfDay(timestamp) as day, count() from events group by day order by day",
        "select * from events order by timestamp",
        "select e.event from events e where e.properties.s = 'Chrome'",
    ],
)
def test_statements_give_the_same_rows_in_the_same_order(corpus: Engines, query: str) -> None:
    postgres, clickhouse = select_both(corpus, query)
    assert isinstance(postgres, list) and isinstance(clickhouse, list), (postgres, clickhouse)
    if query.startswith("select * "):  # the properties column is the stored JSON in each (the same value)
        postgres = [row[:2] + row[3:] for row in postgres]
        clickhouse = [row[:2] + row[3:] for row in clickhouse]
    assert same(postgres, clickhouse), (postgres, clickhouse)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("select count() from persons", "The persons table is not available on ClickHouse"),
        ("select person.is_identified from events", "person.is_identified is not available on ClickHouse"),
        ("select event from events where event =~ '(?=a)'", "invalid perl operator: (?="),
        ("select match(event, 'a{2000}') from events", "invalid repetition size: {2000}"),
    ],
)
def test_what_clickhouse_cannot_read_is_a_hogql_error(corpus: Engines, query: str, message: str) -> None:
    with pytest.raises(HogQLError, match=re.escape(message)):
        print_select(parse_select(query), dialect=clickhouse_dialect(DATABASE), context=corpus.context, text=query)


def test_the_database_name_is_an_identifier() -> None:
    with pytest.raises(ValueError, match="not a ClickHouse database name"):
        clickhouse_dialect("events; drop table x")


@pytest.mark.parametrize(
    ("pattern", "accepted"),
    [
        ("^a.*b$", True), ("(?i)abc", True), ("(?P<name>a)|b", True), ("\\d+\\.\\w\\s\\b", True), ("[a-z]{2,1000}", True),
        ("(a)\\1", False), ("(?=a)", False), ("(?<!a)b", False), ("a{1001}", False), ("(a{100}){11}", False),
        ("a*+", False), ("(?>a)", False), ("\\Z", False), ("(?x) a", False), ("\\u00e9", False), ("a{,3}", True),
        ("[[:alpha:]]", True), ("\\pL", True), ("(", False), ("[\\b]", False),
    ],
)  # fmt: skip
def test_pattern_problems_are_found_before_clickhouse_runs_the_pattern(
    engines: Engines, pattern: str, accepted: bool
) -> None:
    assert (pattern_problem(pattern) is None) is accepted, pattern_problem(pattern)
    if accepted:  # and ClickHouse does run it
        engines.run_clickhouse(sql("SELECT match({}, {})", "x", pattern))


ZONED = [
    "toString(timestamp)", "toDate(timestamp)", "toStartOfHour(timestamp)", "toStartOfDay(timestamp)",
    "toStartOfMonth(timestamp)", "toStartOfWeek(timestamp)", "dateDiff('day', timestamp, now())",
    "dateDiff('week', timestamp, now())", "dateDiff('hour', timestamp, now())", "timestamp > '2026-11-01 07:30:00'",
    "toStartOfDay(timestamp) + interval 1 day", "toDate('2026-11-01 23:30:00')", "today()",
    "toString(toTimeZone(timestamp, 'Asia/Kolkata'))",
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "expression"),
    [(zone, expression) for zone in ("America/New_York", "Asia/Kolkata") for expression in ZONED],
)  # fmt: skip
def test_dates_read_in_the_projects_time_zone(corpus: Engines, zone: str, expression: str) -> None:
    corpus.timezone = zone
    postgres, clickhouse = select_both(corpus, f"select distinct_id, {expression} from events order by distinct_id")
    assert isinstance(postgres, list) and isinstance(clickhouse, list), (postgres, clickhouse)
    assert same(postgres, clickhouse), (postgres, clickhouse)


MOMENTS = ["1960-03-01 00:30:00", "1969-12-31 22:00:00", "2026-11-01 05:30:00", "2026-11-01 06:30:00",
           "2026-03-08 07:30:00", "2026-04-05 15:45:00", "2299-12-31 23:59:00"]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "moment", "function"),
    [(zone, moment, function) for zone in ("UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
     for moment in MOMENTS for function in ("toStartOfHour", "toStartOfDay", "toStartOfWeek", "toStartOfMonth",
                                            "toDate")],
)  # fmt: skip
def test_moments_are_truncated_alike_before_1970_and_across_dst(
    engines: Engines, zone: str, moment: str, function: str
) -> None:
    engines.store(CORPUS[:1])
    engines.timezone = zone
    postgres, clickhouse = select_both(engines, f"select {function}(toDateTime('{moment}')) from events")
    assert postgres == clickhouse
