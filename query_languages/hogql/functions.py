"""HogQL's scalar functions: for each, the argument counts it takes and a builder that decides what the call means
from its printed arguments (with the printer's help, `Printing`) and asks the dialect to write it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from query_languages.dialects.base import Dialect
from query_languages.hogql import ast
from query_languages.hogql.context import Context
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.semantics import START_OF, replacement_items, string_argument
from query_languages.hogql.types import (
    BOOL,
    DATE,
    FLOAT64,
    INT64,
    NOTHING,
    NUMBERS,
    STRING,
    UINT8,
    UINT64,
    Typed,
    base_type,
    datetime_type,
    is_datetime,
    is_string,
)
from query_languages.sql import Sql, join, sql

AGGREGATES = frozenset({"count", "countIf", "sum", "avg", "min", "max", "uniq"})


class Printing(Protocol):
    """What a builder asks of the printer: its dialect and context, and how it reads a printed expression."""

    d: Dialect
    context: Context

    def value(self, typed: Typed) -> Sql: ...  # as a value (a condition as 0/1)
    def condition(self, typed: Typed) -> Sql: ...  # as a condition (a number is true unless 0)
    def text(self, typed: Typed) -> Sql: ...  # as text
    def number(self, typed: Typed, node: ast.Expr) -> Typed: ...  # as a number (HogQLError if it is not one)
    def moment_constant(self, node: ast.Expr) -> datetime: ...  # a date-time string constant, parsed
    def check_regex(self, node: ast.Constant) -> None: ...  # HogQLError if the dialect cannot run the pattern


# --- (allowed argument counts or None, builder) -----------------------------------------------------------------
Builder = Callable[[Printing, ast.Call, list[Typed]], Typed]


def _text_function(name: str) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(p.d.text_function(name, p.text(args[0])), args[0].type if is_string(args[0].type) else STRING)

    return build


def _length(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.length(p.text(args[0])), UINT64)


def _concat(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    if not args:
        raise HogQLError("concat() takes at least one argument.", node.start, node.end)
    # HogQL's concat reads NULL as an empty string.
    return Typed(p.d.concat([sql("coalesce({}, '')", p.text(a)) for a in args]), STRING)


def _common(p: Printing, args: list[Typed]) -> tuple[list[Sql], str]:
    """Values of one type for functions that return one of their arguments: text unless every one is a number
    (or they all share a type)."""
    types = {UINT8 if a.condition else a.type for a in args} - {NOTHING}
    bases = {base_type(t) for t in types}
    if types and bases <= NUMBERS:
        # Numbers of one type, so that every database has a type to give the result.
        type_ = types.pop() if len(types) == 1 else FLOAT64 if FLOAT64 in bases else INT64
        return [p.value(a) if a.type == NOTHING else p.d.number_as(p.value(a), type_) for a in args], type_
    if len(types) <= 1:
        return [p.value(a) for a in args], (types.pop() if types else NOTHING)
    return [p.text(a) for a in args], STRING


def _coalesce(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    values, type_ = _common(p, args)
    return Typed(sql("coalesce({})", join(", ", values)), type_.removeprefix("Nullable(").removesuffix(")")
                 if not args[-1].type.startswith("Nullable") and type_ != NOTHING else type_)  # fmt: skip


def _is_null(negated: bool) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(sql("({} IS " + ("NOT " if negated else "") + "NULL)", p.value(args[0])), UINT8, True)

    return build


def _to_string(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.text(args[0]), args[0].type if is_string(args[0].type) else STRING)


def _to_number(integer: bool) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        arg = args[0]
        nullable = is_string(arg.type)
        if nullable:
            converted = p.d.text_to_integer(arg.sql) if integer else p.d.text_to_float(arg.sql)
        else:
            number = p.number(arg, node.args[0]).sql
            converted = p.d.to_integer(number) if integer else p.d.to_float(number)
        type_ = INT64 if integer else FLOAT64
        return Typed(converted, f"Nullable({type_})" if nullable else type_)

    return build


def _now(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.constant(p.context.now, "datetime"), datetime_type(p.context.timezone))


def _today(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.constant(p.context.now.astimezone(p.context.tz).date(), "date"), DATE)


def _moment_argument(p: Printing, node: ast.Call, arg: Typed) -> Sql:
    if is_datetime(arg.type):
        return arg.sql
    return p.d.constant(p.moment_constant(node.args[0]), "datetime")


def _to_date(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    if args[0].type == DATE:
        return args[0]
    return Typed(p.d.date_of(_moment_argument(p, node, args[0]), p.context.timezone), DATE)


def _to_datetime(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(_moment_argument(p, node, args[0]), datetime_type(p.context.timezone))


def _start_of(unit: str) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        moment = _moment_argument(p, node, args[0])
        return Typed(p.d.start_of(unit, moment, p.context.timezone), datetime_type(p.context.timezone))

    return build


def _if(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    values, type_ = _common(p, args[1:])
    return Typed(sql("(CASE WHEN {} THEN {} ELSE {} END)", p.condition(args[0]), values[0], values[1]), type_)


def _multi_if(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    if len(args) < 3 or len(args) % 2 == 0:
        raise HogQLError("multiIf() takes pairs of condition and value, then a default.", node.start, node.end)
    results = [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]]
    values, type_ = _common(p, results)
    branches = [sql("WHEN {} THEN {}", p.condition(args[i]), values[i // 2]) for i in range(0, len(args) - 1, 2)]
    return Typed(sql("(CASE {} ELSE {} END)", join(" ", branches), values[-1]), type_)


def check_like(pattern: ast.Expr) -> None:
    """A constant pattern ending in a lone backslash is refused here: every database refuses it when it runs."""
    if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str):
        trailing = len(pattern.value) - len(pattern.value.rstrip("\\"))
        if trailing % 2:
            raise HogQLError("A LIKE pattern cannot end with a lone backslash.", pattern.start, pattern.end)


def _like_function(insensitive: bool) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        check_like(node.args[1])
        return Typed(p.d.like(p.text(args[0]), p.text(args[1]), insensitive=insensitive), UINT8, True)

    return build


def _match(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    pattern = node.args[1]
    if not isinstance(pattern, ast.Constant) or not isinstance(pattern.value, str):
        raise HogQLError("match() needs a string constant as its pattern.", pattern.start, pattern.end)
    p.check_regex(pattern)
    return Typed(p.d.regex(p.text(args[0]), pattern.value, insensitive=False), UINT8, True)


def _json_extract_string(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    source, document = node.args[0], args[0].document
    if document is None:
        raise HogQLError("JSONExtractString() reads a properties column, e.g. JSONExtractString(properties, 'k').",
                         source.start, source.end)  # fmt: skip
    return Typed(p.d.json_string_or_empty(document, p.text(args[1])), STRING)


DATE_DIFF_UNITS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")


def _date_diff(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    """ClickHouse's dateDiff: how many boundaries of the unit lie between the two moments, in the project's zone
    (weeks start on Monday here, as ClickHouse counts them)."""
    unit = string_argument(node, 0, "the unit").lower()
    if unit not in DATE_DIFF_UNITS:
        raise HogQLError(f"dateDiff() units are {', '.join(DATE_DIFF_UNITS)}.", node.args[0].start, node.args[0].end)
    start = _moment_argument(p, replace(node, args=node.args[1:]), args[1])
    end = _moment_argument(p, replace(node, args=node.args[2:]), args[2])
    return Typed(p.d.date_diff(unit, start, end, p.context.timezone), INT64)


def _to_bool(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    arg = args[0]
    if arg.condition:
        return Typed(arg.sql, BOOL, True)
    if base_type(arg.type) in NUMBERS:
        return Typed(p.d.number_to_condition(arg.sql), BOOL, True)
    return Typed(p.d.text_to_bool(p.text(arg)), BOOL, True)


def _replace_regexp_all(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    pattern = node.args[1]
    string_argument(node, 1, "its pattern")
    replacement = string_argument(node, 2, "its replacement")
    p.check_regex(pattern)
    try:
        groups = re.compile(pattern.value).groups
    except re.error:  # the database's own check has passed it: it counts its groups itself
        groups = 9
    missing = sorted(item for item in replacement_items(replacement) if isinstance(item, int) and item > groups)
    if missing:
        raise HogQLError(f"replaceRegexpAll()'s replacement refers to group {missing[0]}, and the pattern has "
                         f"{groups}.", node.args[2].start, node.args[2].end)  # fmt: skip
    return Typed(p.d.regex_replace(p.text(args[0]), pattern.value, replacement),
                 args[0].type if is_string(args[0].type) else STRING)  # fmt: skip


def _split_by_char(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    separator = string_argument(node, 0, "a one-character separator")
    if len(separator) != 1:
        raise HogQLError("splitByChar() needs a one-character separator.", node.args[0].start, node.args[0].end)
    return Typed(p.d.split(p.text(args[1]), sql("{}", separator)), "Array(String)")


def _to_time_zone(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    name = string_argument(node, 1, "a time zone name")
    if not valid_time_zone(name):
        raise HogQLError(f"Unknown time zone '{name}'.", node.args[1].start, node.args[1].end)
    return Typed(_moment_argument(p, node, args[0]), datetime_type(name))


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


FUNCTIONS: dict[str, tuple[frozenset[int] | None, Builder]] = {
    "lower": (frozenset({1}), _text_function("lower")),
    "upper": (frozenset({1}), _text_function("upper")),
    "trim": (frozenset({1}), _text_function("trim")),
    "length": (frozenset({1}), _length),
    "concat": (None, _concat),
    "coalesce": (None, _coalesce),
    "ifNull": (frozenset({2}), _coalesce),
    "isNull": (frozenset({1}), _is_null(False)),
    "isNotNull": (frozenset({1}), _is_null(True)),
    "toString": (frozenset({1}), _to_string),
    "toInt": (frozenset({1}), _to_number(integer=True)),
    "toInt64": (frozenset({1}), _to_number(integer=True)),
    "toFloat": (frozenset({1}), _to_number(integer=False)),
    "toFloat64": (frozenset({1}), _to_number(integer=False)),
    "now": (frozenset({0}), _now),
    "today": (frozenset({0}), _today),
    "toDate": (frozenset({1}), _to_date),
    "toDateTime": (frozenset({1}), _to_datetime),
    **{name: (frozenset({1}), _start_of(unit)) for name, unit in START_OF.items()},
    "if": (frozenset({3}), _if),
    "multiIf": (None, _multi_if),
    "like": (frozenset({2}), _like_function(False)),
    "ilike": (frozenset({2}), _like_function(True)),
    "match": (frozenset({2}), _match),
    "JSONExtractString": (frozenset({2}), _json_extract_string),
    "dateDiff": (frozenset({3}), _date_diff),
    "toBool": (frozenset({1}), _to_bool),
    "replaceRegexpAll": (frozenset({3}), _replace_regexp_all),
    "splitByChar": (frozenset({2}), _split_by_char),
    "toTimeZone": (frozenset({2}), _to_time_zone),
}
SUPPORTED_FUNCTIONS = sorted([*FUNCTIONS, *AGGREGATES])
# The functions that take any number of arguments from a least one.
MIN_ARGUMENTS = {"concat": 1, "coalesce": 1, "multiIf": 3}


def check_arity(node: ast.Call) -> None:
    """A 400 (HogQLError) for a scalar function called with an argument count it does not take: checked before
    anything reads its arguments, by the printer and the interpreter alike."""
    handler = FUNCTIONS.get(node.name) or FUNCTIONS.get(node.name.lower())
    if handler is None:
        return
    arity, count = handler[0], len(node.args)
    if arity is not None and count not in arity:
        raise HogQLError(f"{node.name}() takes {' or '.join(map(str, sorted(arity)))} argument(s).", node.start,
                         node.end)  # fmt: skip
    least = MIN_ARGUMENTS.get(node.name, 0)
    if count < least:
        raise HogQLError(f"{node.name}() takes at least {least} argument(s).", node.start, node.end)
    if node.name == "multiIf" and count % 2 == 0:
        raise HogQLError("multiIf() takes pairs of condition and value, then a default.", node.start, node.end)
