"""HogQL conditions evaluated on one event in Python, with the printer's semantics: SQL's NULL logic, a string
beside a number read as a number (NULL when it is not one), `/` as float division with NULL for a division by
zero, NULL read as '' by concat. Used where a filter must be tested without a database (online evaluation); the
tests run it and the SQL printer on the same events.

Only what one event holds can be read: `event`, `distinct_id`, `uuid`, `timestamp`, `elements_chain`,
`properties…` and `person.properties…` (`FIELDS_IN_FILTERS`); the parser of property filters refuses the rest.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from query_languages.dates import add_months, parse_filter_datetime
from query_languages.hogql import ast
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.functions import check_arity
from query_languages.hogql.semantics import START_OF, clickhouse_replacement, float_text, in_list, string_argument
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


def _uuid(value: Any) -> uuid.UUID | str | None:
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return str(value).lower()


def _text(value: Any, tz: tzinfo) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def _compiled(pattern: ast.Expr, *, ignore_case: bool = False) -> Any:
    """A string constant's pattern, compiled by RE2 (what ClickHouse matches with, in linear time)."""
    try:
        return compile_pattern(pattern.value, ignore_case=ignore_case)
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
        value = node.value
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
        return lambda event: None if (n := _number(inner(event))) is None else -n

    def _arithmetic(self, node: ast.Arithmetic) -> Reader:
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.right, ast.Interval):
            return lambda event: _shift(left(event), right(event), node.op)

        def read(event: Any) -> Any:
            a, b = _number(left(event)), _number(right(event))
            if a is None or b is None:
                return None
            if node.op == "/":
                return None if b == 0 else a / b
            if node.op == "%":
                return None if b == 0 else math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) \
                    else int(math.copysign(abs(a) % abs(b), a))  # fmt: skip
            return {"+": a + b, "-": a - b, "*": a * b}[node.op]

        return read

    def _interval(self, node: ast.Interval) -> Reader:
        amount = self.expr(node.amount)
        return lambda event: (_number(amount(event)), node.unit)

    def _compare(self, node: ast.Compare) -> Reader:
        left, op = self.expr(node.left), node.op
        if op in ("in", "not in"):
            values = [i.value for i in in_list(node) if i.value is not None]
            numeric = bool(values) and all(type(v) in (int, float) for v in values)

            def member(event: Any) -> bool | None:
                if not values:  # nothing to be in (NULLs are ignored): false even for NULL, as in the printer
                    return op == "not in"
                value = left(event)
                if value is None:
                    return None
                if numeric and isinstance(value, int | float | str):  # else (a uuid) as text, as the printer
                    number = _number(value)
                    found = None if number is None else any(number == v for v in values)
                else:
                    text = _text(value, self.tz)
                    found = text in [_text(v, self.tz) if not isinstance(v, bool) else ("true" if v else "false")
                                     for v in values]  # fmt: skip
                return found if op == "in" or found is None else not found

            return member
        right = self.expr(node.right)
        if op in ("like", "not like", "ilike", "not ilike"):

            def like(event: Any) -> bool | None:
                found = _like(left(event), right(event), self.tz, insensitive="ilike" in op)
                return None if found is None else (not found if op.startswith("not") else found)

            return like
        if op in ("=~", "!~", "=~*", "!~*"):
            if not isinstance(node.right, ast.Constant) or not isinstance(node.right.value, str):
                raise HogQLError("A regular expression must be a string constant.", node.right.start, node.right.end)
            pattern = _compiled(node.right, ignore_case=op.endswith("*"))

            def regex(event: Any) -> bool | None:
                value = _text(left(event), self.tz)
                if value is None:
                    return None
                found = pattern.search(value) is not None
                return not found if op.startswith("!") else found

            return regex
        constant_moment = self._moment_constant(node.right) or self._moment_constant(node.left)
        compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
                   "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]  # fmt: skip

        def test(event: Any) -> bool | None:
            a, b = left(event), right(event)
            if a is None or b is None:
                return None
            a, b = self._comparable(a, b, constant_moment)
            if a is None or b is None:
                return None
            return bool(compare(a, b))

        return test

    def _moment_constant(self, node: ast.Expr) -> datetime | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return parse_filter_datetime(node.value, tz=self.tz, now=self.now)
        return None

    def _comparable(self, a: Any, b: Any, moment: datetime | None) -> tuple[Any, Any]:
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
            "toInt": lambda v: None if (n := _number(v[0])) is None or abs(n) >= 9.2e18 else int(n),
            "toInt64": lambda v: None if (n := _number(v[0])) is None or abs(n) >= 9.2e18 else int(n),
            "toFloat": lambda v: None if (n := _number(v[0])) is None or abs(n) >= 1e308 else float(n),
            "toFloat64": lambda v: None if (n := _number(v[0])) is None or abs(n) >= 1e308 else float(n),
            "now": lambda v: self.now,
            "today": lambda v: self.now.astimezone(tz).date(),
            "if": lambda v: v[1] if _truthy(v[0]) else v[2],
            "like": lambda v: _like(v[0], v[1], tz, insensitive=False),
            "ilike": lambda v: _like(v[0], v[1], tz, insensitive=True),
        }
        if name in simple:
            function = simple[name]
            if name in CHOOSING_FUNCTIONS and _common_kind(node.args[CHOOSING_FUNCTIONS[name]]) == "text":
                return lambda event: _text(function([arg(event) for arg in args]), tz)
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
            if _kind(node) == "text":
                return lambda event: _text(_multi_if([arg(event) for arg in args]), tz)
            return lambda event: _multi_if([arg(event) for arg in args])
        if name == "match":
            pattern = node.args[1]
            if not isinstance(pattern, ast.Constant) or not isinstance(pattern.value, str):
                raise HogQLError("match() needs a string constant as its pattern.", pattern.start, pattern.end)
            compiled = _compiled(pattern)
            return lambda event: None if (t := _text(args[0](event), tz)) is None else compiled.search(t) is not None
        if name in START_OF or name in ("toDate", "toDateTime"):
            constant = self._moment_constant(node.args[0]) if node.args else None
            return lambda event: _moment_function(name, args[0](event), constant, tz)
        raise HogQLError(f"Unsupported function '{name}' in a property filter.", node.start, node.end)


