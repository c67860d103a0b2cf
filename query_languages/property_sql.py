"""Property filters compiled to parameterised SQL over `events_event AS e` (and `events_person AS p` for person
filters). Keys and values only ever travel as parameters; the SQL text is built from fixed fragments.

The semantics are those of `events.property_matching` (see its docstring); the casts that could fail
(numbers, dates, versions) go through the `posthog_*` SQL functions, which answer NULL instead of erroring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from query_languages.hogql import Context, PostgresDialect, print_condition
from query_languages.property_filters import (
    NEGATED_OPERATORS,
    POSITIVE_OF,
    PropertyFilter,
    PropertyGroup,
    PropertyNode,
    SimpleSelector,
    date_range,
    filter_numbers,
    filter_texts,
    parse_selector,
    semver_bounds,
)
from query_languages.sql import Sql, join, like_pattern, sql

METADATA_COLUMNS = {"distinct_id": "e.distinct_id", "event": "e.event", "uuid": "e.uuid::text",
                    "elements_chain": "e.elements_chain", "timestamp": "e.timestamp::text"}  # fmt: skip
NUMERIC_CHECKS = {"gt": ">", "gte": ">=", "min": ">=", "lt": "<", "lte": "<=", "max": "<="}
SEMVER_CHECKS = {"semver_eq": "=", "semver_neq": "<>", "semver_gt": ">", "semver_gte": ">=", "semver_lt": "<",
                 "semver_lte": "<="}  # fmt: skip


TRUE, FALSE = Sql("TRUE"), Sql("FALSE")


@dataclass(frozen=True)
class _Value:
    """Ways to read one property: as jsonb, as text, and (for the timestamp column) as a native timestamp."""

    json: Sql
    text: Sql
    moment: Sql | None = None

    @property
    def number(self) -> Sql:
        return sql("posthog_json_numeric({})", self.json)

    @property
    def timestamp(self) -> Sql:
        return self.moment or sql("posthog_json_timestamptz({})", self.json)


class _Compiler:
    def __init__(self, tz: tzinfo, now: datetime) -> None:
        self.tz = tz
        self.now = now
        self.needs_person = False
        self.has_hogql = False

    def node(self, node: PropertyNode) -> Sql:
        if isinstance(node, PropertyFilter):
            return self.leaf(node)
        if not node.values:
            return TRUE
        return sql("({})", join(f" {node.type} ", [self.node(child) for child in node.values]))

    def value(self, leaf: PropertyFilter) -> _Value:
        if leaf.type == "event_metadata":
            column = Sql(METADATA_COLUMNS[leaf.key])
            moment = Sql("e.timestamp") if leaf.key == "timestamp" else None
            return _Value(sql("to_jsonb({})", column), column, moment)
        if leaf.type == "event" and leaf.key == "$elements_chain":
            return _Value(Sql("to_jsonb(e.elements_chain)"), Sql("e.elements_chain"))
        source = "e.properties"
        if leaf.type == "person":
            self.needs_person = True
            source = "p.properties"
        return _Value(sql(f"({source} -> {{}})", leaf.key), sql(f"({source} ->> {{}})", leaf.key))

    def leaf(self, leaf: PropertyFilter) -> Sql:
        if leaf.operator == "flag_evaluates_to":
            return TRUE
        if leaf.type == "hogql":
            name = getattr(self.tz, "key", "UTC")
            context = Context(team_id=0, timezone=name, tz=self.tz, now=self.now)
            printed = print_condition(leaf.value, dialect=PostgresDialect(), context=context)
            self.needs_person = self.needs_person or printed.needs_person
            self.has_hogql = True
            return printed.condition
        if leaf.type == "element":
            return self.element(leaf)
        return self.compare(leaf.operator, leaf.value, self.value(leaf))

    def compare(self, operator: str, filter_value: Any, value: _Value) -> Sql:
        if operator in NEGATED_OPERATORS:
            return sql("NOT {}", self.compare(POSITIVE_OF[operator], filter_value, value))
        if operator in ("is_set", "is_not_set"):
            present = sql("coalesce(jsonb_typeof({}), 'null') <> 'null'", value.json)
            return sql("({})" if operator == "is_set" else "(NOT {})", present)
        return sql("coalesce({}, false)", self.positive(operator, filter_value, value))

    def positive(self, operator: str, filter_value: Any, value: _Value) -> Sql:
        values = filter_value if isinstance(filter_value, tuple) else (filter_value,)
        if operator in ("exact", "in"):
            if not values:
                return TRUE if operator == "exact" else FALSE
            condition = sql("{} = ANY({}::text[])", value.text, filter_texts(filter_value))
            numbers = filter_numbers(filter_value)
            if numbers:
                same_number = sql(
                    "(jsonb_typeof({}) = 'number' AND {}::numeric = ANY({}::numeric[]))",
                    value.json,
                    value.json,
                    numbers,
                )
                condition = sql("{} OR {}", condition, same_number)
            return sql("({})", condition)
        if operator in ("icontains", "icontains_multi"):
            patterns = [like_pattern(item) for item in filter_texts(filter_value)]
            return sql("({} ILIKE ANY({}::text[]))", value.text, patterns)
        if operator == "regex":
            return sql("({} ~ ANY({}::text[]))", value.text, [str(v) for v in values])
        if operator in NUMERIC_CHECKS:
            return sql(f"({{}} {NUMERIC_CHECKS[operator]} ANY({{}}::numeric[]))", value.number, list(values))
        if operator == "between":
            low, high = filter_value
            return sql("({} BETWEEN {} AND {})", value.number, low, high)
        if operator == "not_between":
            low, high = filter_value
            return sql("({} < {} OR {} > {})", value.number, low, value.number, high)
        if operator in ("is_date_exact", "is_date_before", "is_date_after"):
            return sql("({})", join(" OR ", [self.date(operator, item, value) for item in values]))
        if operator.startswith("semver_"):
            return sql("({})", join(" OR ", [self.semver(operator, str(item), value) for item in values]))
        raise ValueError(f"unhandled operator {operator}")  # the parser admits no other operator

    def date(self, operator: str, item: Any, value: _Value) -> Sql:
        start, end = date_range(operator, item, tz=self.tz, now=self.now)
        if operator == "is_date_exact":
            return sql("({} >= {} AND {} < {})", value.timestamp, start, value.timestamp, end)
        if operator == "is_date_before":
            return sql("{} < {}", value.timestamp, start)
        return sql("{} >= {}", value.timestamp, end)

    def semver(self, operator: str, item: str, value: _Value) -> Sql:
        key = sql("posthog_semver_key({})", value.text)
        lower, upper = semver_bounds(operator, item)
        if upper is not None:
            return sql("({} >= {}::bigint[] AND {} < {}::bigint[])", key, list(lower), key, list(upper))
        return sql(f"({{}} {SEMVER_CHECKS[operator]} {{}}::bigint[])", key, list(lower))

    def element(self, leaf: PropertyFilter) -> Sql:
        negated = leaf.operator in NEGATED_OPERATORS
        if leaf.key == "selector":
            values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            patterns = [selector_regex(parse_selector(str(v)) or []) for v in values]
            found = sql("(e.elements_chain ~ ANY({}::text[]))", patterns)
        else:
            operator = POSITIVE_OF.get(leaf.operator, leaf.operator)
            condition = self.compare(operator, leaf.value, _Value(Sql("to_jsonb(ev.v)"), Sql("ev.v")))
            found = sql(
                "EXISTS (SELECT 1 FROM unnest(posthog_chain_values(e.elements_chain, {})) AS ev(v) WHERE {})",
                leaf.key,
                condition,
            )
        return sql("NOT {}", found) if negated else found


def _element_regex(selector: SimpleSelector) -> str:
    tag = re.escape(selector.tag) if selector.tag else "[^.:;]*"
    classes = "".join(r"(?:\.[^.:;]+)*\." + re.escape(name) for name in selector.classes)
    pattern = tag + classes + r"(?:\.[^.:;]+)*(?=[:;]|$)"
    if selector.element_id:
        pattern += r':[^;]*(?:attr__id|attr_id)="' + re.escape(selector.element_id) + '"'
    return pattern


def selector_regex(parts: list[SimpleSelector]) -> str:
    """A regex over an elements chain (innermost element first) for a selector (outermost part first)."""
    innermost, *ancestors = reversed(parts)
    pattern = "(?:^|;)" + _element_regex(innermost)
    for ancestor in ancestors:
        # An ancestor marked child_of_next must be the element right after the previous one in the chain.
        between = "" if ancestor.child_of_next else "(?:;[^;]*)*?"
        pattern += "[^;]*" + between + ";" + _element_regex(ancestor)
    return pattern


@dataclass(frozen=True)
class CompiledFilter:
    where: Sql
    needs_person: bool
    # Whether it holds HogQL a user wrote (which the database might still refuse).
    has_hogql: bool = False


def compile_filters(group: PropertyGroup, *, tz: tzinfo, now: datetime) -> CompiledFilter:
    compiler = _Compiler(tz, now)
    where = compiler.node(group)
    return CompiledFilter(where=where, needs_person=compiler.needs_person, has_hogql=compiler.has_hogql)
