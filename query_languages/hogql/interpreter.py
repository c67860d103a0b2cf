"""HogQL conditions evaluated on one event in Python, with the printer's semantics: SQL's NULL logic with
PostHog's null-safe comparisons, a string beside a number read as a number (NULL when it is not one), `/` as float
division (by zero an infinity), NULL read as '' by concat. Used where a filter must be tested without a database
(online evaluation); the tests run it and the SQL printer on the same events.

Only what one event holds can be read: `event`, `distinct_id`, `uuid`, `timestamp`, `elements_chain`,
`properties…` and `person.properties…` (`FIELDS_IN_FILTERS`); the parser of property filters refuses the rest.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from query_languages.dates import add_months, parse_filter_datetime
from query_languages.hogql import ast
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.functions import (
    COMPARISON_FUNCTIONS,
    check_arity,
    date_format_pieces,
    round_precision,
    valid_time_zone,
)
from query_languages.hogql.semantics import (
    FIRST_DATE,
    LAST_DATE,
    NULL_ANSWERS,
    START_OF,
    clickhouse_replacement,
    date_of_text,
    float_text,
    folded_comparison,
    in_list,
    string_argument,
)
from query_languages.json_text import json_as_text
from query_languages.patterns import NUMERIC_TEXT as NUMERIC_PATTERN
from query_languages.regex import RegexError, compile_pattern, like_pattern

Reader = Callable[[Any], Any]  # the event (an EventView) to a value
NUMERIC_TEXT = re.compile(NUMERIC_PATTERN)
FIELDS_IN_FILTERS = ("event", "distinct_id", "uuid", "timestamp", "elements_chain", "properties", "person")
INTERVAL_DAYS = {"second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7}


def check_filter_fields(expr: ast.Expr) -> None:
    """Refuse fields one event does not hold (for `hogql` property filters, which both engines must run)."""
    if isinstance(expr, ast.Field):
        head = expr.chain[0]
        if head not in FIELDS_IN_FILTERS or (head == "person" and expr.chain[1:2] != ("properties",)):
            raise HogQLError(
                f"'{'.'.join(expr.chain)}' cannot be used in a property filter: use event, distinct_id, uuid, "
                "timestamp, elements_chain, properties.… or person.properties.…",
                expr.start,
                expr.end,
            )
    for child in ast.children(expr):
        check_filter_fields(child)


def compile_condition(expr: ast.Expr, *, tz: tzinfo, now: datetime) -> Callable[[Any], bool]:
    """A test of one event: true only when the condition is true (NULL, like false, does not match)."""
    read = _Compiler(tz, now).expr(expr)
    return lambda event: _truthy(read(event)) is True


def _truthy(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    raise HogQLError("A condition must be true or false.")


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and NUMERIC_TEXT.match(value):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return int(parsed) if parsed == parsed.to_integral_value() and "." not in value and "e" not in value.lower() \
            else float(parsed)  # fmt: skip
    return None


INT64_TEXT = re.compile(r"[-+]?[0-9]+")
FLOAT64_TEXT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
SPECIAL_FLOATS = re.compile(r"[-+]?(inf|infinity|nan)", re.IGNORECASE)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


EPOCH_DAY = date(1970, 1, 1)


def _to_int64(value: Any) -> int | None:
    """ClickHouse's accurateCastOrNull(value, 'Int64'): NULL for what an Int64 cannot hold exactly; a date's days
    since 1970-01-01, a date-time's seconds since the epoch (toward zero)."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, date):
        return (value - EPOCH_DAY).days
    if isinstance(value, str):
        value = int(value) if INT64_TEXT.fullmatch(value) else None
    elif isinstance(value, float):
        value = int(value) if math.isfinite(value) and value == int(value) else None
    elif not isinstance(value, int):  # bool is an int
        return None
    return int(value) if value is not None and INT64_MIN <= value <= INT64_MAX else None


