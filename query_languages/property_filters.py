"""PostHog property filters: parsing and validation into a small typed tree.

The tree is what both evaluators consume: `property_sql` compiles it to parameterised SQL over the events
table, and `events.property_matching` evaluates it against one event in Python. Parsing is strict: a malformed
filter is an error carrying the path to the offending field (for a precise `attr`), never silently dropped.
Regular expressions are left to the engine that runs them (PostgreSQL or Python), which validates its own.

Accepted shapes: a flat list (ANDed), a group `{"type": "AND"|"OR", "values": [...]}` (nestable), a single filter
`{"key": ...}`, and the legacy dict `{"$browser": "Chrome", "$os__icontains": "mac"}`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from query_languages.dates import parse_filter_datetime
from query_languages.hogql.context import Context
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.interpreter import check_filter_fields, compile_condition
from query_languages.hogql.parser import parse_expr
from query_languages.hogql.printer import check_condition
from query_languages.patterns import SEMVER_KEY
from query_languages.regex import pattern_problem

Path = tuple[str | int, ...]
Scalar = str | int | float | bool


class PropertyFilterError(ValueError):
    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def attr(self, prefix: str | None = None) -> str | None:
        parts = [prefix, *self.path] if prefix else list(self.path)
        return "__".join(str(part) for part in parts) or None


OPERATORS: frozenset[str] = frozenset(
    {
        "exact",
        "is_not",
        "icontains",
        "not_icontains",
        "icontains_multi",
        "not_icontains_multi",
        "regex",
        "not_regex",
        "gt",
        "gte",
        "lt",
        "lte",
        "min",
        "max",
        "between",
        "not_between",
        "in",
        "not_in",
        "is_set",
        "is_not_set",
        "is_date_exact",
        "is_date_before",
        "is_date_after",
        "semver_eq",
        "semver_neq",
        "semver_gt",
        "semver_gte",
        "semver_lt",
        "semver_lte",
        "semver_tilde",
        "semver_caret",
        "semver_wildcard",
        "flag_evaluates_to",
    }
)
VALUELESS_OPERATORS = frozenset({"is_set", "is_not_set"})
NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte", "min", "max"})
RANGE_OPERATORS = frozenset({"between", "not_between"})
LIST_OPERATORS = frozenset({"in", "not_in", "icontains_multi", "not_icontains_multi"})
DATE_OPERATORS = frozenset({"is_date_exact", "is_date_before", "is_date_after"})
SEMVER_OPERATORS = frozenset(op for op in OPERATORS if op.startswith("semver_"))
# Operators whose list values must all hold (AND); for every other operator one matching value suffices (OR).
NEGATED_OPERATORS = frozenset({"is_not", "not_icontains", "not_regex", "not_icontains_multi", "not_in"})
# Each negated operator is the negation of this one, in both engines.
POSITIVE_OF = {
    "is_not": "exact",
    "not_icontains": "icontains",
    "not_regex": "regex",
    "not_in": "in",
    "not_icontains_multi": "icontains_multi",
}

SUPPORTED_TYPES = frozenset({"event", "person", "element", "event_metadata", "hogql"})
KNOWN_UNSUPPORTED_TYPES = frozenset(
    {
        "cohort",
        "static-cohort",
        "dynamic-cohort",
        "precalculated-cohort",
        "group",
        "feature",
        "session",
        "recording",
        "log_entry",
        "behavioral",
        "data_warehouse",
        "data_warehouse_person_property",
        "error_tracking_issue",
        "log",
        "log_attribute",
        "log_resource_attribute",
        "revenue_analytics",
        "flag",
        "workflow_variable",
    }
)
# What the OpenAPI document says a filter is. A value's meaning depends on its operator (a regex must compile, a
# date operator needs a date), which the parser checks and no JSON Schema states.
PROPERTY_FILTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A PostHog property filter.",
    "properties": {
        "key": {"type": "string", "minLength": 1},
        "value": {
            "oneOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}},
            ]
        },
        "operator": {"type": "string", "enum": sorted(OPERATORS), "default": "exact"},
        "type": {"type": "string", "enum": sorted(SUPPORTED_TYPES - {"hogql"}), "default": "event"},
    },
    "required": ["key"],
}
ELEMENT_KEYS = frozenset({"tag_name", "text", "href", "selector"})
EVENT_METADATA_KEYS = frozenset({"distinct_id", "event", "timestamp", "uuid", "elements_chain"})
# Deeper trees serve no real filter and would only exhaust the recursion of the parser and both evaluators.
MAX_GROUP_DEPTH = 20
# At most 15 digits a part, as a version is read (and compared as 64-bit integers).
SEMVER_PATTERN = re.compile(r"^v?([0-9]{1,15})(?:\.([0-9]{1,15}|\*))?(?:\.([0-9]{1,15}|\*))?(?:[-+].*)?$")


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    operator: str
    type: str
    # A tuple of scalars for list values; a scalar otherwise; None for is_set/is_not_set; for `hogql` filters the
    # parsed expression (the key is its text).
    value: Any


@dataclass(frozen=True)
class PropertyGroup:
    type: Literal["AND", "OR"]
    values: tuple[PropertyFilter | PropertyGroup, ...]


PropertyNode = PropertyFilter | PropertyGroup
MATCH_EVERYTHING = PropertyGroup(type="AND", values=())


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and not (isinstance(value, float) and not math.isfinite(value))


def _as_number(value: Any, operator: str, path: Path) -> int | float:
    """A numeric filter value; whole numbers stay exact integers (as a float, 1234567890123456789 would compare as
    1234567890123456768, and PostgreSQL would read that float with 15 digits)."""
    if isinstance(value, bool):
        raise PropertyFilterError(f"The {operator} operator requires numeric values.", path)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str):
        if value.strip().lstrip("+-").isascii() and value.strip().lstrip("+-").isdigit():
            return int(value.strip())
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    raise PropertyFilterError(f"The {operator} operator requires numeric values.", path)


RegexCheck = Callable[[str], str | None]


def parse_property_filters(raw: Any, path: Path = (), *, regex_check: RegexCheck | None = None) -> PropertyGroup:
    """Parse any accepted shape into a group; raises PropertyFilterError with the path of the first problem.

    `regex_check(pattern)` returns a problem description for a pattern the evaluating engine cannot run.
    """
    return _Parser(regex_check).parse(raw, path)


class _Parser:
    def __init__(self, regex_check: RegexCheck | None) -> None:
        self.regex_check = regex_check

    def parse(self, raw: Any, path: Path) -> PropertyGroup:
        if raw is None:
            return MATCH_EVERYTHING
        if isinstance(raw, list):
            return PropertyGroup(type="AND", values=self.items(raw, path))
        if isinstance(raw, dict):
            if "values" in raw and "type" in raw:
                return self.group(raw, path)
            if "key" in raw:
                return PropertyGroup(type="AND", values=(self.leaf(raw, path),))
            return PropertyGroup(type="AND", values=tuple(self.legacy(raw, path)))
        raise PropertyFilterError("Properties must be a list of filters or a filter group.", path)

    def items(self, items: list[Any], path: Path) -> tuple[PropertyNode, ...]:
        nodes: list[PropertyNode] = []
        for index, item in enumerate(items):
            item_path = (*path, index)
            if not isinstance(item, dict):
                raise PropertyFilterError("Each property filter must be an object.", item_path)
            if "values" in item and "type" in item:
                nodes.append(self.group(item, item_path))
            else:
                nodes.append(self.leaf(item, item_path))
        if len({type(node) for node in nodes}) > 1:
            raise PropertyFilterError("Property list cannot contain both PropertyGroup and Property objects", path)
        return tuple(nodes)

    def group(self, raw: dict[str, Any], path: Path) -> PropertyGroup:
        if path.count("values") >= MAX_GROUP_DEPTH:
            raise PropertyFilterError(f"Property groups nest at most {MAX_GROUP_DEPTH} levels deep.", path)
        group_type = raw.get("type")
        if not isinstance(group_type, str) or group_type.upper() not in ("AND", "OR"):
            raise PropertyFilterError('A property group type must be "AND" or "OR".', (*path, "type"))
        values = raw.get("values")
        if not isinstance(values, list):
            raise PropertyFilterError("A property group needs a list of values.", (*path, "values"))
        return PropertyGroup(type=group_type.upper(), values=self.items(values, (*path, "values")))

    def legacy(self, raw: dict[str, Any], path: Path) -> list[PropertyFilter]:
        filters = []
        for name, value in raw.items():
            key, operator = name, "exact"
            if "__" in name:
                head, _, tail = name.rpartition("__")
                if tail in OPERATORS:
                    key, operator = head, tail
            filters.append(self.leaf({"key": key, "value": value, "operator": operator}, (*path, name)))
        return filters

    def leaf(self, raw: dict[str, Any], path: Path) -> PropertyFilter:
        key = raw.get("key")
        if not isinstance(key, str) or not key:
            raise PropertyFilterError("A property filter needs a non-empty string key.", (*path, "key"))
        filter_type = raw.get("type") or "event"
        if not isinstance(filter_type, str):
            raise PropertyFilterError("The filter type must be a string.", (*path, "type"))
        if filter_type in KNOWN_UNSUPPORTED_TYPES:
            raise PropertyFilterError(f"Property filters of type '{filter_type}' are not supported.", (*path, "type"))
        if filter_type not in SUPPORTED_TYPES:
            raise PropertyFilterError(f"Unknown property filter type '{filter_type}'.", (*path, "type"))
        if filter_type == "hogql":
            return PropertyFilter(key=key, operator="exact", type="hogql", value=self.hogql(key, (*path, "key")))
        operator = raw.get("operator") or "exact"
        if operator not in OPERATORS:
            raise PropertyFilterError(f"Unknown operator '{operator}'.", (*path, "operator"))
        if filter_type == "element":
            if key not in ELEMENT_KEYS:
                raise PropertyFilterError(
                    f"Element filters support the keys {', '.join(sorted(ELEMENT_KEYS))}.", (*path, "key")
                )
            if key == "selector" and operator not in ("exact", "is_not"):
                raise PropertyFilterError("Selector filters support only exact and is_not.", (*path, "operator"))
        if filter_type == "event_metadata" and key not in EVENT_METADATA_KEYS:
            raise PropertyFilterError(
                f"Event metadata filters support the keys {', '.join(sorted(EVENT_METADATA_KEYS))}.",
                (*path, "key"),
            )
        value = self.value(operator, raw.get("value"), (*path, "value"), present="value" in raw)
        if filter_type == "element" and key == "selector":
            for selector in value if isinstance(value, tuple) else (value,):
                if parse_selector(str(selector)) is None:
                    raise PropertyFilterError(
                        f"Unsupported selector '{selector}': use tags, .classes, #ids, spaces and >.",
                        (*path, "value"),
                    )
        return PropertyFilter(key=key, operator=operator, type=filter_type, value=value)

    def hogql(self, text: str, path: Path) -> Any:
        """A HogQL condition both engines can run: it parses, reads only what one event holds, means something as
        a condition (for SQL) and compiles for Python, and has no aggregate."""
        try:
            expr = parse_expr(text)
            check_filter_fields(expr)
            context = Context(team_id=0, timezone="UTC", tz=UTC, now=datetime.now(UTC))
            check_condition(expr, context=context, regex_problem=self.hogql_regex_problem)
            compile_condition(expr, tz=UTC, now=context.now)
        except HogQLError as error:
            raise PropertyFilterError(f"Invalid HogQL: {error}", path) from None
        return expr

    def hogql_regex_problem(self, pattern: str) -> str | None:
        """The evaluating engine's refusal (`regex_check`), else RE2's (HogQL's patterns are RE2's)."""
        return (self.regex_check(pattern) if self.regex_check is not None else None) or pattern_problem(pattern)

    def value(self, operator: str, value: Any, path: Path, *, present: bool) -> Any:
        if operator in VALUELESS_OPERATORS or operator == "flag_evaluates_to":
            return None
        if not present or value is None:
            raise PropertyFilterError(f"The {operator} operator requires a value.", path)
        if operator in RANGE_OPERATORS:
            if not isinstance(value, list) or len(value) != 2:
                raise PropertyFilterError(f"The {operator} operator requires a two-element array [min, max].", path)
            low, high = (_as_number(item, operator, path) for item in value)
            if low > high:
                raise PropertyFilterError(
                    f"The {operator} operator requires min value to be less than or equal to max value.", path
                )
            return (low, high)
        if operator in ("in", "not_in") and not isinstance(value, list):
            raise PropertyFilterError(f"The {operator} operator requires a list of values.", path)
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            if not _is_scalar(item):
                raise PropertyFilterError("Filter values must be strings, numbers or booleans.", (*path, index))
        if operator in NUMERIC_OPERATORS:
            values = [_as_number(item, operator, path) for item in values]
        elif operator in DATE_OPERATORS:
            for item in values:
                if parse_filter_datetime(item) is None:
                    raise PropertyFilterError(f"'{item}' is not a date, a relative date or a unix timestamp.", path)
        elif operator in SEMVER_OPERATORS:
            for item in values:
                if not isinstance(item, str) or not SEMVER_PATTERN.match(item.strip()):
                    raise PropertyFilterError(f"'{item}' is not a semantic version.", path)
        elif operator in ("regex", "not_regex") and self.regex_check is not None:
            for item in values:
                problem = self.regex_check(str(item))
                if problem:
                    raise PropertyFilterError(f"Invalid regular expression '{item}': {problem}.", path)
        if isinstance(value, list) or operator in LIST_OPERATORS:
            return tuple(values)
        return values[0]


def leaves(node: PropertyNode) -> list[PropertyFilter]:
    """Every leaf filter of a tree, depth first."""
    if isinstance(node, PropertyFilter):
        return [node]
    return [leaf for child in node.values for leaf in leaves(child)]


# --- value semantics shared by the SQL compiler and the Python matcher --------------------------------------
# A property is compared through its text form: strings as they are, booleans as "true"/"false", numbers as
# their JSON text. Filter values get the same treatment ("True" means true, 5.0 means 5), so `exact` on 5
# matches both the number 5 and the string "5". Numeric operators read numbers and numeric strings; date
# operators read ISO strings and unix timestamps (seconds or milliseconds).


def filter_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value in ("True", "False"):
        return value.lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def filter_texts(value: Any) -> list[str]:
    return [filter_text(item) for item in (value if isinstance(value, tuple) else (value,))]


def filter_numbers(value: Any) -> list[float]:
    """Numeric filter values (for `exact` on a JSON number); text that is not a number is left out."""
    numbers = []
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, int | float) and not isinstance(item, bool):
            numbers.append(float(item))
    return numbers


DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def date_range(operator: str, value: Scalar, *, tz: Any, now: Any) -> tuple[Any, Any]:
    """The instants an `is_date_*` filter accepts, as [start, end): a bare date means the whole day in the
    team's timezone; anything else means that instant."""
    moment = parse_filter_datetime(value, tz=tz, now=now)
    assert moment is not None  # validated when parsed
    if isinstance(value, str) and DATE_ONLY.match(value):
        return moment, moment + timedelta(days=1)
    return moment, moment + timedelta(microseconds=1)


