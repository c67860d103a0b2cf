"""Property filters evaluated in Python against one event (online evaluation of newly ingested events).

The semantics mirror `property_sql` exactly (the tests run both over the same events): a missing
property fails positive operators and passes negated ones (`is_not`, `not_icontains`, `not_regex`, `not_in`);
list values match when any value does, and negated operators need every value to hold.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from query_languages.dates import from_unix, parse_iso
from query_languages.elements import parse_elements_chain
from query_languages.hogql.interpreter import compile_condition
from query_languages.json_text import json_as_text
from query_languages.patterns import DATE_PREFIX as DATE_PATTERN
from query_languages.patterns import NUMERIC_TEXT as NUMERIC_PATTERN
from query_languages.property_filters import (
    NEGATED_OPERATORS,
    POSITIVE_OF,
    PropertyFilter,
    PropertyNode,
    SimpleSelector,
    date_range,
    filter_numbers,
    filter_texts,
    parse_selector,
    semver_bounds,
    semver_key,
)
from query_languages.regex import RegexError, compile_pattern

MISSING = object()
NUMERIC_TEXT = re.compile(NUMERIC_PATTERN)
DATE_PREFIX = re.compile(DATE_PATTERN)
DATE_PARTS = re.compile(r"^([\t\n\v\f\r ]*[0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def compile_regex(pattern: str) -> Any:
    try:
        return compile_pattern(pattern, dot_all=True)  # as ClickHouse's match: `.` matches a newline too
    except RegexError:
        return None


@dataclass(slots=True)
class EventView:
    """What a filter can read of one event. (Not frozen: one is built per event matched, and a frozen dataclass
    costs twice as much to build.)"""

    properties: Mapping[str, Any]
    event: str = ""
    distinct_id: str = ""
    uuid: str = ""
    timestamp: datetime | None = None
    elements_chain: str = ""
    person_properties: Mapping[str, Any] | None = None


Matcher = Callable[[EventView], bool]


def compile_matcher(node: PropertyNode, *, tz: tzinfo = UTC, now: datetime | None = None) -> Matcher:
    """A function testing one event against the tree. Everything about the filters is worked out here, once, so
    testing many events (a batch, against several evaluations) costs only the reading and comparing of values."""
    now = now or datetime.now(UTC)
    if isinstance(node, PropertyFilter):
        return _leaf(node, tz, now)
    children = [compile_matcher(child, tz=tz, now=now) for child in node.values]
    if not children:
        return lambda event: True
    if len(children) == 1:
        return children[0]
    if node.type == "AND":
        return lambda event: all(child(event) for child in children)
    return lambda event: any(child(event) for child in children)


def matches(node: PropertyNode, event: EventView, *, tz: tzinfo = UTC, now: datetime | None = None) -> bool:
    return compile_matcher(node, tz=tz, now=now)(event)


# --- reading values -------------------------------------------------------------------------------------


def _reader(leaf: PropertyFilter) -> Callable[[EventView], Any]:
    """How a filter reads its value from an event (MISSING when absent)."""
    key = leaf.key
    if leaf.type == "event_metadata":
        if key == "timestamp":
            return lambda event: timestamp_text(event.timestamp) if event.timestamp else MISSING
        return lambda event: getattr(event, key)
    if leaf.type == "event" and key == "$elements_chain":
        return lambda event: event.elements_chain
    if leaf.type == "person":
        return lambda event: MISSING if event.person_properties is None else event.person_properties.get(key, MISSING)
    return lambda event: event.properties.get(key, MISSING)


def timestamp_text(moment: datetime) -> str:
    """A moment as PostgreSQL prints a timestamptz in UTC: `2026-11-01 12:00:00.5+00`."""
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return f"{utc.year:04d}-{utc:%m-%d %H:%M:%S}{fraction}+00"


def _text(value: Any) -> str | None:
    """The text PostgreSQL's `->>` gives for a jsonb value (None when the property is missing)."""
    return None if value is MISSING else json_as_text(value)


def _number(value: Any) -> int | float | Decimal | None:
    """A JSON number or numeric text, exact as PostgreSQL's numeric reads it (a large integer is not rounded to a
    float: 1234567890123456700 stays below 1234567890123456789)."""
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and NUMERIC_TEXT.match(value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _moment(value: Any) -> datetime | None:
    number = _number(value)
    if number is not None:
        return from_unix(float(number))
    if isinstance(value, str) and DATE_PREFIX.match(value):
        # PostgreSQL reads `2024-1-5` as `2024-01-05`, which Python's ISO parser needs.
        padded = DATE_PARTS.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", value, count=1)
        return parse_iso(padded, tz=UTC)
    return None


# --- operators --------------------------------------------------------------------------------------------


def _leaf(leaf: PropertyFilter, tz: tzinfo, now: datetime) -> Matcher:
    if leaf.operator == "flag_evaluates_to":
        return lambda event: True
    if leaf.type == "element":
        return _element(leaf, tz, now)
    if leaf.type == "hogql":
        return compile_condition(leaf.value, tz=tz, now=now)
    test, read = comparison(leaf.operator, leaf.value, tz=tz, now=now), _reader(leaf)
    return lambda event: test(read(event))


Comparison = Callable[[Any], bool]
NUMERIC_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "min": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "max": operator.le,
}