def _to_float64(value: Any) -> float | None:
    """ClickHouse's accurateCastOrNull(value, 'Float64'): a float's text as ClickHouse reads it (beyond the range an
    infinity or zero), an integer only if a float holds it exactly; a date's days since 1970-01-01, a date-time's
    seconds since the epoch."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return float((value - EPOCH_DAY).days)
    if isinstance(value, str):
        if SPECIAL_FLOATS.fullmatch(value):
            return float(value.lstrip("+"))
        return float(value) if FLOAT64_TEXT.fullmatch(value) else None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        exact = abs(value) <= 2**53 or (INT64_MIN <= value < 2**63 and int(float(value)) == value)
        return float(value) if exact else None
    return None


def _uuid(value: Any) -> uuid.UUID | str | None:
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return str(value).lower()


class _BoolLiteral(int):
    """A `true`/`false` literal: a number as a comparison's result is, but read as text `'true'`/`'false'`, as the
    printer types it (a Bool, which ClickHouse prints so) where a comparison's result reads `'1'`/`'0'`."""

    def text(self) -> str:
        return "true" if self else "false"


TRUE_LITERAL, FALSE_LITERAL = _BoolLiteral(1), _BoolLiteral(0)


def _text(value: Any, tz: tzinfo) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if type(value) is _BoolLiteral:
        return value.text()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S.%f")  # as ClickHouse prints a DateTime64(6)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def _compiled(pattern: ast.Expr, *, ignore_case: bool = False) -> Any:
    """A string constant's pattern, compiled by RE2 (what ClickHouse matches with, in linear time) as ClickHouse
    compiles it: `.` matches a newline too."""
    try:
        return compile_pattern(pattern.value, ignore_case=ignore_case, dot_all=True)  # ClickHouse's `.` takes newlines
    except RegexError as error:
        raise HogQLError(f"Invalid regular expression: {error}", pattern.start, pattern.end) from None


def _like(value: Any, pattern: Any, tz: tzinfo, *, insensitive: bool) -> bool | None:
    text, like = _text(value, tz), _text(pattern, tz)
    if text is None or like is None:
        return None
    return like_pattern(like, ignore_case=insensitive).fullmatch(text) is not None


