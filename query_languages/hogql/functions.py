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
from query_languages.hogql.semantics import START_OF, date_of_text, replacement_items, string_argument
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

AGGREGATES = frozenset({"count", "countIf", "sum", "avg", "min", "max", "uniq", "quantile", "median", "argMax",
                        "argMin", "groupArray", "any"})  # fmt: skip
# The aggregates' argument counts (count's star aside), checked as the scalar functions' are.
AGGREGATE_ARITY = {"count": frozenset({0, 1}), "argMax": frozenset({2}), "argMin": frozenset({2})}


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
    if args[0].type.startswith("Array("):  # how many items, as ClickHouse's length of an array
        return Typed(p.d.array_length(args[0].sql), UINT64)
    return Typed(p.d.length(p.text(args[0])), UINT64)


def _concat(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    if not args:
        raise HogQLError("concat() takes at least one argument.", node.start, node.end)
    # HogQL's concat reads NULL as an empty string.
    return Typed(p.d.concat([sql("coalesce({}, '')", p.text(a)) for a in args]), STRING)


def _common(p: Printing, args: list[Typed]) -> tuple[list[Sql], str]:
    """Values of one type for functions that return one of their arguments: text unless every one is a number
    (or they all share a type)."""
    types = {UINT8 if a.condition and a.type != BOOL else a.type for a in args} - {NOTHING}
    if types == {BOOL}:  # Bools stay one (`if(c, true, false)` reads as 'true', as in ClickHouse)
        return [p.value(a) for a in args], BOOL
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


def _abs(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    number = p.number(args[0], node.args[0])
    if base_type(number.type) in (UINT8, UINT64, BOOL):
        return number
    if base_type(number.type) == INT64:  # |-2^63| is beyond Int64: NULL, as integer arithmetic's
        return Typed(p.d.scalar("absInt64", [number.sql]), INT64)
    return Typed(p.d.scalar("abs", [number.sql]), FLOAT64)


def _rounding(name: str) -> Builder:
    """floor/ceil, as ClickHouse's: a float down (up) to a multiple of 10^-precision, on the float as it is
    (`floor(0.29, 2)` is 0.28: 0.29 * 100 is 28.999…); an integer to a negative precision (NULL beyond Int64 here,
    where ClickHouse wraps around)."""

    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        number = p.number(args[0], node.args[0])
        precision = round_precision(node)
        if base_type(number.type) != FLOAT64:
            if precision >= 0:  # a whole number already
                return number
            return Typed(p.d.round_number(number.sql, precision, integer=True, mode=name), INT64)
        if len(node.args) == 1:
            return Typed(p.d.scalar(name, [number.sql]), FLOAT64)
        return Typed(p.d.round_number(number.sql, precision, integer=False, mode=name), FLOAT64)

    return build


def _math(name: str) -> Builder:
    """sqrt(x) and pow(x, y) (power is pow), as ClickHouse's: a Float64, never an error (`sqrt(-1)` is nan,
    `pow(0, -1)` inf, `pow(10, 400)` inf, `pow(-8, 1/3)` nan)."""

    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        numbers = [p.number(arg, source).sql for arg, source in zip(args, node.args, strict=True)]
        return Typed(p.d.scalar(name, numbers), FLOAT64)

    return build


def _text_test(name: str) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(p.d.scalar(name, [p.text(args[0]), p.text(args[1])]), UINT8, True)

    return build


def _text_scalar(name: str) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(p.d.scalar(name, [p.text(args[0])]), args[0].type if is_string(args[0].type) else STRING)

    return build


def _date_part(name: str) -> Builder:
    """A part of a date or date-time, in the project's time zone for a date-time (toDayOfWeek: Monday is 1)."""

    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        arg = args[0]
        if is_date(arg.type):
            return Typed(p.d.date_part(name, arg.sql, None), INT64)
        zone = arg.type.split("'")[1] if is_datetime(arg.type) and "'" in arg.type else p.context.timezone
        return Typed(p.d.date_part(name, _moment_argument(p, node, arg), zone), INT64)

    return build


def _to_unix_timestamp(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.scalar("toUnixTimestamp", [_moment_argument(p, node, args[0])]), INT64)


def _null_if(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    values, type_ = _common(p, args)
    return Typed(sql("nullif({}, {})", *values), type_)


def _is_null(negated: bool) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(sql("({} IS " + ("NOT " if negated else "") + "NULL)", p.value(args[0])), UINT8, True)

    return build


def _to_string(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.text(args[0]), args[0].type if is_string(args[0].type) else STRING)


def _to_number(integer: bool) -> Builder:
    """ClickHouse's accurateCastOrNull, as PostHog prints toInt/toFloat: NULL for what the type cannot hold exactly
    (`toInt(12.9)`, `toInt('12.9')`, `toInt(' 5')`), never an error; a date is its days since 1970-01-01 and a
    date-time its seconds since the epoch (`toFloat(toDate('2024-03-05'))` is 19787)."""
    target = INT64 if integer else FLOAT64

    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        arg = args[0]
        if is_string(arg.type):
            return Typed(p.d.cast_or_null(arg.sql, "text", target), f"Nullable({target})")
        if is_date(arg.type) or is_datetime(arg.type):  # its days (a date) or seconds (a date-time) since 1970
            source = "date" if is_date(arg.type) else "datetime"
            return Typed(p.d.cast_or_null(arg.sql, source, target), f"Nullable({target})")
        number = p.number(arg, node.args[0])
        if number.type == NOTHING:  # a NULL of the type, as accurateCastOrNull's (`splitByChar` reads it as '')
            return Typed(p.d.null_of("integer" if integer else "float"), f"Nullable({target})")
        source = "float" if base_type(number.type) == FLOAT64 else "integer"
        if (source == "integer") == integer:  # already of the type
            return Typed(number.sql, target, nullable=arg.nullable)
        return Typed(p.d.cast_or_null(number.sql, source, target), f"Nullable({target})")

    return build


def _now(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.constant(p.context.now, "datetime"), datetime_type(p.context.timezone))


def _today(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.constant(p.context.now.astimezone(p.context.tz).date(), "date"), DATE)


def is_date(type_: str) -> bool:
    return base_type(type_) == DATE


def _moment_argument(p: Printing, node: ast.Call, arg: Typed) -> Sql:
    """A date-time argument: a date-time, a date (its midnight in the project's time zone) or a date-time text."""
    if is_datetime(arg.type):
        return arg.sql
    if is_date(arg.type):
        return p.d.date_to_moment(arg.sql, p.context.timezone)
    return p.d.constant(p.moment_constant(node.args[0]), "datetime")


def _to_date(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    """As PostHog prints it: a date-time's date in the project's time zone, and a text's as ClickHouse's toDateOrNull
    reads it (NULL when it is no date)."""
    arg = args[0]
    if is_date(arg.type) or arg.type == NOTHING:
        return arg
    if is_string(arg.type):
        source = node.args[0]
        if isinstance(source, ast.Constant) and isinstance(source.value, str):
            day = date_of_text(source.value)
            return Typed(p.d.constant(day, "date"), DATE, nullable=False) if day else Typed(Sql("NULL"), NOTHING)
        return Typed(p.d.text_to_date(arg.sql), f"Nullable({DATE})")
    return Typed(p.d.date_of(_moment_argument(p, node, arg), p.context.timezone), DATE, nullable=arg.nullable)


def _to_datetime(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(_moment_argument(p, node, args[0]), datetime_type(p.context.timezone))


def _start_of(unit: str) -> Builder:
    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        arg = args[0]
        if unit in ("week", "month"):  # a date, as ClickHouse's toStartOfWeek and toStartOfMonth
            day = arg.sql if is_date(arg.type) else p.d.date_of(_moment_argument(p, node, arg), p.context.timezone)
            return Typed(p.d.date_start_of(unit, day), DATE, nullable=arg.nullable)
        moment = _moment_argument(p, node, arg)
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


DATE_PARTS = ("toYear", "toMonth", "toDayOfMonth", "toDayOfWeek", "toHour", "toMinute")
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
    return Typed(p.d.split(p.text(args[1]), separator), "Array(String)", nullable=False)


def _to_time_zone(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    name = string_argument(node, 1, "a time zone name")
    if not valid_time_zone(name):
        raise HogQLError(f"Unknown time zone '{name}'.", node.args[1].start, node.args[1].end)
    return Typed(_moment_argument(p, node, args[0]), datetime_type(name))


# Rounding to a precision is exact arithmetic on PostgreSQL's side only up to here (ClickHouse takes any scale).
ROUND_PRECISION = 20


def round_precision(node: ast.Call) -> int:
    """The precision of round/floor/ceil: an integer constant (ClickHouse takes only a constant), 0 when not
    given."""
    if len(node.args) < 2:
        return 0
    source = node.args[1]
    value = source.value if isinstance(source, ast.Constant) else None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > ROUND_PRECISION:
        name = node.name.lower()
        raise HogQLError(f"{name}() needs its precision as an integer constant from -{ROUND_PRECISION} to "
                         f"{ROUND_PRECISION}, e.g. {name}(x, 2).", source.start, source.end)  # fmt: skip
    return value


def _round(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    """ClickHouse's round: a float to the nearest multiple of 10^-precision, half to even (on the float as it is:
    `round(2.675, 2)` is 2.68); an integer to a negative precision half away from zero (NULL beyond Int64 here, where
    ClickHouse wraps around)."""
    number = p.number(args[0], node.args[0])
    precision = round_precision(node)
    if base_type(number.type) != FLOAT64:
        if precision >= 0:  # a whole number already
            return number
        return Typed(p.d.round_number(number.sql, precision, integer=True), INT64)
    return Typed(p.d.round_number(number.sql, precision, integer=False), FLOAT64)


def _extreme(name: str) -> Builder:
    """greatest/least: of values of one kind, NULL ignored (ClickHouse's, from 24.x on, as PostgreSQL's)."""

    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        kinds = {is_string(a.type) for a in args if a.type != NOTHING}
        if len(kinds) > 1:
            raise HogQLError(f"{name}() compares values of one kind: texts or numbers, not both.", node.start,
                             node.end)  # fmt: skip
        values, type_ = _common(p, args)
        return Typed(p.d.extreme(name, values, text=kinds == {True}), type_)

    return build


def _extract(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    """ClickHouse's extract(text, pattern) (not SQL's EXTRACT(part FROM date)): the first group's match, or the whole
    match without groups; '' when nothing matches."""
    string_argument(node, 1, "its pattern")
    pattern = node.args[1]
    p.check_regex(pattern)
    return Typed(p.d.regex_extract(p.text(args[0]), pattern.value), STRING)


# formatDateTime's specifiers done alike on both stores, as ClickHouse prints them (%M is the month's name, %i the
# minute; %e is not padded).
DATE_FORMAT_SPECIFIERS = frozenset("YymcdeHhIiMSsFTDRjuwpbaWQ%nt")


def date_format_pieces(node: ast.Call) -> list[str]:
    """formatDateTime's format as literal texts and specifiers (`%Y`…): a 400 naming a specifier not done here."""
    text = string_argument(node, 1, "its format")
    pieces: list[str] = []
    index = 0
    while index < len(text):
        if text[index] != "%":
            end = text.find("%", index)
            end = len(text) if end < 0 else end
            pieces.append(text[index:end])
            index = end
            continue
        specifier = text[index + 1 : index + 2]
        if specifier not in DATE_FORMAT_SPECIFIERS or not specifier:
            shown = f"'%{specifier}'" if specifier else "a '%' at the end (write '%%' for a '%')"
            raise HogQLError(f"formatDateTime() does not support {shown}. Supported: "
                             f"{' '.join('%' + c for c in sorted(DATE_FORMAT_SPECIFIERS))}.", node.args[1].start,
                             node.args[1].end)  # fmt: skip
        pieces.append("%" + specifier)
        index += 2
    return pieces


def _format_date_time(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
    pieces = date_format_pieces(node)
    arg = args[0]
    if len(node.args) == 3:
        zone = string_argument(node, 2, "a time zone name")
        if not valid_time_zone(zone):
            raise HogQLError(f"Unknown time zone '{zone}'.", node.args[2].start, node.args[2].end)
    else:
        zone = arg.type.split("'")[1] if is_datetime(arg.type) and "'" in arg.type else p.context.timezone
    if is_date(arg.type):  # a date has no zone: its midnight, whatever the zone
        moment, zone = p.d.date_to_moment(arg.sql, "UTC"), "UTC"
    else:
        moment = _moment_argument(p, node, arg)
    return Typed(p.d.format_date_time(moment, pieces, zone), STRING)


def _reads_a_column(node: ast.Expr) -> bool:
    return isinstance(node, ast.Field) or any(_reads_a_column(child) for child in ast.children(node))


def _array_search(name: str) -> Builder:
    """has/indexOf: whether an array holds a value, or its first position from 1 (0 if not); NULL is a value like
    any other, as ClickHouse's (`has([1, NULL], NULL)` is 1)."""

    def build(p: Printing, node: ast.Call, args: list[Typed]) -> Typed:
        array, item = args
        source = node.args[0]
        if array.property is not None:  # a JSON array property, as ClickHouse's JSONExtract(…, 'Array(String)')
            array = Typed(p.d.json_text_array(*array.property), "Array(String)", nullable=False)
        if not array.type.startswith("Array("):
            raise HogQLError(f"{name}() needs an array as its first argument.", source.start, source.end)
        element = array.type[len("Array(") : -1]
        nothing = element in (NOTHING, "Nothing")  # only NULLs, or no items
        if (isinstance(source, ast.Array) and not source.items) or (nothing and item.type != NOTHING):
            if name == "has":  # nothing to find (an empty array, or only NULLs)
                return Typed(p.d.constant(False, "bool"), UINT8, True, nullable=False)
            return Typed(p.d.constant(0, "integer"), INT64, nullable=False)
        if item.type != NOTHING and not nothing and is_string(element) != is_string(item.type):
            raise HogQLError(f"{name}() looks for a value of its array's kind ({element}, not {item.type}).",
                             node.args[1].start, node.args[1].end)  # fmt: skip
        value = p.text(item) if is_string(element) else p.value(item)
        # A NULL constant (`NULL`, `toString(toInt(NULL))`), which ClickHouse finds only as NULL.
        bare = item.type == NOTHING or not _reads_a_column(node.args[1])
        if _reads_a_column(source) and not element.startswith("Nullable(") and item.nullable and not bare:
            # ClickHouse reads a NULL read from the row as its type's default ('', 0) in an array computed from the
            # row that cannot hold NULL (in a constant one, NULL is only NULL).
            value = sql("coalesce({}, {})", value, Sql("''" if is_string(element) else "0"))
        if name == "has":
            return Typed(p.d.array_position(array.sql, value, found=True), UINT8, True, nullable=False)
        return Typed(p.d.array_position(array.sql, value, found=False), INT64, nullable=False)

    return build


def array_literal(p: Printing, node: ast.Array, items: list[Typed]) -> Typed:
    """`[1, 2]` as an argument of an array function: items of one kind (ClickHouse finds no type for a mix)."""
    kinds = {is_string(item.type) for item in items if item.type != NOTHING}
    if len(kinds) > 1:
        raise HogQLError("An array's items are of one kind: texts or numbers, not both.", node.start, node.end)
    if not items:
        return Typed(p.d.array([]), "Array(Nothing)", nullable=False)
    values, type_ = _common(p, items)
    return Typed(p.d.array(values), f"Array({type_})", aggregate=any(item.aggregate for item in items),
                 nullable=False)  # fmt: skip


# The aggregates the printer builds here (count, sum… are its own); each over the rows' non-NULL values, NULL over
# none (ClickHouse's -OrNull: without it, a default value or nan where the argument cannot be NULL).
BUILT_AGGREGATES = frozenset({"quantile", "median", "argMax", "argMin", "groupArray", "any"})


def _quantile_level(node: ast.Call) -> float:
    params = node.params or ()
    level = params[0].value if len(params) == 1 and isinstance(params[0], ast.Constant) else None
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 1:
        raise HogQLError("quantile() takes its level, a number from 0 to 1, as its one parameter: quantile(0.9)(x).",
                         node.start, node.end)  # fmt: skip
    return float(level)


def build_aggregate(p: Printing, node: ast.Call, args: list[Typed | None]) -> Typed:
    """quantile(level)(x) and median(x) (interpolated between the two nearest values, as ClickHouse's quantile
    computes it exactly below 8192 values), argMax/argMin(value, key) (over the rows where both are set; a tie
    gives any of the tied rows' values), groupArray(x) (the non-NULL values, in no defined order; [] over none)
    and any(x) (one of the non-NULL values)."""
    name = node.name
    arity = AGGREGATE_ARITY.get(name, frozenset({1}))
    if len(args) not in arity:
        raise HogQLError(f"{name}() takes {' or '.join(map(str, sorted(arity)))} argument(s).", node.start, node.end)
    if node.distinct:
        raise HogQLError(f"{name}(DISTINCT …) is not supported.", node.start, node.end)
    if (node.params is not None) != (name == "quantile"):
        if name == "quantile":
            _quantile_level(node)  # the 400 that asks for a level
        raise HogQLError(f"Parametric functions such as {name}(…)(…) are not supported.", node.start, node.end)
    present: list[Typed] = []
    for arg, source in zip(args, node.args, strict=True):
        if arg is None:
            raise HogQLError(f"{name}() does not take '*'.", source.start, source.end)
        present.append(arg)
    if name in ("quantile", "median"):
        level = _quantile_level(node) if name == "quantile" else 0.5
        number = p.number(present[0], node.args[0])
        return Typed(p.d.quantile(number.sql, level), FLOAT64, aggregate=True)
    value = present[0]
    type_ = UINT8 if value.condition else value.type
    if name == "groupArray":
        array_type = f"Array({base_type(type_)})"
        if value.type == NOTHING:
            return Typed(p.d.array([]), array_type, aggregate=True, nullable=False)
        return Typed(p.d.group_array(p.value(value)), array_type, aggregate=True, nullable=False)
    if any(arg.type == NOTHING for arg in present):  # no row has a value
        return Typed(Sql("NULL"), NOTHING, aggregate=True)
    if name == "any":
        return Typed(p.d.any_value(p.value(value), type_), type_, aggregate=True)
    key = present[1]
    return Typed(p.d.arg_extreme(name, p.value(value), p.value(key), text_key=is_string(key.type)), type_,
                 aggregate=True)  # fmt: skip


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
    "match": (frozenset({2}), _match),
    "JSONExtractString": (frozenset({2}), _json_extract_string),
    "dateDiff": (frozenset({3}), _date_diff),
    "toBool": (frozenset({1}), _to_bool),
    "replaceRegexpAll": (frozenset({3}), _replace_regexp_all),
    "splitByChar": (frozenset({2}), _split_by_char),
    "toTimeZone": (frozenset({2}), _to_time_zone),
    "abs": (frozenset({1}), _abs),
    "floor": (frozenset({1, 2}), _rounding("floor")),
    "ceil": (frozenset({1, 2}), _rounding("ceil")),
    "sqrt": (frozenset({1}), _math("sqrt")),
    "pow": (frozenset({2}), _math("pow")),
    "power": (frozenset({2}), _math("pow")),
    "startsWith": (frozenset({2}), _text_test("startsWith")),
    "endsWith": (frozenset({2}), _text_test("endsWith")),
    "trimLeft": (frozenset({1}), _text_scalar("trimLeft")),
    "trimRight": (frozenset({1}), _text_scalar("trimRight")),
    "nullIf": (frozenset({2}), _null_if),
    **{name: (frozenset({1}), _date_part(name)) for name in DATE_PARTS},
    "toUnixTimestamp": (frozenset({1}), _to_unix_timestamp),
    "round": (frozenset({1, 2}), _round),
    "greatest": (None, _extreme("greatest")),
    "least": (None, _extreme("least")),
    "extract": (frozenset({2}), _extract),
    "formatDateTime": (frozenset({2, 3}), _format_date_time),
    "has": (frozenset({2}), _array_search("has")),
    "indexOf": (frozenset({2}), _array_search("indexOf")),
}
# The functions whose first argument may be an array literal (`has([1, 2], x)`).
ARRAY_FUNCTIONS = frozenset({"has", "indexOf"})
# Functions that are a comparison operator, null-safe as the operator (PostHog prints them so).
COMPARISON_FUNCTIONS = {"like": "like", "ilike": "ilike", "notLike": "not like", "notILike": "not ilike",
                        "equals": "=", "notEquals": "!=", "less": "<", "lessOrEquals": "<=", "greater": ">",
                        "greaterOrEquals": ">="}  # fmt: skip
# The functions whose answer for an always-NULL argument is not simply NULL (ClickHouse's rule for the rest): toInt
# and toFloat of NULL are a NULL of their type (accurateCastOrNull's), which splitByChar reads as ''.
NULL_AWARE = frozenset({"coalesce", "ifNull", "isNull", "isNotNull", "concat", "if", "multiIf", "nullIf", "greatest",
                        "least", "has", "indexOf", "toInt", "toInt64", "toFloat", "toFloat64"})  # fmt: skip
SUPPORTED_FUNCTIONS = sorted([*FUNCTIONS, *COMPARISON_FUNCTIONS, *AGGREGATES])
# The functions that take any number of arguments from a least one.
MIN_ARGUMENTS = {"concat": 1, "coalesce": 1, "multiIf": 3, "greatest": 2, "least": 2}


def check_arity(node: ast.Call) -> None:
    """A 400 (HogQLError) for a scalar function called with an argument count it does not take: checked before
    anything reads its arguments, by the printer and the interpreter alike."""
    if node.name in COMPARISON_FUNCTIONS:
        if len(node.args) != 2:
            raise HogQLError(f"{node.name}() takes 2 argument(s).", node.start, node.end)
        return
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
