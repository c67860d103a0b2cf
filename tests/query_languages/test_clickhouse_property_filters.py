"""Property filters compiled for ClickHouse mean what they mean compiled for PostgreSQL and matched in Python: every
operator, over values that each engine reads differently if it can (numbers in text, JSON floats, dates as text and
as unix time, versions, elements chains), selects the same events in all three."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.sql_schema import clickhouse_dialect, postgres_dialect
from query_languages import (
    PropertyFilterError,
    compile_filters,
    parse_property_filters,
)
from query_languages.property_filters import OPERATORS
from tests.query_languages.engines import BASE_TIME, DATABASE, NOW, Engines, Refused, Stored, stored_once
from tests.support.differential import assert_compared
from tests.support.profiles import examples

pytestmark = pytest.mark.django_db

CHAIN = (
    'button.btn.primary:attr__class="btn primary"nth-child="2"nth-of-type="1"text="Buy \\"now\\"";'
    'form:attr__id="checkout"attr_id="checkout"href="/pay?a=1;b"nth-child="1"nth-of-type="1";'
    'div.page:attr__class="page"nth-child="1"nth-of-type="1"'
)
CORPUS = [
    Stored("chrome", {"$browser": "Chrome", "n": 5, "price": "19.99", "flag": True, "tags": ["a", "b"], "empty": "",
                      "url": "https://shop.example/p/77?x=1", "version": "1.2.3", "signup": "2024-01-05T10:00:00Z",
                      "seen": 1325961000, "nested": {"k": "v"}, "big": 1e20, "small": 1.5e-7, "whole": 100.0,
                      "text": "50%_off", "ws": " 7 ", "id": "1234567890123456789", "like": "[not json",
                      "frac": -0.5},
           person={"email": "a@x.io", "plan": "pro"}, elements_chain=CHAIN),
    Stored("firefox", {"$browser": "Firefox", "n": 10, "price": 5, "flag": False, "version": "2.0.0",
                       "signup": "2023-12-31", "seen": 1704067200000, "whole": 7.0, "text": "50 off", "ws": "+7",
                       "id": 1234567890123456789, "like": '{"k": 1}', "frac": "-0.5"},
           person={"plan": "free"}, timestamp=BASE_TIME + timedelta(minutes=1),
           elements_chain='a.nav:href="/home"nth-child="1"nth-of-type="1"text="Home"'),
    Stored("safari", {"$browser": "safari", "n": "7", "version": "v1.10", "nullish": None, "signup": "2024-1-5",
                      "seen": "1704067200", "price": "1e3", "zero": -0.0, "u": "ÀB", "ws": "\t7\n"},
           timestamp=BASE_TIME + timedelta(days=3)),
    Stored("bare", {}, event="$autocapture", timestamp=BASE_TIME - timedelta(days=40)),
    Stored("numstr", {"n": "5.0", "flag": "true", "$browser": "CHROME", "price": " 19.99 ", "version": " 1.2",
                      "signup": "2024-01-05 11:00:00+02:00", "seen": 1e15, "big": "1e400", "u": "àb"},
           person={}, timestamp=BASE_TIME + timedelta(hours=2, microseconds=500)),
]  # fmt: skip


def leaf(key: str, value: Any = None, operator: str = "exact", type: str = "event") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": type}


CASES: list[tuple[str, Any]] = [
    ("exact", [leaf("$browser", "Chrome")]),
    ("exact list", [leaf("$browser", ["Chrome", "firefox", "safari"])]),
    ("exact empty list", [leaf("$browser", [])]),
    ("exact number", [leaf("n", 5)]),
    ("exact numeric text", [leaf("n", 7)]),
    ("exact float equals int", [leaf("n", 5.0)]),
    ("exact whole float", [leaf("whole", 100)]),
    ("exact whole float text", [leaf("whole", "100.0")]),
    ("exact big float", [leaf("big", 1e20)]),
    ("exact big float text", [leaf("big", "100000000000000000000")]),
    ("exact small float text", [leaf("small", "0.00000015")]),
    ("exact negative zero", [leaf("zero", 0)]),
    ("exact big id", [leaf("id", 1234567890123456789)]),
    ("exact true", [leaf("flag", True)]),
    ("exact 'False'", [leaf("flag", "False")]),
    ("exact object text", [leaf("nested", '{"k": "v"}')]),
    ("exact list text", [leaf("tags", '["a", "b"]')]),
    ("exact empty string", [leaf("empty", "")]),
    ("exact a string like a list", [leaf("like", "[not json")]),
    ("exact a negative fraction", [leaf("frac", "-0.5")]),
    ("is_not", [leaf("$browser", "Chrome", "is_not")]),
    ("is_not list", [leaf("$browser", ["Chrome", "Firefox"], "is_not")]),
    ("icontains", [leaf("$browser", "chrome", "icontains")]),
    ("icontains unicode", [leaf("u", "àB", "icontains")]),
    ("icontains %", [leaf("text", "%", "icontains")]),
    ("icontains _", [leaf("text", "0_o", "icontains")]),
    ("icontains backslash", [leaf("url", "\\", "icontains")]),
    ("icontains a URL", [leaf("url", "https://shop", "icontains")]),
    ("icontains across an object's separator", [leaf("nested", 'k":"v', "icontains")]),
    ("icontains an object's text", [leaf("nested", '"k": "v"', "icontains")]),
    ("icontains a whole float's text", [leaf("whole", ".0", "icontains")]),
    ("icontains a big float's text", [leaf("big", "000", "icontains")]),
    ("icontains a string like an object", [leaf("like", '{"k"', "icontains")]),
    ("not_icontains", [leaf("$browser", "chrome", "not_icontains")]),
    ("icontains_multi", [leaf("$browser", ["fire", "saf"], "icontains_multi")]),
    ("not_icontains_multi", [leaf("$browser", ["fire", "saf"], "not_icontains_multi")]),
    ("regex", [leaf("$browser", "^[A-Z]", "regex")]),
    ("regex on numbers", [leaf("n", "^\\d+$", "regex")]),
    ("regex on a float's text", [leaf("whole", "\\.0$", "regex")]),
    ("regex list", [leaf("$browser", ["^C", "x$"], "regex")]),
    ("not_regex", [leaf("$browser", "^[A-Z]", "not_regex")]),
    ("gt", [leaf("n", 6, "gt")]),
    ("gt on text with spaces", [leaf("ws", 6, "gt")]),
    ("gte", [leaf("price", 19.99, "gte")]),
    ("lt", [leaf("price", 100, "lt")]),
    ("lte list", [leaf("n", [5, 7], "lte")]),
    ("min", [leaf("n", "7", "min")]),
    ("max", [leaf("n", 5, "max")]),
    ("gt big", [leaf("big", 1e19, "gt")]),
    ("lt a negative fraction", [leaf("frac", 0, "lt")]),
    ("between", [leaf("price", [5, 20], "between")]),
    ("not_between", [leaf("price", [6, 20], "not_between")]),
    ("in", [leaf("$browser", ["safari", "Firefox"], "in")]),
    ("in numbers", [leaf("n", [5, 10], "in")]),
    ("not_in", [leaf("$browser", ["safari", "Firefox"], "not_in")]),
    ("is_set", [leaf("flag", operator="is_set")]),
    ("is_set JSON null", [leaf("nullish", operator="is_set")]),
    ("is_not_set", [leaf("flag", operator="is_not_set")]),
    ("is_date_exact a day", [leaf("signup", "2023-12-31", "is_date_exact")]),
    ("is_date_exact unpadded", [leaf("signup", "2024-01-05", "is_date_exact")]),
    ("is_date_before", [leaf("signup", "2024-01-01", "is_date_before")]),
    ("is_date_after", [leaf("signup", "2024-01-05 09:30:00", "is_date_after")]),
    ("is_date_after unix", [leaf("seen", "2012-01-07 18:00:00", "is_date_after")]),
    ("is_date_before unix", [leaf("seen", "2025-01-01", "is_date_before")]),
    ("is_date_after relative", [leaf("signup", "-1100d", "is_date_after")]),
    ("semver_eq", [leaf("version", "1.2.3", "semver_eq")]),
    ("semver_neq", [leaf("version", "1.2.3", "semver_neq")]),
    ("semver_gt", [leaf("version", "1.2.0", "semver_gt")]),
    ("semver_gte", [leaf("version", "1.10", "semver_gte")]),
    ("semver_lt", [leaf("version", "1.5.0", "semver_lt")]),
    ("semver_lte", [leaf("version", "1.2", "semver_lte")]),
    ("semver_tilde", [leaf("version", "1.2", "semver_tilde")]),
    ("semver_caret", [leaf("version", "1.0.0", "semver_caret")]),
    ("semver_wildcard", [leaf("version", "2.*", "semver_wildcard")]),
    ("flag_evaluates_to", [leaf("anything", True, "flag_evaluates_to")]),
    ("person exact", [leaf("plan", "pro", type="person")]),
    ("person is_not", [leaf("plan", "pro", "is_not", "person")]),
    ("person is_set", [leaf("email", operator="is_set", type="person")]),
    ("person is_not_set", [leaf("email", operator="is_not_set", type="person")]),
    ("element tag_name", [leaf("tag_name", "button", type="element")]),
    ("element tag_name is_not", [leaf("tag_name", "button", "is_not", "element")]),
    ("element text", [leaf("text", 'Buy "now"', type="element")]),
    ("element text icontains", [leaf("text", "buy", "icontains", "element")]),
    ("element href", [leaf("href", "/pay?a=1;b", type="element")]),
    ("element href regex", [leaf("href", "^/h", "regex", "element")]),
    ("element text not_icontains", [leaf("text", "home", "not_icontains", "element")]),
    ("selector descendant", [leaf("selector", "div button.btn", type="element")]),
    ("selector id and class", [leaf("selector", "form#checkout .primary", type="element")]),
    ("selector child", [leaf("selector", "form > button", type="element")]),
    ("selector child mismatch", [leaf("selector", "div > button", type="element")]),
    ("selector list", [leaf("selector", ["a.nav", "span"], type="element")]),
    ("selector is_not", [leaf("selector", "div button", "is_not", "element")]),
    ("event_metadata distinct_id", [leaf("distinct_id", "firefox", type="event_metadata")]),
    ("event_metadata event", [leaf("event", "$autocapture", "is_not", "event_metadata")]),
    ("event_metadata timestamp exact", [leaf("timestamp", "2026-11-01 12:01:00+00", type="event_metadata")]),
    ("event_metadata timestamp text", [leaf("timestamp", ".0005+00", "icontains", "event_metadata")]),
    ("event_metadata timestamp date", [leaf("timestamp", "2026-11-01", "is_date_exact", "event_metadata")]),
    ("event_metadata timestamp after", [leaf("timestamp", "2026-11-01 12:30:00", "is_date_after", "event_metadata")]),
    ("event_metadata elements_chain", [leaf("elements_chain", "checkout", "icontains", "event_metadata")]),
    ("$elements_chain", [leaf("$elements_chain", "nav", "icontains")]),
    ("OR group", {"type": "OR", "values": [leaf("$browser", "Chrome"), leaf("n", 7)]}),
    ("nested groups", {"type": "AND", "values": [
        {"type": "OR", "values": [leaf("$browser", "Chrome"), leaf("$browser", "safari")]},
        {"type": "AND", "values": [leaf("n", 4, "gt")]}]}),
    ("legacy dict", {"$browser__icontains": "fire", "n__gt": 1}),
    ("hogql", [{"type": "hogql", "key": "properties.n > 6 or person.properties.plan = 'pro'"}]),
    ("hogql with filters", [{"type": "hogql", "key": "toFloat(properties.price) * 2 > 30"}, leaf("flag", True)]),
]  # fmt: skip


@pytest.fixture(scope="module")
def stored_corpus(django_db_setup: None, django_db_blocker: Any, clickhouse: Any) -> Iterator[Engines]:
    with stored_once(django_db_blocker, clickhouse, CORPUS) as stored:
        yield stored


@pytest.fixture
def corpus(db: None, stored_corpus: Engines) -> Engines:
    return replace(stored_corpus)


def test_every_operator_is_covered() -> None:
    used = {item["operator"] for _, raw in CASES if isinstance(raw, list) for item in raw if "operator" in item}
    assert OPERATORS - used == set()


@pytest.mark.parametrize(("name", "raw"), CASES, ids=[case[0] for case in CASES])
def test_the_three_engines_match_the_same_events(corpus: Engines, name: str, raw: Any) -> None:
    tree = parse_property_filters(raw)
    in_python = corpus.matching_in_python(tree)
    assert corpus.matching(tree, postgres_dialect()) == in_python, "PostgreSQL"
    assert corpus.matching(tree, clickhouse_dialect(DATABASE)) == in_python, "ClickHouse"


def test_clickhouse_reads_the_person_from_the_event() -> None:
    tree = parse_property_filters([leaf("plan", "pro", type="person")])
    assert compile_filters(tree, tz=NOW.tzinfo, now=NOW, dialect=postgres_dialect()).needs_person
    compiled = compile_filters(tree, tz=NOW.tzinfo, now=NOW, dialect=clickhouse_dialect(DATABASE))
    assert not compiled.needs_person and "e.person_properties" in compiled.where.text


KEYS = sorted({key for stored in CORPUS for key in stored.properties} | {"missing"})
VALUES = st.one_of(
    st.sampled_from(["Chrome", "chrome", "5", "7", "5.0", "1e3", " 19.99 ", "true", "False", "", "%", "_", "1.2",
                     "v1", "2024-01-05", "2023-12-31 23:00:00", "-7d", "1704067200", "^[a-z]", "\\d", "100.0",
                     "100000000000000000000", "0.00000015", '{"k": "v"}', "1234567890123456789", "ÀB"]),
    st.sampled_from([5, 7, 10, 0, -1, 2.5, 19.99, 1e20, 1e-7, 100, 1234567890123456789, True, False]),
)  # fmt: skip
OPERATOR_VALUES = {"between": st.tuples(st.integers(-5, 20), st.integers(0, 30)).map(lambda t: [t[0], t[0] + t[1]]),
                   "not_between": st.tuples(st.integers(-5, 20), st.integers(0, 30)).map(lambda t: [t[0], t[0] + t[1]]),
                   "in": st.lists(VALUES, max_size=3), "not_in": st.lists(VALUES, max_size=3)}  # fmt: skip
filters = st.sampled_from(sorted(OPERATORS)).flatmap(
    lambda operator: st.builds(
        leaf,
        st.sampled_from(KEYS),
        OPERATOR_VALUES.get(operator, st.one_of(VALUES, st.lists(VALUES, min_size=1, max_size=3))),
        st.just(operator),
        st.sampled_from(["event", "event", "person"]),
    )
)


def test_generated_filters_match_the_same_events(corpus: Engines) -> None:
    compared: set[str] = set()

    @settings(max_examples=examples(share=1 / 3))  # each example queries both databases
    @given(raw=st.lists(filters, min_size=1, max_size=2))
    def check(raw: list[dict[str, Any]]) -> None:
        try:
            tree = parse_property_filters(raw)
        except PropertyFilterError:
            return
        in_python = corpus.matching_in_python(tree)
        try:
            in_postgres = corpus.matching(tree, postgres_dialect())
        except Refused as error:
            raise AssertionError(f"PostgreSQL refused {raw}: {error}") from None
        assert in_postgres == in_python, ("PostgreSQL", raw)
        assert corpus.matching(tree, clickhouse_dialect(DATABASE)) == in_python, ("ClickHouse", raw)
        compared.add(repr(raw))

    check()
    assert_compared(compared, examples=examples(share=1 / 3), what="property filters")