def _and(values: list[bool | None]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


class _Compiler:
    def __init__(self, tz: tzinfo, now: datetime) -> None:
        self.tz = tz
        self.now = now

    def expr(self, node: ast.Expr) -> Reader:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise HogQLError(f"{type(node).__name__} is not supported in a property filter.", node.start, node.end)
        return method(node)

    def _constant(self, node: ast.Constant) -> Reader:
        value = (TRUE_LITERAL if node.value else FALSE_LITERAL) if isinstance(node.value, bool) else node.value
        return lambda event: value

    def _field(self, node: ast.Field) -> Reader:
        head, rest = node.chain[0], node.chain[1:]
        if head == "properties":
            return self._json(lambda event: event.properties, rest)
        if head == "person":  # None without a person: NULL, whole or in part
            return self._json(lambda event: event.person_properties, rest[1:])
        if rest:
            raise HogQLError(f"Unable to resolve field: {'.'.join(node.chain)}", node.start, node.end)
        if head == "uuid":  # a UUID, not text: beside a number it is compared as text, as the printer does
            return lambda event: _uuid(event.uuid)
        return lambda event: getattr(event, head)

    def _json(self, document: Reader, path: tuple[str, ...]) -> Reader:
        if not path:
            return lambda event: json_as_text(document(event))

        def read(event: Any) -> Any:
            value: Any = document(event)
            for key in path:
                if not isinstance(value, dict):
                    return None
                value = value.get(key)
            return json_as_text(value)

        return read

    def _and(self, node: ast.And) -> Reader:
        parts = [self.expr(e) for e in node.exprs]
        return lambda event: _and([_truthy(part(event)) for part in parts])

    def _or(self, node: ast.Or) -> Reader:
        parts = [self.expr(e) for e in node.exprs]
        return lambda event: _or([_truthy(part(event)) for part in parts])

    def _not(self, node: ast.Not) -> Reader:
        inner = self.expr(node.expr)

        def read(event: Any) -> bool | None:
            value = _truthy(inner(event))
            return None if value is None else not value

        return read

    def _isnull(self, node: ast.IsNull) -> Reader:
        inner = self.expr(node.expr)
        return lambda event: (inner(event) is not None) if node.negated else (inner(event) is None)

    def _negate(self, node: ast.Negate) -> Reader:
        inner = self.expr(node.expr)
        return lambda event: None if (n := _number(inner(event))) is None or n == INT64_MIN else -n

    def _arithmetic(self, node: ast.Arithmetic) -> Reader:
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.right, ast.Interval):
            return lambda event: _shift(left(event), right(event), node.op, self.tz)

        def read(event: Any) -> Any:
            a, b = _number(left(event)), _number(right(event))
            if a is None or b is None:
                return None
            if node.op == "/":  # as ClickHouse: by zero an infinity of the dividend's sign, NaN for 0/0
                if b == 0:
                    if a == 0 or math.isnan(a):
                        return math.nan
                    return math.copysign(math.inf, a) * math.copysign(1, b)
                return a / b
            if node.op == "%":
                return None if b == 0 else math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) \
                    else int(math.copysign(abs(a) % abs(b), a))  # fmt: skip
            result = {"+": a + b, "-": a - b, "*": a * b}[node.op]
            if isinstance(result, int) and not INT64_MIN <= result <= INT64_MAX:
                return None  # beyond Int64, as on both stores
            return result

        return read

    def _interval(self, node: ast.Interval) -> Reader:
        amount = self.expr(node.amount)
        return lambda event: (_number(amount(event)), node.unit)

    def _compare(self, node: ast.Compare) -> Reader:
        left, op = self.expr(node.left), node.op
        if op in ("in", "not in"):
            items = in_list(node)
            has_null = any(i.value is None for i in items)
            values = [i.value for i in items if i.value is not None]
            numeric = bool(values) and all(type(v) in (int, float) for v in values)
            numbers_or_bools = bool(values) and all(isinstance(v, int | float) for v in values)

            def member(event: Any) -> bool:
                # As PostHog runs IN (`transform_null_in`): NULL is a value like the others, and the test is never NULL.
                value = left(event)
                if value is None:
                    found: bool | None = has_null
                elif (numeric and isinstance(value, int | float | str)) or (
                    numbers_or_bools and isinstance(value, int | float)  # true and false are 1 and 0 beside a number
                ):  # else (a uuid) as text, as the printer
                    number = _number(value)
                    found = None if number is None else any(number == v for v in values)
                else:
                    text = _text(value, self.tz)
                    found = text in [_text(v, self.tz) if not isinstance(v, bool) else ("true" if v else "false")
                                     for v in values]  # fmt: skip
                return bool(found) if op == "in" else not found

            return member
        folded = folded_comparison(node)
        if folded is not None:
            return lambda event: folded
        right = self.expr(node.right)
        both, one = NULL_ANSWERS[op]

        def null_safe(found: Callable[[Any, Any], bool | None]) -> Reader:
            """`found` of the two sides, with PostHog's answer where a side is NULL (or a text is no number)."""

            def read(event: Any) -> bool:
                a, b = left(event), right(event)
                if a is None or b is None:
                    return both if a is None and b is None else one
                answer = found(a, b)
                return one if answer is None else answer

            return read

        if op in ("like", "not like", "ilike", "not ilike"):

            def like(a: Any, b: Any) -> bool | None:
                matched = _like(a, b, self.tz, insensitive="ilike" in op)
                return None if matched is None else (not matched if op.startswith("not") else matched)

            return null_safe(like)
        if op in ("=~", "!~", "=~*", "!~*"):
            if not isinstance(node.right, ast.Constant) or not isinstance(node.right.value, str):
                raise HogQLError("A regular expression must be a string constant.", node.right.start, node.right.end)
            pattern = _compiled(node.right, ignore_case=op.endswith("*"))

            def regex(a: Any, b: Any) -> bool | None:
                matched = pattern.search(_text(a, self.tz)) is not None
                return not matched if op.startswith("!") else matched

            return null_safe(regex)
        constant_moment = self._moment_constant(node.right) or self._moment_constant(node.left)
        compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
                   "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]  # fmt: skip

        def test(a: Any, b: Any) -> bool | None:
            a, b = self._comparable(a, b, constant_moment)
            if a is None or b is None:
                return None
            return bool(compare(a, b))

        return null_safe(test)

    def _moment_constant(self, node: ast.Expr) -> datetime | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return parse_filter_datetime(node.value, tz=self.tz, now=self.now)
        return None

    def _comparable(self, a: Any, b: Any, moment: datetime | None) -> tuple[Any, Any]:
        a_day, b_day = type(a) is date, type(b) is date
        if a_day or b_day:  # a date beside a date, a date-time (its midnight) or a date's text
            if a_day and b_day:
                return a, b
            other = b if a_day else a
            if isinstance(other, datetime):
                return (_midnight(a, self.tz), b) if a_day else (a, _midnight(b, self.tz))
            day = date_of_text(other) if isinstance(other, str) else None
            return (a, day) if a_day else (day, b)
        if isinstance(a, datetime) or isinstance(b, datetime):
            if isinstance(a, datetime) and isinstance(b, datetime):
                return a, b
            return (a, moment) if isinstance(a, datetime) else (moment, b)
        a_number = isinstance(a, int | float)
        b_number = isinstance(b, int | float)
        if a_number and b_number:
            return a, b
        if (a_number and isinstance(b, str)) or (b_number and isinstance(a, str)):  # a string beside a number
            return _number(a), _number(b)
        return _text(a, self.tz), _text(b, self.tz)

    def _call(self, node: ast.Call) -> Reader:
        check_arity(node)
        if node.name in COMPARISON_FUNCTIONS:  # null-safe as the operator, as the printer reads them
            return self._compare(ast.Compare(COMPARISON_FUNCTIONS[node.name], *node.args, start=node.start,
                                             end=node.end))  # fmt: skip
        args = [self.expr(arg) for arg in node.args]
        name = node.name
        tz = self.tz
        simple: dict[str, Callable[[list[Any]], Any]] = {
            "lower": lambda v: None if v[0] is None else _text(v[0], tz).lower(),
            "upper": lambda v: None if v[0] is None else _text(v[0], tz).upper(),
            "trim": lambda v: None if v[0] is None else _text(v[0], tz).strip(" "),
            "length": lambda v: None if v[0] is None else len(_text(v[0], tz).encode()),
            "concat": lambda v: "".join(_text(x, tz) or "" for x in v),
            "coalesce": lambda v: next((x for x in v if x is not None), None),
            "ifNull": lambda v: v[0] if v[0] is not None else v[1],
            "isNull": lambda v: v[0] is None,
            "isNotNull": lambda v: v[0] is not None,
            "toString": lambda v: _text(v[0], tz),
            "toInt": lambda v: _to_int64(v[0]),
            "toInt64": lambda v: _to_int64(v[0]),
            "toFloat": lambda v: _to_float64(v[0]),
            "toFloat64": lambda v: _to_float64(v[0]),
            "now": lambda v: self.now,
            "today": lambda v: self.now.astimezone(tz).date(),
            "if": lambda v: v[1] if _truthy(v[0]) else v[2],
        }
        if name in simple:
            function = simple[name]
            if name in CHOOSING_FUNCTIONS:
                kind = _common_kind(node.args[CHOOSING_FUNCTIONS[name]])
                if kind == "text":
                    return lambda event: _text(function([arg(event) for arg in args]), tz)
                if kind == "number":
                    return lambda event: _plain(function([arg(event) for arg in args]))
            return lambda event: function([arg(event) for arg in args])
        if name == "toBool":
            return lambda event: _to_bool(args[0](event), tz)
        if name == "replaceRegexpAll":
            string_argument(node, 1, "its pattern")
            compiled_pattern = _compiled(node.args[1])
            replacement = clickhouse_replacement(string_argument(node, 2, "its replacement"))[1]
            return lambda event: None if (t := _text(args[0](event), tz)) is None else compiled_pattern.sub(
                replacement, t)  # fmt: skip
        if name == "dateDiff":
            unit = string_argument(node, 0, "the unit").lower()
            constants = [self._moment_constant(arg) for arg in node.args[1:]]
            return lambda event: _date_diff(unit, args[1](event), args[2](event), constants, tz)
        if name == "multiIf":
            kind = _kind(node)
            if kind == "text":
                return lambda event: _text(_multi_if([arg(event) for arg in args]), tz)
            if kind == "number":
                return lambda event: _plain(_multi_if([arg(event) for arg in args]))
            return lambda event: _multi_if([arg(event) for arg in args])
        if name == "match":
            pattern = node.args[1]
            if not isinstance(pattern, ast.Constant) or not isinstance(pattern.value, str):
                raise HogQLError("match() needs a string constant as its pattern.", pattern.start, pattern.end)
            compiled = _compiled(pattern)
            return lambda event: None if (t := _text(args[0](event), tz)) is None else compiled.search(t) is not None
        if name in ("round", "floor", "ceil"):
            precision = round_precision(node)
            return lambda event: _at_precision(args[0](event), precision, name)
        if name == "sqrt":
            return lambda event: _sqrt(args[0](event))
        if name in ("pow", "power"):
            return lambda event: _pow(args[0](event), args[1](event))
        if name in ("greatest", "least"):
            found = {_kind(arg) for arg in node.args} - {None}
            kinds = {"number" if k == "bool" else k for k in found}
            kind = next(iter(kinds)) if len(kinds) == 1 else None
            if len(kinds) > 1:
                raise HogQLError(f"{name}() compares values of one kind: texts or numbers, not both.", node.start,
                                 node.end)  # fmt: skip
            pick = max if name == "greatest" else min
            number = (lambda v: _plain(_number(v))) if len(found) > 1 else _number  # Bools beside numbers: numbers
            read = (lambda v: _text(v, tz)) if kind == "text" else number if kind == "number" else (lambda v: v)

            def extreme(event: Any) -> Any:  # NULL ignored, as ClickHouse's
                values = [value for arg in args if (value := read(arg(event))) is not None]
                return pick(values) if values else None

            return extreme
        if name == "extract":
            string_argument(node, 1, "its pattern")
            found = _compiled(node.args[1])
            return lambda event: None if (t := _text(args[0](event), tz)) is None else _extract(found, t)
        if name == "formatDateTime":
            pieces = date_format_pieces(node)
            zone: tzinfo = tz
            if len(node.args) == 3:
                name = string_argument(node, 2, "a time zone name")
                if not valid_time_zone(name):
                    raise HogQLError(f"Unknown time zone '{name}'.", node.args[2].start, node.args[2].end)
                zone = ZoneInfo(name)
            constant = self._moment_constant(node.args[0])
            return lambda event: _format_date_time(args[0](event), constant, pieces, zone)
        if name in START_OF or name in ("toDate", "toDateTime"):
            constant = self._moment_constant(node.args[0]) if node.args else None
            return lambda event: _moment_function(name, args[0](event), constant, tz)
        raise HogQLError(f"Unsupported function '{name}' in a property filter.", node.start, node.end)


