"""HogQL and property filters printed for ClickHouse: how each operation the printer (and the filter compiler)
decided is written there, so that it means what the PostgreSQL printing means (the tests run both on the same events).
No semantics here.

The events table holds its person (`person_id`, `person_properties`, `person_created_at`, stamped at ingestion), so
nothing is joined; `persons` and `person.is_identified` are not there. Every value travels as a `%s` parameter that
`clickhouse_bind` types from its Python value; fixed pieces that would need `%`, braces or backslashes in the SQL text
(regular expressions, date formats) travel as parameters too.

Where one value is read several times (a float's digits, a number's text), it is bound once with a lambda over a
one-element array (`let`), so the SQL stays linear in the size of the query. The lambda also evaluates it once where
ClickHouse evaluates lazily (a branch of if/multiIf, the conditions of AND/OR after the first, which is where a filter
sits beside the team's), which otherwise evaluates a subexpression again wherever it is read; the lambda's own branches
on the bound value still short-circuit. A JSON property is read with one parse of its document where it can be (see
`clickhouse_json`), and filters compare that reading directly where it means the same as the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from query_languages.dialects.base import BaseDialect, check_identifier
from query_languages.dialects.clickhouse_json import (
    OTHER_STARTS,
    JsonText,
    contains_alike,
    first_byte_in,
    is_surely_string,
    json_number,
    json_text,
    json_text_of,
    let,
    materialized_columns,
    of_text,
    reading_of,
)
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.semantics import DATE_TEXT
from query_languages.hogql.types import base_type
from query_languages.patterns import DATE_PREFIX, INTEGER_TEXT, NUMERIC_TEXT, SEMVER_KEY
from query_languages.sql import Sql, join, sql

# The whitespace PostgreSQL's numeric input skips.
SPACES = "\t\n\v\f\r "
# LIKE: a backslash before anything but `\`, `%` or `_` stands for that character (as in PostgreSQL).
LIKE_ESCAPES = (r"(?s)(\\[\\%_])|\\(.)", r"\1\2")
DATE_TIME_FORMAT = "%Y-%m-%d %H:%i:%S.%f"  # as toString prints a DateTime64(6)
BIGINT_LIMIT = "9200000000000000000"
INTERVALS = {"second": "Second", "minute": "Minute", "hour": "Hour", "day": "Day", "week": "Week", "month": "Month",
             "quarter": "Month", "year": "Year"}  # fmt: skip
INTERVAL_SCALE = {"quarter": 3}
MICROSECONDS = {"second": 1_000_000, "minute": 60_000_000, "hour": 3_600_000_000}
TEXT_FUNCTIONS = {"lower": "lowerUTF8", "upper": "upperUTF8", "trim": "trimBoth"}
NULLS = {"number": "Nullable(Float64)", "text": "Nullable(String)", "condition": "Nullable(UInt8)",
         "integer": "Nullable(Int64)", "float": "Nullable(Float64)"}  # fmt: skip
# Tag names across an elements chain (as PostgreSQL's `chain_values`).
TAG_NAMES = r'(?:^|;)([^.:;"]+)'
FILTER_COLUMNS = {"distinct_id": "e.distinct_id", "event": "e.event", "uuid": "toString(e.uuid)",
                  "elements_chain": "e.elements_chain"}  # fmt: skip
# The elements PostgreSQL quotes in an array's text.
ARRAY_QUOTED = r'^$|[{},"\\\t\n\v\f\r ]|^[Nn][Uu][Ll][Ll]$'
# Numeric text without spaces or exponent, which reads as a number as it is.
PLAIN_DECIMAL = r"^-?[0-9]+(?:\.[0-9]+)?$"
BOUND_OF_ANY = {">": min, ">=": min, "<": max, "<=": max}  # `x > ANY(bounds)` is `x > min(bounds)`
# An event's properties column, as the printer names it (`e.properties`).
PROPERTIES_COLUMN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.properties")


@dataclass(frozen=True)
class FilterValue:
    """One property as a filter reads it: its text, and for a JSON property the document and key (its text a
    `JsonText`; else a plain text, never JSON null); for the timestamp column the native moment."""

    text: Sql
    document: Sql | None = None
    key: str = ""
    moment: Sql | None = None


def is_constant(fragment: Sql) -> bool:
    """A bound value, short enough to write twice."""
    return fragment.text == "%s"


def _floor_div(number: Sql, divisor: int) -> Sql:
    return let(number, "__q", Sql(f"(intDiv(__q, {divisor}) - (modulo(__q, {divisor}) < 0))"))


@dataclass(frozen=True)
class ClickHouseSchema:
    """Where ClickHouse keeps events (the caller's migrations): a database and its events table, which holds each
    event's person (so there is no persons table to read)."""

    database: str
    events: str

    def __post_init__(self) -> None:  # both are written into the SQL text
        check_identifier(self.database, "ClickHouse database name")
        check_identifier(self.events, "ClickHouse table name")


class ClickHouseDialect(BaseDialect):
    text_functions = TEXT_FUNCTIONS
    whole_difference = "toInt64({} - {})"

    def __init__(self, schema: ClickHouseSchema, materialized: Iterable[str] = ()) -> None:
        """`materialized`: the event properties whose columns (`materialized_columns`) the events table has."""
        self.schema = schema
        self.materialized = frozenset(materialized)

    # --- tables and columns ---------------------------------------------------------------------------
    def table(self, name: str) -> Sql:
        if name != "events":
            raise HogQLError(f"The {name} table is not available on ClickHouse: read persons through events "
                             "(person_id, person.properties…).")  # fmt: skip
        # No FINAL: the write path stores each event once (events.stores.clickhouse), and FINAL merges parts on
        # every read.
        return Sql(f"{self.schema.database}.{self.schema.events} AS e")

    def person_column(self, name: str) -> Sql:
        if name == "id":
            return Sql("e.person_id")
        if name == "created_at":
            return Sql("e.person_created_at")
        if name == "properties":  # stored as '{}' on an event without a person, which has no properties at all
            return Sql("if(e.person_id IS NULL, NULL, e.person_properties)")
        raise HogQLError(f"person.{name} is not available on ClickHouse.")

    def person_join(self) -> Sql | None:
        return None

    def constant(self, value: Any, kind: str) -> Sql:
        return sql("{}", value)  # typed by clickhouse_bind from the Python value

    def null_of(self, kind: str) -> Sql:
        return Sql(f"CAST(NULL AS {NULLS[kind]})")

    # --- JSON ---------------------------------------------------------------------------------------
    def json_text(self, document: Sql, path: tuple[str, ...]) -> Sql:
        """The value at `path` as `json_text.json_as_text` reads it; NULL when missing or JSON null."""
        found = PROPERTIES_COLUMN.fullmatch(document.text)
        if found and not document.params and len(path) == 1 and path[0] in self.materialized:
            # The same reading and kind, computed at insert: the text needs no parse of the event's properties.
            (reading, _, _), (kind, _, _) = materialized_columns(path[0])
            return json_text_of(
                Sql(f"{found.group(1)}.`{reading}`"), Sql(f"{found.group(1)}.`{kind}`"), kind_is_stored=True
            )
        return json_text(document, join(", ", [sql("{}", key) for key in path]))

    def json_whole(self, document: Sql) -> Sql:
        return document  # the stored JSON text, as PostHog returns it

    def json_text_array(self, document: Sql, path: tuple[str, ...]) -> Sql:
        # ifNull: a person's properties are NULL without a person (and JSONExtract gives no array of a NULL).
        keys = join(", ", [sql("{}", key) for key in path])
        return sql("JSONExtract(ifNull({}, ''), {}, 'Array(String)')", document, keys)

    def json_string_or_empty(self, document: Sql, key: Sql) -> Sql:
        # JSONExtractString gives any other value's raw text too (see `JsonText`): only a string is read, and
        # JSONType asked only of a reading another value's could be.
        def body(k: Sql) -> Sql:
            reading = sql("JSONExtractString({}, {})", document, k)
            surely = sql("(NOT {} AND {} NOT IN ('true', 'false'))", first_byte_in(reading, OTHER_STARTS), reading)
            return sql("multiIf({}, {}, JSONType({}, {}) = 'String', {}, '')", surely, reading, document, k, reading)

        return sql("ifNull({}, '')", body(key) if is_constant(key) else let(key, "__key", body(Sql("__key"))))

    # --- numbers ------------------------------------------------------------------------------------
    def to_number(self, text: Sql) -> Sql:
        # Beyond Float64's range the text is ±inf (what it reads as in Python), not NULL; `+ 0` turns -0 into 0, as
        # PostgreSQL's numeric has no negative zero. A JSON value reads as the same number from its text and from its
        # reading (see `JsonText`): only a number's differ, in notation, and both read as the same float.
        text = reading_of(text)
        parsed = sql(
            "ifNull(toFloat64OrNull(trimBoth(__n, {})) + 0, if(startsWith(trimLeft(__n, {}), '-'), -inf, inf))",
            SPACES,
            SPACES,
        )
        # Plain decimals (most numbers' readings) first: no spaces to trim, and read whatever they are.
        plain = sql("match(__n, {}) AND isNotNull(toFloat64OrNull(__n))", PLAIN_DECIMAL)
        body = sql("multiIf({}, toFloat64OrNull(__n) + 0, match(__n, {}), {}, NULL)", plain, NUMERIC_TEXT, parsed)
        return let(text, "__n", body)

    def compare_text_number(self, text: Sql, op: str, number: Sql, *, text_left: bool) -> Sql:
        """A whole number's text is compared exactly (a float would round ids past 2^53), other text as a float."""

        def test(value: str, other: str) -> str:
            return f"({value} {op} {other})" if text_left else f"({other} {op} {value})"

        whole = sql("if(match(__c, {}), toInt64OrNull(trimBoth(__c, {})), NULL)", INTEGER_TEXT, SPACES)
        exact_or_not = "arrayMap((__i, __x) -> {}, [{}], [{}])[1]"
        if op == "IN":  # a list of constants: written twice rather than bound
            body = sql(f"if(__i IS NOT NULL, {test('__i', '{}')}, {test('(__x + 0)', '{}')})", number, number)
            return let(text, "__c", sql(exact_or_not, body, whole, self.to_number(Sql("__c"))))
        body = Sql(f"if(__i IS NOT NULL, {test('__i', '__m')}, {test('__x', '__m')})")
        compared = sql(exact_or_not, body, whole, self.to_number(Sql("__c")))
        return sql("arrayMap((__c, __m) -> {}, [{}], [{}])[1]", compared, text, number)

    def cast_or_null(self, value: Sql, source: str, target: str) -> Sql:
        return sql(f"accurateCastOrNull({{}}, '{target}')", value)

    def to_float(self, number: Sql) -> Sql:
        return let(number, "__f", Sql("if(abs(__f) < 1e308, toFloat64(__f), NULL)"))

    def number_for_in(self, number: Sql) -> Sql:
        return sql("({} + 0)", number)  # IN hashes its values, and -0.0 hashes apart from 0: `+ 0` makes it 0

    def number_as(self, number: Sql, type_: str) -> Sql:
        # ClickHouse gives a Variant for branches of different number types: cast each to the decided one.
        return sql("toFloat64({})" if "Float" in type_ else "toInt64({})", number)

    def to_text(self, value: Sql, type_: str, timezone: str) -> Sql:
        base = base_type(type_)
        if base.startswith("DateTime"):
            return sql("formatDateTime({}, {}, {})", value, DATE_TIME_FORMAT, timezone)
        if base == "Bool":
            return sql("if({}, 'true', 'false')", value)
        if base == "Float64":
            return sql("toString(toFloat64({}))", value)
        if base.startswith("Array("):  # as PostgreSQL prints a text[]: `{a,"b c",""}`
            element = sql("""if(match(__e, {}), concat('"', replaceRegexpAll(__e, {}, {}), '"'), __e)""",
                          ARRAY_QUOTED, r'(["\\])', r"\\\1")  # fmt: skip
            return sql("concat({}, arrayStringConcat(arrayMap(__e -> {}, {}), ','), {})", "{", element, value, "}")
        return sql("toString({})", value)

    def scalar(self, name: str, args: list[Sql]) -> Sql:
        if name == "absInt64":
            return sql("accurateCastOrNull(abs(toInt128({})), 'Int64')", *args)
        if name in ("trimLeft", "trimRight"):  # spaces only, as PostgreSQL's ltrim and rtrim
            return sql(f"{name}({{}}, ' ')", *args)
        return sql(f"{name}({', '.join(['{}'] * len(args))})", *args)

    def round_number(self, number: Sql, precision: int, *, integer: bool, mode: str = "round") -> Sql:
        if integer:  # NULL beyond Int64, as PostgreSQL's (round of an Int64 would wrap around)
            return sql(f"accurateCastOrNull({mode}(toInt128({{}}), {precision}), 'Int64')", number)
        return sql(f"{mode}({{}}, {precision})", number)

    def extreme(self, name: str, values: list[Sql], *, text: bool) -> Sql:
        return sql(f"{name}({{}})", join(", ", values))

    def regex_extract(self, text: Sql, pattern: str) -> Sql:
        return of_text(text, lambda value: sql("extract({}, {})", value, pattern))

    def format_date_time(self, moment: Sql, pieces: list[str], timezone: str) -> Sql:
        return sql("formatDateTime({}, {}, {})", moment, "".join(pieces), timezone)

    def array(self, items: list[Sql]) -> Sql:
        return sql("[{}]", join(", ", items))

    def array_position(self, array: Sql, value: Sql, *, found: bool) -> Sql:
        return sql("has({}, {})" if found else "toInt64(indexOf({}, {}))", array, value)

    def quantile(self, number: Sql, level: float) -> Sql:
        return sql(f"quantileOrNull({level!r})({{}})", number)

    def arg_extreme(self, name: str, value: Sql, key: Sql, *, text_key: bool) -> Sql:
        return sql(f"{name}OrNull({{}}, {{}})", value, key)

    def group_array(self, value: Sql) -> Sql:
        return sql("groupArray({})", value)

    def any_value(self, value: Sql, type_: str) -> Sql:
        return sql("anyOrNull({})", value)

    def date_part(self, name: str, value: Sql, timezone: str | None) -> Sql:
        if timezone is None:
            return sql(f"toInt64({name}({{}}))", value)
        return sql(f"toInt64({name}(toTimeZone({{}}, {{}})))", value, timezone)

    def text_to_date(self, text: Sql) -> Sql:
        # toDateOrNull where the text is a date by DATE_TEXT, and only the very day it names (it clamps and rolls
        # over what is not).
        parts = sql("extractGroups(__t, {})", DATE_TEXT)
        same_day = sql("toYear(__d) = toUInt16({}[1]) AND toMonth(__d) = toUInt8({}[2]) AND "
                       "toDayOfMonth(__d) = toUInt8({}[3])", parts, parts, parts)  # fmt: skip
        checked = let(Sql("toDateOrNull(__t)"), "__d", sql("if({}, __d, NULL)", same_day))
        return let(text, "__t", sql("if(match(__t, {}), {}, NULL)", DATE_TEXT, checked))

    def date_to_moment(self, day: Sql, timezone: str) -> Sql:
        return sql("toDateTime64({}, 6, {})", day, timezone)

    def date_start_of(self, unit: str, day: Sql) -> Sql:
        return sql("toStartOfWeek({})" if unit == "week" else "toStartOfMonth({})", day)

    def shift_local(self, moment: Sql, op: str, interval: Sql, timezone: str) -> Sql:
        return sql(f"(toTimeZone({{}}, {{}}) {op} {{}})", moment, timezone, interval)

    def date_add(self, day: Sql, op: str, interval: Sql) -> Sql:
        return sql(f"({{}} {op} {{}})", day, interval)

    def bind_both(self, left: Sql, right: Sql, body: Callable[[Sql, Sql], Sql]) -> Sql:
        return sql("arrayMap((__l, __r) -> {}, [{}], [{}])[1]", body(Sql("__l"), Sql("__r")), left, right)

    def condition_to_number(self, condition: Sql) -> Sql:
        return sql("toUInt8({})", condition)

    def number_to_condition(self, number: Sql) -> Sql:
        return sql("(({}) != 0)", number)

    def integer_arithmetic(self, left: Sql, op: str, right: Sql) -> Sql:
        return sql(f"accurateCastOrNull(toInt128({{}}) {op} toInt128({{}}), 'Int64')", left, right)

    def divide(self, left: Sql, right: Sql) -> Sql:
        return sql("(toFloat64({}) / toFloat64({}))", left, right)

    def modulo(self, left: Sql, right: Sql) -> Sql:
        return sql("modulo({}, nullIf({}, 0))", left, right)

    def interval(self, amount: Sql, unit: str) -> Sql:
        # As PostgreSQL's make_interval: seconds to the microsecond, other units to whole numbers (half to even).
        if unit == "second":
            return sql("toIntervalMicrosecond(toInt64(roundBankers(toFloat64({}) * 1000000)))", amount)
        scale = INTERVAL_SCALE.get(unit, 1)
        return sql(f"toInterval{INTERVALS[unit]}(toInt64(roundBankers(({{}}) * {scale})))", amount)

    # --- text ---------------------------------------------------------------------------------------
    def like(self, value: Sql, pattern: Sql, *, insensitive: bool) -> Sql:
        normalised = sql("replaceRegexpAll({}, {}, {})", pattern, *LIKE_ESCAPES)
        operator = "ILIKE" if insensitive else "LIKE"
        if not is_constant(pattern):  # written once
            return sql(f"({{}} {operator} {{}})", value, normalised)
        return of_text(value, lambda text: sql(f"({{}} {operator} {{}})", text, normalised))

    def regex(self, value: Sql, pattern: str, *, insensitive: bool) -> Sql:
        return of_text(value, lambda text: sql("match({}, {})", text, "(?i)" + pattern if insensitive else pattern))

    def regex_replace(self, text: Sql, pattern: str, replacement: str) -> Sql:
        # In a group: ClickHouse takes a pattern without metacharacters for a plain string (and then the replacement
        # literally, `\\0` and all) and leaves the text alone for an empty one.
        return sql("replaceRegexpAll({}, {}, {})", text, f"(?:{pattern})", replacement)

    def concat(self, parts: list[Sql]) -> Sql:
        return sql("concat({})", join(", ", parts))

    def length(self, text: Sql) -> Sql:
        return sql("length({})", text)

    def split(self, text: Sql, separator: str) -> Sql:
        return sql("splitByChar({}, ifNull({}, ''))", separator, text)

    def array_length(self, array: Sql) -> Sql:
        return sql("length({})", array)

    def text_to_bool(self, text: Sql) -> Sql:
        return sql("(CASE lower({}) WHEN 'true' THEN 1 WHEN '1' THEN 1 WHEN 'false' THEN 0 WHEN '0' THEN 0 END)",
                   text)  # fmt: skip

    # --- dates --------------------------------------------------------------------------------------
    def date_of(self, moment: Sql, timezone: str) -> Sql:
        return sql("toDate32({}, {})", moment, timezone)

    def start_of(self, unit: str, moment: Sql, timezone: str) -> Sql:
        # In UTC, as every other date-time here (interval arithmetic then counts days as PostgreSQL does), and by
        # arithmetic rather than toStartOfHour/Week/Month, which stop at 1970.
        if unit == "hour":  # back by the local minutes, seconds and microseconds
            back = sql("toMinute(__m, {}) * 60000000 + positiveModulo(toUnixTimestamp64Micro(__m), 60000000)",
                       timezone)  # fmt: skip
            return let(moment, "__m", sql("(__m - toIntervalMicrosecond({}))", back))
        local = {"day": Sql("__d"), "week": Sql("(__d - modulo(toDayOfWeek(__d), 7))"),  # weeks start on Sunday
                 "month": Sql("(__d - (toDayOfMonth(__d) - 1))")}[unit]  # fmt: skip
        day = let(sql("toDate32({}, {})", moment, timezone), "__d", local)
        return sql("toTimeZone(toDateTime64({}, 6, {}), 'UTC')", day, timezone)

    def _units_since_epoch(self, unit: str, moment: Sql, timezone: str) -> Sql:
        if unit in MICROSECONDS:
            return _floor_div(sql("toUnixTimestamp64Micro({})", moment), MICROSECONDS[unit])
        days = sql("toInt64(toDate32({}, {}))", moment, timezone)
        if unit == "day":
            return days
        if unit == "week":  # counted from a Monday, 5 January 1970
            return _floor_div(sql("({} - 4)", days), 7)
        per_year, month = {"month": (12, "toMonth(__m, {})"), "quarter": (4, "intDiv(toMonth(__m, {}) - 1, 3)"),
                           "year": (1, "0")}[unit]  # fmt: skip
        body = sql(f"(toInt64(toYear(__m, {{}})) * {per_year} + {month})", timezone,
                   *([timezone] if "{}" in month else []))  # fmt: skip
        return let(moment, "__m", body)

    # --- aggregates and order -----------------------------------------------------------------------
    def aggregate_function(self, name: str) -> str:
        # OrNull: NULL over no rows, as SQL's aggregates (ClickHouse's give 0 or a default value).
        return name if name == "count" else f"{name}OrNull"

    def count_if(self, condition: Sql) -> Sql:
        return sql("countIf({})", condition)

    def order(self, value: Sql, *, descending: bool, nulls: str | None = None) -> Sql:
        # PostgreSQL's NULL placement unless the query says (ClickHouse puts NULLs last both ways).
        placed = nulls or ("first" if descending else "last")
        return sql("{}" + (" DESC" if descending else " ASC") + f" NULLS {placed.upper()}", value)

    # --- property filters (`Dialect`'s filter methods) ---------------------------------------------------------
    def filter_property(self, key: str, *, person: bool) -> FilterValue:
        document = Sql("e.person_properties" if person else "e.properties")  # '{}' without a person: nothing is set
        return FilterValue(self.json_text(document, (key,)), document, key)

    def filter_column(self, name: str) -> FilterValue:
        if name == "timestamp":  # as PostgreSQL prints a timestamptz in UTC: `2026-11-01 12:00:00.5+00`
            text = sql("concat(replaceRegexpOne(toString(e.timestamp), {}, ''), '+00')", r"\.?0+$")
            return FilterValue(text, moment=Sql("e.timestamp"))
        return FilterValue(Sql(FILTER_COLUMNS[name]))

    def filter_text_value(self, text: Sql) -> FilterValue:
        return FilterValue(text)

    def filter_number(self, value: FilterValue) -> Sql:
        return self.to_number(value.text)

    def filter_moment(self, value: FilterValue) -> Sql:
        """As PostgreSQL's `json_timestamptz`: a number is unix seconds (milliseconds from 1e11 on, NULL past the year
        9999); a text starting with a date is parsed (in UTC when it has no offset)."""
        if value.moment is not None:
            return value.moment
        moment = Sql("fromUnixTimestamp64Micro(toInt64(roundBankers(__u * 1000000)), 'UTC')")
        unix = let(Sql("if(abs(__s) >= 1e11, __s / 1000, __s)"), "__u",
                   sql("if(abs(__u) > 253402300799, NULL, {})", moment))  # fmt: skip
        parse = sql("if(match(__dt, {}), parseDateTime64BestEffortOrNull(__dt, 6, 'UTC'), NULL)", DATE_PREFIX)
        # Only a string's text starts with a date, and a string's text is its reading.
        dated = let(reading_of(value.text), "__dt", parse)
        return let(self.filter_number(value), "__s", sql("if(__s IS NOT NULL, {}, {})", unix, dated))

    def filter_is_set(self, value: FilterValue) -> Sql:
        if not isinstance(value.text, JsonText):
            return sql("isNotNull({})", value.text)
        return sql("({} != 'Null')", value.text.kind)

    def filter_exact(self, value: FilterValue, texts: list[str], numbers: list[float]) -> Sql:
        if value.document is None:
            return sql("has({}, {})", texts, value.text)
        # Texts only a string can have are compared with the reading, which is every string's text and nothing
        # else's with such a text.
        text = reading_of(value.text) if all(map(is_surely_string, texts)) else value.text
        condition = sql("has({}, {})", texts, text)
        if numbers and isinstance(value.text, JsonText):  # a JSON number equal to a numeric filter value
            condition = sql("{} OR has({}, {})", condition, numbers, json_number(value.text))
        return sql("({})", condition)

    def filter_matches_any(self, text: Sql, operator: str, patterns: list[str]) -> Sql:
        if not patterns:
            return Sql("FALSE")
        test = "match({}, {})" if operator == "regex" else "({} ILIKE {})"

        def any_of(value: Sql) -> Sql:
            if len(patterns) == 1:
                return sql(test, value, patterns[0])
            return let(value, "__t", sql("({})", join(" OR ", [sql(test, Sql("__t"), item) for item in patterns])))

        # NULL is false here (the compiler's `coalesce`), so what a JSON value's reading contains is what its text
        # contains, for the texts found in no number and across no separator of a container.
        if isinstance(text, JsonText) and operator == "ilike" and all(map(contains_alike, patterns)):
            return any_of(text.reading)
        return of_text(text, any_of)

    def filter_number_any(self, number: Sql, operator: str, bounds: list[int | float]) -> Sql:
        if not bounds:
            return Sql("FALSE")
        return sql(f"({{}} {operator} {{}})", number, float(BOUND_OF_ANY[operator](bounds)))

    def filter_semver(self, text: Sql, operator: str, lower: tuple[int, ...], upper: tuple[int, ...] | None) -> Sql:
        parts = sql("arrayMap(__x -> toInt64OrZero(__x), extractGroups(__v, {}))", SEMVER_KEY)
        key = of_text(text, lambda value: let(value, "__v", sql("if(match(__v, {}), {}, [])", SEMVER_KEY, parts)))
        if upper is not None:
            return let(key, "__sv", sql("(notEmpty(__sv) AND __sv >= {} AND __sv < {})", list(lower), list(upper)))
        return let(key, "__sv", sql(f"(notEmpty(__sv) AND __sv {operator} {{}})", list(lower)))

    def filter_elements(self, key: str, condition: Callable[[FilterValue], Sql]) -> Sql:
        if key == "tag_name":
            values = sql("extractAll(e.elements_chain, {})", TAG_NAMES)
        else:  # the attribute's quoted values, unescaped
            pattern = '(?:^|[:"])' + re.escape(key) + r'="((?:[^"\\]|\\.)*)"'
            values = sql("arrayMap(__m -> replaceAll(__m, {}, {}), extractAll(e.elements_chain, {}))", '\\"', '"',
                         pattern)  # fmt: skip
        return sql("arrayExists(__ev -> {}, {})", condition(self.filter_text_value(Sql("__ev"))), values)
