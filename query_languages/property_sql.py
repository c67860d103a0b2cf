"""Property filters compiled to parameterised SQL over the events table (alias `e`), for one SQL dialect. Keys and
values only ever travel as parameters; the SQL text is built from fixed fragments.

The semantics are those of `property_matching` (see its docstring), decided here once; a dialect only says how its
database reads a property (as text, as a number, as a moment) and writes each comparison (`Dialect`'s filter
methods). Readings that could
fail (numbers, dates, versions) answer NULL instead of erroring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from query_languages.dialects.base import Dialect
from query_languages.hogql.context import Context
from query_languages.hogql.printer import print_condition
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

NUMERIC_CHECKS = {"gt": ">", "gte": ">=", "min": ">=", "lt": "<", "lte": "<=", "max": "<="}
SEMVER_CHECKS = {"semver_eq": "=", "semver_neq": "<>", "semver_gt": ">", "semver_gte": ">=", "semver_lt": "<",
                 "semver_lte": "<="}  # fmt: skip
TRUE, FALSE = Sql("TRUE"), Sql("FALSE")


class _Compiler:
    def __init__(self, dialect: Dialect, tz: tzinfo, now: datetime) -> None:
        self.d = dialect
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

    def value(self, leaf: PropertyFilter) -> Any:
        if leaf.type == "event_metadata":
            return self.d.filter_column(leaf.key)
        if leaf.type == "event" and leaf.key == "$elements_chain":
            return self.d.filter_column("elements_chain")
        if leaf.type == "person":
            self.needs_person = self.needs_person or self.d.person_join() is not None
        return self.d.filter_property(leaf.key, person=leaf.type == "person")

    def leaf(self, leaf: PropertyFilter) -> Sql:
        if leaf.operator == "flag_evaluates_to":
            return TRUE
        if leaf.type == "hogql":
            name = getattr(self.tz, "key", "UTC")
            context = Context(team_id=0, timezone=name, tz=self.tz, now=self.now)
            printed = print_condition(leaf.value, dialect=self.d, context=context)
            self.needs_person = self.needs_person or printed.needs_person
            self.has_hogql = True
            return printed.condition
        if leaf.type == "element":
            return self.element(leaf)
        return self.compare(leaf.operator, leaf.value, self.value(leaf))

    def compare(self, operator: str, filter_value: Any, value: Any) -> Sql:
        if operator in NEGATED_OPERATORS:
            return sql("NOT {}", self.compare(POSITIVE_OF[operator], filter_value, value))
        if operator in ("is_set", "is_not_set"):
            present = self.d.filter_is_set(value)
            return sql("({})" if operator == "is_set" else "(NOT {})", present)
        return sql("coalesce({}, false)", self.positive(operator, filter_value, value))

    def positive(self, operator: str, filter_value: Any, value: Any) -> Sql:
        values = filter_value if isinstance(filter_value, tuple) else (filter_value,)
        if operator in ("exact", "in"):
            if not values:
                return TRUE if operator == "exact" else FALSE
            return self.d.filter_exact(value, filter_texts(filter_value), filter_numbers(filter_value))
        if operator in ("icontains", "icontains_multi"):
            patterns = [like_pattern(item) for item in filter_texts(filter_value)]
            return self.d.filter_matches_any(self.d.filter_text(value), "ilike", patterns)
        if operator == "regex":
            return self.d.filter_matches_any(self.d.filter_text(value), "regex", [str(v) for v in values])
        if operator in NUMERIC_CHECKS:
            return self.d.filter_number_any(self.d.filter_number(value), NUMERIC_CHECKS[operator], list(values))
        if operator == "between":
            low, high = filter_value
            return sql("({} BETWEEN {} AND {})", self.d.filter_number(value), low, high)
        if operator == "not_between":
            low, high = filter_value
            number = self.d.filter_number(value)
            return sql("({} < {} OR {} > {})", number, low, number, high)
        if operator in ("is_date_exact", "is_date_before", "is_date_after"):
            return sql("({})", join(" OR ", [self.date(operator, item, value) for item in values]))
        if operator.startswith("semver_"):
            return sql("({})", join(" OR ", [self.semver(operator, str(item), value) for item in values]))
        raise ValueError(f"unhandled operator {operator}")  # the parser admits no other operator

    def date(self, operator: str, item: Any, value: Any) -> Sql:
        start, end = date_range(operator, item, tz=self.tz, now=self.now)
        moment = self.d.filter_moment(value)
        if operator == "is_date_exact":
            return sql("({} >= {} AND {} < {})", moment, start, moment, end)
        if operator == "is_date_before":
            return sql("{} < {}", moment, start)
        return sql("{} >= {}", moment, end)

    def semver(self, operator: str, item: str, value: Any) -> Sql:
        lower, upper = semver_bounds(operator, item)
        return self.d.filter_semver(self.d.filter_text(value), SEMVER_CHECKS.get(operator, ""), lower, upper)

    def element(self, leaf: PropertyFilter) -> Sql:
        negated = leaf.operator in NEGATED_OPERATORS
        if leaf.key == "selector":
            values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            patterns = [selector_regex(parse_selector(str(v)) or []) for v in values]
            found = self.d.filter_matches_any(self.d.column("e", "elements_chain"), "regex", patterns)
        else:
            operator = POSITIVE_OF.get(leaf.operator, leaf.operator)
            found = self.d.filter_elements(leaf.key, lambda value: self.compare(operator, leaf.value, value))
        return sql("NOT {}", found) if negated else found


def _element_regex(selector: SimpleSelector, *, last: bool) -> str:
    """One element of the chain, read up to its end (`;`) unless it is the `last` the selector needs. No lookahead,
    so that RE2 (ClickHouse) runs it as PostgreSQL does."""
    tag = re.escape(selector.tag) if selector.tag else "[^.:;]*"
    classes = "".join(r"(?:\.[^.:;]+)*\." + re.escape(name) for name in selector.classes)
    pattern = tag + classes + r"(?:\.[^.:;]+)*"  # its head: tag and classes, up to `:`, `;` or the end
    if selector.element_id:
        pattern += r':[^;]*(?:attr__id|attr_id)="' + re.escape(selector.element_id) + '"'
        return pattern if last else pattern + "[^;]*"
    return pattern + (r"(?:[:;]|$)" if last else "(?::[^;]*)?")


def selector_regex(parts: list[SimpleSelector]) -> str:
    """A regex over an elements chain (innermost element first) for a selector (outermost part first)."""
    innermost, *ancestors = reversed(parts)
    pattern = "(?:^|;)" + _element_regex(innermost, last=not ancestors)
    for index, ancestor in enumerate(ancestors):
        # An ancestor marked child_of_next must be the element right after the previous one in the chain.
        between = "" if ancestor.child_of_next else "(?:;[^;]*)*?"
        pattern += between + ";" + _element_regex(ancestor, last=index == len(ancestors) - 1)
    return pattern


@dataclass(frozen=True)
class CompiledFilter:
    where: Sql
    needs_person: bool
    # Whether it holds HogQL a user wrote (which the database might still refuse).
    has_hogql: bool = False


def compile_filters(group: PropertyGroup, *, tz: tzinfo, now: datetime, dialect: Dialect) -> CompiledFilter:
    """The filters as a condition on the events table `e` of `dialect`."""
    compiler = _Compiler(dialect, tz, now)
    where = compiler.node(group)
    return CompiledFilter(where=where, needs_person=compiler.needs_person, has_hogql=compiler.has_hogql)