TEXT_FUNCTIONS = frozenset({"lower", "upper", "trim", "concat", "toString", "JSONExtractString", "replaceRegexpAll",
                            "extract", "formatDateTime"})  # fmt: skip
BOOL_TEXTS = {"true": True, "1": True, "false": False, "0": False}
CHOOSING_FUNCTIONS = {"coalesce": slice(None), "ifNull": slice(None), "if": slice(1, None), "greatest": slice(None),
                      "least": slice(None)}  # fmt: skip


def _kind(node: ast.Expr) -> str | None:
    """The printer's type of `node`, as far as choosing between text and numbers goes: "text", "number", "bool" (a
    true/false literal, a number whose text is 'true'/'false'), "time", or None for a bare NULL."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return None
        return "text" if isinstance(node.value, str) else "bool" if isinstance(node.value, bool) else "number"
    if isinstance(node, ast.Field):
        return "time" if node.chain == ("timestamp",) else "text"
    if isinstance(node, ast.Call):
        if node.name in TEXT_FUNCTIONS:
            return "text"
        if node.name in CHOOSING_FUNCTIONS:
            return _common_kind(node.args[CHOOSING_FUNCTIONS[node.name]])
        if node.name == "multiIf":
            return _common_kind((*node.args[1:-1:2], node.args[-1]))
        return "time" if node.name in ("now", "toDateTime") or node.name in START_OF else "number"
    return "number"


def _common_kind(nodes: tuple[ast.Expr, ...]) -> str | None:
    """Mixed kinds are read as text, as the printer reads them; a Bool beside other numbers is a number."""
    kinds = {_kind(node) for node in nodes} - {None}
    if kinds == {"bool", "number"}:
        return "number"
    if len(kinds) <= 1:
        return kinds.pop() if kinds else None
    return "text"


def _plain(value: Any) -> Any:
    """A Bool literal as the number it is (`if(c, true, 1)` reads as 1, not 'true'), as the printer's common type."""
    return int(value) if type(value) is _BoolLiteral else value


