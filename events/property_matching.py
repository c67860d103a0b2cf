"""Property filters evaluated in Python against one event (online evaluation of newly ingested events).

The semantics mirror `events.property_sql` exactly (the tests run both over the same events): a missing
property fails positive operators and passes negated ones (`is_not`, `not_icontains`, `not_regex`, `not_in`);
list values match when any value does, and negated operators need every value to hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson

from events.dates import from_unix, parse_iso
from events.elements import parse_elements_chain
from events.property_filters import (
    NEGATED_OPERATORS,
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

MISSING = object()
NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,4})?\s*$")
DATE_PREFIX = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}")
POSITIVE_OF = {
    "is_not": "exact",
    "not_icontains": "icontains",
    "not_regex": "regex",
    "not_in": "in",
    "not_icontains_multi": "icontains_multi",
}


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def python_regex_problem(pattern: str) -> str | None:
    """Why Python cannot run `pattern`, or None; for filters that will be matched in Python."""
    try:
        re.compile(pattern)
    except re.error as error:
        return str(error)
    return None


@dataclass(frozen=True)
class EventView:
    """What a filter can read of one event."""

    properties: Mapping[str, Any]
    event: str = ""
    distinct_id: str = ""
    uuid: str = ""
    timestamp: datetime | None = None
    elements_chain: str = ""
    person_properties: Mapping[str, Any] | None = None


def matches(node: PropertyNode, event: EventView, *, tz: tzinfo = UTC, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    if isinstance(node, PropertyFilter):
        return _leaf(node, event, tz, now)
    results = (matches(child, event, tz=tz, now=now) for child in node.values)
    return all(results) if node.type == "AND" else any(results) if node.values else True


# --- reading values -------------------------------------------------------------------------------------


def _value(leaf: PropertyFilter, event: EventView) -> Any:
    if leaf.type == "event_metadata":
        if leaf.key == "timestamp":
            return event.timestamp.isoformat() if event.timestamp else MISSING
        return getattr(event, leaf.key)
    if leaf.type == "event" and leaf.key == "$elements_chain":
        return event.elements_chain
    source = event.person_properties if leaf.type == "person" else event.properties
    if source is None:
        return MISSING
    return source.get(leaf.key, MISSING)


def _text(value: Any) -> str | None:
    """The text PostgreSQL's `->>` gives for a jsonb value."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(orjson.dumps(value).decode()), "f")
    return orjson.dumps(value).decode()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and NUMERIC_TEXT.match(value):
        try:
            return float(Decimal(value.strip()))
        except (InvalidOperation, OverflowError):
            return None
    return None


def _moment(value: Any) -> datetime | None:
    number = _number(value)
    if number is not None:
        return from_unix(number)
    if isinstance(value, str) and DATE_PREFIX.match(value):
        return parse_iso(value, tz=UTC)
    return None


# --- operators --------------------------------------------------------------------------------------------


def _leaf(leaf: PropertyFilter, event: EventView, tz: tzinfo, now: datetime) -> bool:
    if leaf.operator == "flag_evaluates_to":
        return True
    if leaf.type == "element":
        return _element(leaf, event, tz, now)
    return compare(leaf.operator, leaf.value, _value(leaf, event), tz=tz, now=now)


def compare(operator: str, filter_value: Any, value: Any, *, tz: tzinfo, now: datetime) -> bool:
    if operator in NEGATED_OPERATORS:
        return not compare(POSITIVE_OF[operator], filter_value, value, tz=tz, now=now)
    if operator == "is_set":
        return value is not MISSING and value is not None
    if operator == "is_not_set":
        return value is MISSING or value is None
    values = filter_value if isinstance(filter_value, tuple) else (filter_value,)
    if operator in ("exact", "in"):
        if not values:
            return operator == "exact"
        text = _text(value)
        if text is not None and text in filter_texts(filter_value):
            return True
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        return number is not None and float(number) in filter_numbers(filter_value)
    text = _text(value)
    if operator in ("icontains", "icontains_multi"):
        return text is not None and any(needle.lower() in text.lower() for needle in filter_texts(filter_value))
    if operator == "regex":
        patterns = [compile_regex(str(item)) for item in values]
        return text is not None and any(p is not None and p.search(text) for p in patterns)
    if operator in ("gt", "gte", "lt", "lte", "min", "max"):
        number = _number(value)
        check = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "min": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
            "max": lambda a, b: a <= b,
        }[operator]
        return number is not None and any(check(number, bound) for bound in values)
    if operator in ("between", "not_between"):
        number = _number(value)
        if number is None:
            return False
        low, high = filter_value
        inside = low <= number <= high
        return inside if operator == "between" else not inside
    if operator in ("is_date_exact", "is_date_before", "is_date_after"):
        moment = _moment(value)
        if moment is None:
            return False
        for item in values:
            start, end = date_range(operator, item, tz=tz, now=now)
            if operator == "is_date_exact" and start <= moment < end:
                return True
            if (operator == "is_date_before" and moment < start) or (operator == "is_date_after" and moment >= end):
                return True
        return False
    if operator.startswith("semver_"):
        key = semver_key(text)
        return key is not None and any(_semver(operator, key, str(item)) for item in values)
    raise ValueError(f"unhandled operator {operator}")  # the parser admits no other operator


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


def _element(leaf: PropertyFilter, event: EventView, tz: tzinfo, now: datetime) -> bool:
    elements = parse_elements_chain(event.elements_chain)
    if leaf.key == "selector":
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        found = any(_selector_matches(parse_selector(str(v)) or [], elements) for v in values)
        return found if leaf.operator == "exact" else not found
    operator = POSITIVE_OF.get(leaf.operator, leaf.operator)
    found = any(
        element[leaf.key] is not None and compare(operator, leaf.value, element[leaf.key], tz=tz, now=now)
        for element in elements
    )
    return not found if leaf.operator in NEGATED_OPERATORS else found


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