def semver_key(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    match = re.match(SEMVER_KEY, text)
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor or 0), int(patch or 0)


def semver_bounds(operator: str, value: str) -> tuple[tuple[int, int, int], tuple[int, int, int] | None]:
    """[lower, upper) for the range operators: `~1.2.3` → [1.2.3, 1.3.0), `^1.2.3` → [1.2.3, 2.0.0),
    `^0.2.3` → [0.2.3, 0.3.0), `1.2.*` → [1.2.0, 1.3.0)."""
    text = value.strip().lstrip("~^=")
    match = SEMVER_PATTERN.match(text)
    assert match is not None  # validated when parsed
    major = int(match.group(1))
    minor_raw, patch_raw = match.group(2), match.group(3)
    minor = 0 if minor_raw in (None, "*") else int(minor_raw)
    patch = 0 if patch_raw in (None, "*") else int(patch_raw)
    lower = (major, minor, patch)
    if operator == "semver_tilde":
        return lower, (major, minor + 1, 0)
    if operator == "semver_caret":
        if major > 0:
            return lower, (major + 1, 0, 0)
        if minor > 0:
            return lower, (0, minor + 1, 0)
        return lower, (0, 0, patch + 1)
    if operator == "semver_wildcard":
        if minor_raw in (None, "*"):
            return (major, 0, 0), (major + 1, 0, 0)
        return (major, minor, 0), (major, minor + 1, 0)
    return lower, None