def _to_bool(value: Any, tz: tzinfo) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value != 0
    return BOOL_TEXTS.get((_text(value, tz) or "").lower())


WEEK_EPOCH = date(1970, 1, 5)  # a Monday: ClickHouse's dateDiff counts weeks from Mondays


def _date_diff(unit: str, start: Any, end: Any, constants: list[datetime | None], tz: tzinfo) -> int | None:
    # A date is its midnight in the project's time zone, as the printer reads it.
    start = _midnight(start, tz) if type(start) is date else start if isinstance(start, datetime) else constants[0]
    end = _midnight(end, tz) if type(end) is date else end if isinstance(end, datetime) else constants[1]
    if start is None or end is None:
        return None
    return _units_since_epoch(unit, end, tz) - _units_since_epoch(unit, start, tz)


def _units_since_epoch(unit: str, moment: datetime, tz: tzinfo) -> int:
    if unit in ("second", "minute", "hour"):
        return math.floor(moment.timestamp() / {"second": 1, "minute": 60, "hour": 3600}[unit])
    local = moment.astimezone(tz)
    if unit == "day":
        return (local.date() - date(1970, 1, 1)).days
    if unit == "week":
        return math.floor((local.date() - WEEK_EPOCH).days / 7)
    if unit == "month":
        return local.year * 12 + local.month
    if unit == "quarter":
        return local.year * 4 + (local.month - 1) // 3
    return local.year