def comparison(op: str, filter_value: Any, *, tz: tzinfo, now: datetime) -> Comparison:
    """The test `op filter_value` as a function of the property's value (MISSING when absent)."""
    if op in NEGATED_OPERATORS:
        positive = comparison(POSITIVE_OF[op], filter_value, tz=tz, now=now)
        return lambda value: not positive(value)
    if op == "is_set":
        return lambda value: value is not MISSING and value is not None
    if op == "is_not_set":
        return lambda value: value is MISSING or value is None
    values = filter_value if isinstance(filter_value, tuple) else (filter_value,)
    if op in ("exact", "in"):
        if not values:
            return lambda value: op == "exact"
        texts, numbers = frozenset(filter_texts(filter_value)), frozenset(filter_numbers(filter_value))

        def exact(value: Any) -> bool:
            if _text(value) in texts:
                return True
            return isinstance(value, int | float) and not isinstance(value, bool) and float(value) in numbers

        return exact
    if op in ("icontains", "icontains_multi"):
        needles = [needle.lower() for needle in filter_texts(filter_value)]

        def contains(value: Any) -> bool:
            text = _text(value)
            return text is not None and any(needle in text.lower() for needle in needles)

        return contains
    if op == "regex":
        patterns = [pattern for pattern in (compile_regex(str(item)) for item in values) if pattern is not None]

        def searched(value: Any) -> bool:
            text = _text(value)
            return text is not None and any(pattern.search(text) for pattern in patterns)

        return searched
    if op in NUMERIC_CHECKS:
        check = NUMERIC_CHECKS[op]

        def numeric(value: Any) -> bool:
            number = _number(value)
            return number is not None and any(check(number, bound) for bound in values)

        return numeric
    if op in ("between", "not_between"):
        low, high = filter_value

        def ranged(value: Any) -> bool:
            number = _number(value)
            return number is not None and (low <= number <= high) == (op == "between")

        return ranged
    if op in ("is_date_exact", "is_date_before", "is_date_after"):
        ranges = [date_range(op, item, tz=tz, now=now) for item in values]

        def dated(value: Any) -> bool:
            moment = _moment(value)
            if moment is None:
                return False
            if op == "is_date_exact":
                return any(start <= moment < end for start, end in ranges)
            if op == "is_date_before":
                return any(moment < start for start, _ in ranges)
            return any(moment >= end for _, end in ranges)

        return dated
    if op.startswith("semver_"):
        items = [str(item) for item in values]

        def versioned(value: Any) -> bool:
            key = semver_key(_text(value))
            return key is not None and any(_semver(op, key, item) for item in items)

        return versioned
    raise ValueError(f"unhandled operator {op}")  # the parser admits no other operator


def _semver(operator: str, key: tuple[int, int, int], value: str) -> bool:
    lower, upper = semver_bounds(operator, value)
    if upper is not None:
        return lower <= key < upper
    return {
        "semver_eq": key == lower,
        "semver_neq": key != lower,
        "semver_gt": key > lower,
        "semver_gte": key >= lower,
        "semver_lt": key < lower,
        "semver_lte": key <= lower,
    }[operator]


# --- elements ----------------------------------------------------------------------------------------------


def _element(leaf: PropertyFilter, tz: tzinfo, now: datetime) -> Matcher:
    if leaf.key == "selector":
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        selectors = [parse_selector(str(v)) or [] for v in values]
        wanted = leaf.operator == "exact"

        def selected(event: EventView) -> bool:
            elements = parse_elements_chain(event.elements_chain)
            return wanted == any(_selector_matches(parts, elements) for parts in selectors)

        return selected
    test = comparison(POSITIVE_OF.get(leaf.operator, leaf.operator), leaf.value, tz=tz, now=now)
    negated = leaf.operator in NEGATED_OPERATORS

    def element_matches(event: EventView) -> bool:
        found = any(
            element[leaf.key] is not None and test(element[leaf.key])
            for element in parse_elements_chain(event.elements_chain)
        )
        return found != negated

    return element_matches


def _element_matches(selector: SimpleSelector, element: dict[str, Any]) -> bool:
    if selector.tag is not None and element["tag_name"] != selector.tag:
        return False
    if not set(selector.classes) <= set(element["attr_class"] or []):
        return False
    element_id = element["attributes"].get("attr__id", element["attr_id"])
    return selector.element_id is None or element_id == selector.element_id


def _selector_matches(parts: list[SimpleSelector], elements: list[dict[str, Any]]) -> bool:
    """`parts` run outermost first; `elements` innermost first, so ancestors sit at higher indexes."""

    def match_from(part_index: int, element_index: int) -> bool:
        if not _element_matches(parts[part_index], elements[element_index]):
            return False
        if part_index == 0:
            return True
        parent = parts[part_index - 1]
        if parent.child_of_next:
            return element_index + 1 < len(elements) and match_from(part_index - 1, element_index + 1)
        return any(match_from(part_index - 1, j) for j in range(element_index + 1, len(elements)))

    return bool(parts) and any(match_from(len(parts) - 1, i) for i in range(len(elements)))
