"""Generated HogQL (hypothesis): any expression either runs or is refused with a 400, never a 500; and every
generated condition means the same in SQL (over stored events) and in the Python interpreter (over the same
events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import selectors
from query_languages import PropertyFilterError, matches, parse_property_filters
from tests.conftest import Tenant
from tests.events.helpers import event_view, make_event, minutes, store

NOW = datetime(2026, 11, 20, tzinfo=UTC)
EVENTS = {
    "a": {"s": "Chrome", "n": 5, "f": "2.5", "b": True, "t": "x%y"},
    "b": {"s": "firefox", "n": "12", "f": 0, "b": False},
    "c": {"s": "", "n": "abc", "nested": {"k": "v"}},
    "d": {},
}
PERSONS = {"a": {"plan": "pro"}, "b": {"plan": "free"}}

fields = st.sampled_from(["event", "distinct_id", "properties.s", "properties.n", "properties.f", "properties.b",
                          "properties.missing", "properties.nested.k", "person.properties.plan", "properties['t']"])  # fmt: skip
constants = st.one_of(
    st.integers(-20, 20).map(str),
    st.sampled_from(["2.5", "0", "1e3", "true", "false", "null"]),
    st.sampled_from(["'Chrome'", "'5'", "'12'", "''", "'x%y'", "'abc'", "'v'", "'pro'", "'%o%'", "'\\''"]),
)
atoms = st.one_of(fields, constants)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%", "=", "!=", "<", ">=", "and", "or",
                                                  "like", "ilike", "not like"]), children)  # fmt: skip
    calls = st.tuples(
        st.sampled_from(
            ["lower", "upper", "length", "toString", "toInt", "toFloat", "isNull", "isNotNull", "trim", "toBool"]
        ),
        children,
    )
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        calls.map(lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"({c}) is null"),
        st.tuples(children, children).map(lambda t: f"concat({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(children, st.lists(constants, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]} in ({', '.join(t[1])})"
        ),
    )


expressions = st.recursive(atoms, _combine, max_leaves=6)
SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


@pytest.fixture
def corpus(tenant: Tenant) -> list[Any]:
    events = []
    for index, (name, properties) in enumerate(EVENTS.items()):
        person = {"$set": PERSONS[name]} if name in PERSONS else {}
        events.append(make_event(distinct_id=name, properties={**properties, **person}, timestamp=minutes(index)))
    return store(tenant.team, *events)


@pytest.mark.django_db
def test_any_expression_runs_or_is_refused_with_a_400(key_client: Any, tenant: Tenant, corpus: list[Any]) -> None:
    api = key_client("query:read")
    url = f"/api/environments/{tenant.team.id}/query/"

    @SETTINGS
    @given(expression=expressions)
    def check(expression: str) -> None:
        response = api.post(url, {"query": {"kind": "HogQLQuery", "query": f"select {expression} from events"}},
                            format="json")  # fmt: skip
        assert response.status_code in (200, 400), (expression, response.content)
        if response.status_code == 400:
            assert response.json()["type"] == "validation_error", expression

    check()


@pytest.mark.django_db
def test_sql_and_python_agree_on_every_condition(tenant: Tenant, corpus: list[Any]) -> None:
    @SETTINGS
    @given(condition=expressions)
    def check(condition: str) -> None:
        try:
            tree = parse_property_filters([{"type": "hogql", "key": condition}])
        except PropertyFilterError:
            return  # refused up front, identically for both engines
        rows, _ = selectors.events_list(team_id=tenant.team.id, tz=UTC, now=NOW, properties=tree, limit=100)
        in_sql = {row.distinct_id for row in rows}
        in_python = {
            event.distinct_id
            for event in corpus
            if matches(tree, event_view(event, PERSONS.get(event.distinct_id)), tz=UTC, now=NOW)
        }
        assert in_sql == in_python, f"{condition!r}: SQL {sorted(in_sql)}, Python {sorted(in_python)}"

    check()