def _multi_if(values: list[Any]) -> Any:
    for index in range(0, len(values) - 1, 2):
        if _truthy(values[index]):
            return values[index + 1]
    return values[-1]


def _shift(moment: Any, interval: Any, op: str, tz: tzinfo) -> date | None:
    if not isinstance(moment, date) or interval is None or interval[0] is None:
        return None
    amount, unit = interval
    if type(moment) is date:  # a date stays a date by whole days and months, as in ClickHouse
        if unit in ("second", "minute", "hour"):
            return _shift(_midnight(moment, tz), interval, op, tz)
        moved = _shift(datetime(moment.year, moment.month, moment.day, tzinfo=UTC), interval, op, UTC)
        return None if moved is None else moved.date()
    if unit in ("second", "minute", "hour"):
        delta = timedelta(days=amount * INTERVAL_DAYS[unit])
        return moment + delta if op == "+" else moment - delta
    # Days and longer move the wall clock in the project's time zone, as ClickHouse moves a DateTime64 of that zone.
    local = moment.astimezone(tz).replace(tzinfo=None)
    if unit in INTERVAL_DAYS:
        delta = timedelta(days=amount * INTERVAL_DAYS[unit])
        moved = local + delta if op == "+" else local - delta
    else:
        months = int(amount) * {"month": 1, "quarter": 3, "year": 12}[unit] * (1 if op == "+" else -1)
        try:
            moved = add_months(local, months)
        except ValueError:
            raise HogQLError("Date out of range.") from None
    return moved.replace(tzinfo=tz)


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _moment_function(name: str, value: Any, constant: datetime | None, tz: tzinfo) -> Any:
    if name == "toDate":  # as PostHog prints it: a text as ClickHouse's toDateOrNull reads it
        if isinstance(value, datetime):
            return value.astimezone(tz).date()
        if isinstance(value, date):
            return value
        return date_of_text(value) if isinstance(value, str) else None
    unit = START_OF.get(name)
    if unit in ("week", "month") and type(value) is date:
        day = value
    else:
        moment = value if isinstance(value, datetime) else _midnight(value, tz) if isinstance(value, date) else constant
        if moment is None:
            return None
        if name == "toDateTime":
            return moment
        local = moment.astimezone(tz)
        if unit == "hour":
            return local.replace(minute=0, second=0, microsecond=0)
        if unit == "day":
            return local.replace(hour=0, minute=0, second=0, microsecond=0)
        day = local.date()
    # A date, as ClickHouse's toStartOfWeek (from Sunday) and toStartOfMonth, within its Date's range.
    start = day - timedelta(days=(day.weekday() + 1) % 7) if unit == "week" else day.replace(day=1)
    return min(max(start, FIRST_DATE), LAST_DATE)