TEXT_FUNCTIONS = frozenset({"lower", "upper", "trim", "concat", "toString", "JSONExtractString", "replaceRegexpAll"})
BOOL_TEXTS = {"true": True, "1": True, "false": False, "0": False}
CHOOSING_FUNCTIONS = {"coalesce": slice(None), "ifNull": slice(None), "if": slice(1, None)}


def _kind(node: ast.Expr) -> str | None:
    """The printer's type of `node`, as far as choosing between text and numbers goes: "text", "number", "time",
    or None for a bare NULL."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return None
        return "text" if isinstance(node.value, str) else "number"
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
    """Mixed kinds are read as text, as the printer reads them."""
    kinds = {_kind(node) for node in nodes} - {None}
    if len(kinds) <= 1:
        return kinds.pop() if kinds else None
    return "text"


def _to_bool(value: Any, tz: tzinfo) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value != 0
    return BOOL_TEXTS.get((_text(value, tz) or "").lower())


WEEK_EPOCH = date(1970, 1, 5)  # a Monday: ClickHouse's dateDiff counts weeks from Mondays


def _date_diff(unit: str, start: Any, end: Any, constants: list[datetime | None], tz: tzinfo) -> int | None:
    start = start if isinstance(start, datetime) else constants[0]
    end = end if isinstance(end, datetime) else constants[1]
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


def _shift(moment: Any, interval: Any, op: str) -> datetime | None:
    if not isinstance(moment, datetime) or interval is None or interval[0] is None:
        return None
    amount, unit = interval
    if unit in INTERVAL_DAYS:
        delta = timedelta(days=amount * INTERVAL_DAYS[unit])
        return moment + delta if op == "+" else moment - delta
    months = int(amount) * {"month": 1, "quarter": 3, "year": 12}[unit] * (1 if op == "+" else -1)
    try:
        return add_months(moment, months)
    except ValueError:
        raise HogQLError("Date out of range.") from None


def _moment_function(name: str, value: Any, constant: datetime | None, tz: tzinfo) -> Any:
    moment = value if isinstance(value, datetime) else constant
    if moment is None:
        return None
    local = moment.astimezone(tz)
    if name == "toDate":
        return local.date()
    if name == "toDateTime":
        return moment
    unit = START_OF[name]
    if unit == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif unit == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "week":  # Sunday
        start = (local - timedelta(days=(local.weekday() + 1) % 7)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start