SELECTOR_PART = re.compile(r"^(?P<tag>[a-zA-Z][a-zA-Z0-9-]*|\*)?(?P<rest>(?:[.#][-_a-zA-Z0-9]+)*)$")


@dataclass(frozen=True)
class SimpleSelector:
    tag: str | None
    classes: tuple[str, ...]
    element_id: str | None
    # True when this part must be the direct parent of the next part (`a > b`); else any ancestor.
    child_of_next: bool = False


def parse_selector(selector: str) -> list[SimpleSelector] | None:
    """A CSS selector of tags, `.class`, `#id`, descendant spaces and `>`; outermost first. None if unsupported."""
    tokens = selector.replace(">", " > ").split()
    parts: list[SimpleSelector] = []
    child = False
    for token in tokens:
        if token == ">":
            if not parts or child:
                return None
            child = True
            continue
        match = SELECTOR_PART.match(token)
        if not match:
            return None
        rest = match.group("rest")
        classes = tuple(sorted(name[1:] for name in re.findall(r"\.[-_a-zA-Z0-9]+", rest)))
        ids = [name[1:] for name in re.findall(r"#[-_a-zA-Z0-9]+", rest)]
        if len(ids) > 1:
            return None
        tag = match.group("tag")
        if parts and child:
            parts[-1] = SimpleSelector(parts[-1].tag, parts[-1].classes, parts[-1].element_id, child_of_next=True)
        parts.append(SimpleSelector(None if tag in (None, "*") else tag, classes, ids[0] if ids else None))
        child = False
    return parts if parts and not child else None