# How round, floor and ceil take a float to a whole number (Python's round is half to even, as ClickHouse's on a
# float), and an integer to a multiple of a power of ten (round: half away from zero).
WHOLE = {"round": round, "floor": math.floor, "ceil": math.ceil}
MULTIPLE: dict[str, Callable[[int, int], int]] = {
    "round": lambda number, step: int(math.copysign((abs(number) + step // 2) // step * step, number)),
    "floor": lambda number, step: number // step * step,
    "ceil": lambda number, step: -(-number // step) * step,
}


def _at_precision(value: Any, precision: int, mode: str) -> int | float | None:
    """As the printer's round, floor and ceil (`mode`): a float times (or over) the power of ten, to a whole number,
    and back, on the float as it is; an integer to a negative precision, NULL beyond Int64."""
    number = _number(value)
    if number is None:
        return None
    if isinstance(number, float):
        if not math.isfinite(number) or abs(number) >= 1e280:
            return number
        scale, whole = 10.0 ** abs(precision), WHOLE[mode]
        return float(whole(number * scale) / scale) if precision >= 0 else float(whole(number / scale) * scale)
    if precision >= 0:
        return number
    result = MULTIPLE[mode](number, 10**-precision)
    return result if INT64_MIN <= result <= INT64_MAX else None


def _sqrt(value: Any) -> float | None:
    number = _number(value)
    if number is None:
        return None
    number = float(number)
    return math.nan if number < 0 else math.sqrt(number)  # nan below 0, as ClickHouse's


def _pow(base: Any, exponent: Any) -> float | None:
    """ClickHouse's pow (C's): inf for 0 to a negative power or an overflow, nan for a negative number to a
    fraction."""
    x, y = _number(base), _number(exponent)
    if x is None or y is None:
        return None
    x, y = float(x), float(y)
    odd = math.isfinite(y) and y == int(y) and int(y) % 2 == 1
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and odd else math.inf
    except ValueError:
        if x == 0:  # to a negative power
            return math.copysign(math.inf, x) if odd else math.inf
        return math.nan


def _extract(pattern: Any, text: str) -> str:
    """ClickHouse's extract: the first group's match, the whole match without groups, '' for none."""
    found = pattern.search(text)
    if found is None:
        return ""
    return (found.group(1) if pattern.groups else found.group(0)) or ""


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
          "December")  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_FORMAT_PARTS: dict[str, Callable[[datetime], str]] = {
    "%Y": lambda m: f"{m.year:04d}", "%y": lambda m: f"{m.year % 100:02d}", "%m": lambda m: f"{m.month:02d}",
    "%c": lambda m: f"{m.month:02d}", "%d": lambda m: f"{m.day:02d}", "%e": lambda m: str(m.day),
    "%H": lambda m: f"{m.hour:02d}", "%h": lambda m: f"{m.hour % 12 or 12:02d}",
    "%I": lambda m: f"{m.hour % 12 or 12:02d}",
    "%i": lambda m: f"{m.minute:02d}", "%M": lambda m: MONTHS[m.month - 1], "%S": lambda m: f"{m.second:02d}",
    "%s": lambda m: f"{m.second:02d}", "%F": lambda m: f"{m.year:04d}-{m.month:02d}-{m.day:02d}",
    "%T": lambda m: f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}",
    "%D": lambda m: f"{m.month:02d}/{m.day:02d}/{m.year % 100:02d}", "%R": lambda m: f"{m.hour:02d}:{m.minute:02d}",
    "%j": lambda m: f"{m.timetuple().tm_yday:03d}", "%u": lambda m: str(m.isoweekday()),
    "%w": lambda m: str(m.isoweekday() % 7), "%p": lambda m: "AM" if m.hour < 12 else "PM",
    "%b": lambda m: MONTHS[m.month - 1][:3], "%a": lambda m: DAYS[m.weekday()][:3], "%W": lambda m: DAYS[m.weekday()],
    "%Q": lambda m: str((m.month - 1) // 3 + 1), "%%": lambda m: "%", "%n": lambda m: "\n", "%t": lambda m: "\t",
}  # fmt: skip


def _format_date_time(value: Any, constant: datetime | None, pieces: list[str], tz: tzinfo) -> str | None:
    """As the printer's formatDateTime: a date-time in the zone, a date as its own day at midnight."""
    if isinstance(value, datetime):
        moment = value.astimezone(tz)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and constant is not None:
        moment = constant.astimezone(tz)
    else:
        return None
    return "".join(DATE_FORMAT_PARTS[piece](moment) if piece.startswith("%") else piece for piece in pieces)
