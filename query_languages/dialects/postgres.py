"""HogQL and property filters printed for PostgreSQL: how each operation the printer (and the filter compiler)
decided is written there. No semantics here. The casts that could fail (numbers, dates, versions) go through SQL
functions of the caller's migrations (`PostgresSchema`), which answer NULL instead of erroring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from query_languages.dialects.base import BaseDialect, check_identifier
from query_languages.hogql.semantics import clickhouse_replacement
from query_languages.hogql.types import base_type, is_datetime
from query_languages.regex import RegexError, postgres_pattern
from query_languages.sql import Sql, join, sql

# make_interval's argument for each unit, and how many of it one unit is.
INTERVAL_ARGUMENTS = {
    "second": ("secs", 1), "minute": ("mins", 1), "hour": ("hours", 1), "day": ("days", 1), "week": ("weeks", 1),
    "month": ("months", 1), "quarter": ("months", 3), "year": ("years", 1),
}  # fmt: skip
# Largest magnitudes the conversions accept; beyond them the value is NULL rather than an error.
FLOAT8_LIMIT = "1e308"
INT64_MIN = "-9223372036854775808"
BIGINT_LIMIT = "9.2e18"
TABLE_ALIASES = {"events": "e", "persons": "p"}
PERSON_COLUMNS = {"id": "p.uuid", "created_at": "p.created_at", "properties": "p.properties",
                  "is_identified": "p.is_identified"}  # fmt: skip
CASTS = {"integer": "::bigint", "float": "::float8", "text": "::text", "date": "::date", "numeric": "::numeric",
         "bool": "", "datetime": ""}  # fmt: skip
TEXT_FUNCTIONS = {"lower": "lower", "upper": "upper", "trim": "btrim"}
SCALARS = {"abs": "abs({})", "floor": "floor({})", "ceil": "ceil({})", "startsWith": "starts_with({}, {})",
           "trimLeft": "ltrim({})", "trimRight": "rtrim({})",
           "toUnixTimestamp": "floor(extract(epoch FROM {}))::bigint"}  # fmt: skip
DATE_PART_FIELDS = {"toYear": "year", "toMonth": "month", "toDayOfMonth": "day", "toDayOfWeek": "isodow",
                    "toHour": "hour", "toMinute": "minute"}  # fmt: skip
# Event columns as text, for event_metadata filters.
FILTER_COLUMNS = {"distinct_id": "e.distinct_id", "event": "e.event", "uuid": "e.uuid::text",
                  "elements_chain": "e.elements_chain", "timestamp": "e.timestamp::text"}  # fmt: skip
MATCH_ANY = {"ilike": "ILIKE", "regex": "~"}
# formatDateTime's specifiers as to_char patterns (English names without TM); %w is computed, the rest are literal.
TO_CHAR = {"%Y": "YYYY", "%y": "YY", "%m": "MM", "%c": "MM", "%d": "DD", "%e": "FMDD", "%H": "HH24", "%h": "HH12",
           "%I": "HH12", "%i": "MI", "%M": "FMMonth", "%S": "SS", "%s": "SS", "%F": "YYYY-MM-DD", "%T": "HH24:MI:SS",
           "%D": "MM/DD/YY", "%R": "HH24:MI", "%j": "DDD", "%u": "ID", "%p": "AM", "%b": "Mon", "%a": "Dy",
           "%W": "FMDay", "%Q": "Q"}  # fmt: skip
FORMAT_LITERALS = {"%%": "%", "%n": "\n", "%t": "\t"}
# Beyond this a float has no fraction to round, and multiplying it by the scale would overflow float8 (an error).
ROUND_LIMIT = "1e280"


# ln of the largest float8, and of half the least one above zero: beyond them a power is infinite, or 0.
LN_FLOAT8_MAX = "709.782712893"
LN_FLOAT8_TINY = "-745.1332191"


def _power(base: Sql, exponent: Sql) -> Sql:
    """ClickHouse's pow (C's): where PostgreSQL's power is an error, ClickHouse answers inf (0 to a negative power,
    an overflow, signed as the result would be), 0 (an underflow) or nan (a negative number to a fraction)."""
    odd = sql("({} - 2 * floor({} / 2) = 1)", exponent, exponent)  # an odd whole exponent
    magnitude = sql("({} * ln(nullif(abs({}), 0)))", exponent, base)
    return sql(
        "(CASE WHEN abs({}) < 'Infinity' AND abs({}) < 'Infinity' AND {} <> 0 THEN (CASE"
        " WHEN {} < 0 AND {} <> trunc({}) THEN 'NaN'::float8"
        f" WHEN {{}} > {LN_FLOAT8_MAX} THEN (CASE WHEN {{}} < 0 AND {{}} THEN '-Infinity' ELSE 'Infinity' END)::float8"
        f" WHEN {{}} < {LN_FLOAT8_TINY} THEN 0::float8"
        " ELSE power({}, {}) END)"
        " WHEN {} = 0 AND {} < 0 THEN 'Infinity'::float8 ELSE power({}, {}) END)",
        base, exponent, base, base, exponent, exponent, magnitude, base, odd, magnitude, base, exponent,
        base, exponent, base, exponent,
    )  # fmt: skip


def _to_char_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class PostgresSchema:
    """Where PostgreSQL keeps events and persons, and the SQL functions the caller's migrations define (each answers
    NULL where a cast would fail)."""

    events: str  # the events table (team_id, uuid, event, distinct_id, properties jsonb, timestamp, elements_chain…)
    persons: str  # the persons table (id, uuid, created_at, properties jsonb, is_identified)
    person_distinct_ids: str  # which person each (team_id, distinct_id) is (person_id)
    try_numeric: str  # text → numeric
    json_numeric: str  # jsonb (a number or numeric text) → numeric
    json_timestamptz: str  # jsonb (unix seconds or milliseconds, or a date text) → timestamptz
    semver_key: str  # text → bigint[] that orders versions
    chain_values: str  # (elements chain, attribute) → text[] of the attribute's values
    # accurateCastOrNull's, as ClickHouse: text → bigint, a number (numeric or float8) → bigint, text → float8, and
    # an integer → float8 (each NULL where the type cannot hold the value exactly)
    text_to_int64: str
    to_int64: str
    text_to_float64: str
    int_to_float64: str
    float_text: str  # float8 → text as ClickHouse's toString prints it
    divide: str  # float8 / float8, as ClickHouse: by zero an infinity (NaN for 0/0)
    clamp_date: str  # a date within ClickHouse's Date range
    text_to_date: str  # text → date, as ClickHouse's toDateOrNull (semantics.DATE_TEXT)

    def __post_init__(self) -> None:  # each is written into the SQL text
        for name, value in vars(self).items():
            check_identifier(value, f"PostgreSQL name for {name}")

    @property
    def person_join(self) -> str:
        """The person of each event `e`, by its distinct id, as `p` (a LEFT JOIN: events may have none)."""
        return (
            f"LEFT JOIN {self.person_distinct_ids} AS pdi ON pdi.team_id = e.team_id "
            f"AND pdi.distinct_id = e.distinct_id LEFT JOIN {self.persons} AS p ON p.id = pdi.person_id"
        )


@dataclass(frozen=True)
class FilterValue:
    """One property as a filter reads it: as jsonb, as text, and (for the timestamp column) as a native timestamp."""

    json: Sql
    text: Sql
    moment: Sql | None = None


class PostgresDialect(BaseDialect):
    text_functions = TEXT_FUNCTIONS
    whole_difference = "({} - {})::bigint"

    def __init__(self, schema: PostgresSchema, *, regex_check: Callable[[str], str | None] | None = None) -> None:
        """`regex_check`: why PostgreSQL itself refuses a regular expression, or None (it asks the database: a
        pattern is compiled only once a row reaches it, so a bad one would fail some queries and not others)."""
        self.schema = schema
        self.regex_check = regex_check

    def table(self, name: str) -> Sql:
        return Sql(f"{self.schema.events if name == 'events' else self.schema.persons} AS {TABLE_ALIASES[name]}")

    def person_column(self, name: str) -> Sql:
        return Sql(PERSON_COLUMNS[name])

    def constant(self, value: Any, kind: str) -> Sql:
        if kind == "integer":
            # Parenthesised: bound client-side, `-9223372036854775808::bigint` would cast before negating.
            return sql("({})" + CASTS[kind], value)
        return sql("{}" + CASTS[kind], value)

    def json_text(self, document: Sql, path: tuple[str, ...]) -> Sql:
        return sql("jsonb_extract_path_text({}, {})", document, join(", ", [sql("{}::text", key) for key in path]))

    def json_whole(self, document: Sql) -> Sql:
        return sql("({})::text", document)

    def json_text_array(self, document: Sql, path: tuple[str, ...]) -> Sql:
        value = sql("jsonb_extract_path({}, {})", document, join(", ", [sql("{}::text", key) for key in path]))
        item = sql("(CASE jsonb_typeof(__i) WHEN 'string' THEN __i #>> {} WHEN 'null' THEN '' ELSE __i::text END)",
                   Sql("'{}'"))  # fmt: skip
        return sql("ARRAY(SELECT {} FROM jsonb_array_elements(CASE WHEN jsonb_typeof({}) = 'array' THEN {} "
                   "ELSE '[]'::jsonb END) WITH ORDINALITY AS __a(__i, __n) ORDER BY __n)", item, value,
                   value)  # fmt: skip

    def json_string_or_empty(self, document: Sql, key: Sql) -> Sql:
        return sql("(CASE WHEN jsonb_typeof({} -> {}) = 'string' THEN {} ->> {} ELSE '' END)", document, key,
                   document, key)  # fmt: skip

    def to_number(self, text: Sql) -> Sql:
        return sql(f"{self.schema.try_numeric}({{}})", text)

    def compare_text_number(self, text: Sql, op: str, number: Sql, *, text_left: bool) -> Sql:
        sides = (self.to_number(text), number) if text_left else (number, self.to_number(text))
        return sql(f"({{}} {op} {{}})", *sides)

    def cast_or_null(self, value: Sql, source: str, target: str) -> Sql:
        if source == "date":  # days since 1970-01-01, as ClickHouse's Date holds it
            return sql("((({}) - DATE '1970-01-01')" + ("::bigint)" if target == "Int64" else "::float8)"), value)
        if source == "datetime":  # seconds since the epoch (to the microsecond, or toward zero)
            if target == "Int64":
                return sql("trunc(extract(epoch FROM {}))::bigint", value)
            return sql("extract(epoch FROM {})::float8", value)
        if target == "Int64":
            function = self.schema.text_to_int64 if source == "text" else self.schema.to_int64
        else:
            function = self.schema.text_to_float64 if source == "text" else self.schema.int_to_float64
            if source == "integer":  # -2^63, which a float holds exactly (the schema's function refuses it)
                return sql(f"(CASE WHEN {{}} = {INT64_MIN} THEN {INT64_MIN}::float8 ELSE {function}({{}}) END)", value,
                           value)  # fmt: skip
        return sql(f"{function}({{}})", value)

    def number_as(self, number: Sql, type_: str) -> Sql:
        return number  # PostgreSQL finds the common type itself

    def number_for_in(self, number: Sql) -> Sql:
        return number

    def to_float(self, number: Sql) -> Sql:
        return sql(f"(CASE WHEN abs({{}}) < {FLOAT8_LIMIT} THEN ({{}})::float8 END)", number, number)

    def to_text(self, value: Sql, type_: str, timezone: str) -> Sql:
        if is_datetime(type_):
            # As ClickHouse prints a DateTime64(6): to the microsecond.
            return sql("to_char(({}) AT TIME ZONE {}, 'YYYY-MM-DD HH24:MI:SS.US')", value, timezone)
        if type_ == "Bool":
            return sql("(CASE WHEN ({})::int = 1 THEN 'true' ELSE 'false' END)", value)
        if base_type(type_) == "Float64":
            return sql(f"{self.schema.float_text}(({{}})::float8)", value)
        return sql("({})::text", value)

    def condition_to_number(self, condition: Sql) -> Sql:
        return sql("({})::int", condition)

    def number_to_condition(self, number: Sql) -> Sql:
        return sql("(({}) <> 0)", number)

    def integer_arithmetic(self, left: Sql, op: str, right: Sql) -> Sql:
        return sql(f"{self.schema.to_int64}(({{}})::numeric {op} ({{}})::numeric)", left, right)

    def divide(self, left: Sql, right: Sql) -> Sql:
        return sql(f"{self.schema.divide}(({{}})::float8, ({{}})::float8)", left, right)

    def modulo(self, left: Sql, right: Sql) -> Sql:
        return sql("mod(({})::numeric, NULLIF(({})::numeric, 0))", left, right)

    def interval(self, amount: Sql, unit: str) -> Sql:
        argument, scale = INTERVAL_ARGUMENTS[unit]
        if argument == "secs":
            return sql("make_interval(secs => ({})::float8)", amount)
        return sql(f"make_interval({argument} => (({{}}) * {scale})::int)", amount)

    def like(self, value: Sql, pattern: Sql, *, insensitive: bool) -> Sql:
        return sql("({} " + ("ILIKE" if insensitive else "LIKE") + " {})", value, pattern)

    def regex_problem(self, pattern: str) -> str | None:
        # RE2's refusals first (see BaseDialect), then what has no PostgreSQL spelling, then PostgreSQL's own, which
        # its caller asks the database for.
        problem = super().regex_problem(pattern)
        if problem:
            return problem
        try:
            translated = postgres_pattern(pattern)
        except RegexError as error:
            return str(error)
        return None if self.regex_check is None else self.regex_check(translated)

    def regex(self, value: Sql, pattern: str, *, insensitive: bool) -> Sql:
        # RE2's meaning (ClickHouse's), spelled for PostgreSQL.
        return sql("({} " + ("~*" if insensitive else "~") + " {})", value, postgres_pattern(pattern))

    def concat(self, parts: list[Sql]) -> Sql:
        return sql("({})", join(" || ", parts))

    def length(self, text: Sql) -> Sql:
        return sql("octet_length({})", text)

    def date_of(self, moment: Sql, timezone: str) -> Sql:
        return sql("(({}) AT TIME ZONE {})::date", moment, timezone)

    def scalar(self, name: str, args: list[Sql]) -> Sql:
        if name == "absInt64":
            return sql(f"{self.schema.to_int64}(abs(({{}})::numeric))", *args)
        if name == "sqrt":  # nan below 0, as ClickHouse's (PostgreSQL's is an error)
            return sql("(CASE WHEN ({})::float8 < 0 THEN 'NaN'::float8 ELSE sqrt(({})::float8) END)", args[0], args[0])
        if name == "pow":
            return _power(sql("({})::float8", args[0]), sql("({})::float8", args[1]))
        if name == "endsWith":  # the suffix is read twice (it is nearly always a constant)
            return sql("(right({}, char_length({})) = {})", args[0], args[1], args[1])
        return sql(SCALARS[name], *args)

    def round_number(self, number: Sql, precision: int, *, integer: bool, mode: str = "round") -> Sql:
        if integer:
            if mode == "round":
                return sql(f"{self.schema.to_int64}(round(({{}})::numeric, {precision}))", number)
            step = f"(10::numeric ^ {-precision})"  # a negative precision: down (up) to a multiple of the step
            return sql(f"{self.schema.to_int64}({mode}(({{}})::numeric / {step}) * {step})", number)
        # As ClickHouse: the float times (or over) the power of ten, to the nearest whole number (float8's round is
        # half to even) or down or up, and back.
        scale = f"1e{abs(precision)}::float8"
        there, back = ("*", "/") if precision >= 0 else ("/", "*")
        return sql(f"(CASE WHEN abs({{}}) < {ROUND_LIMIT} THEN {mode}(({{}})::float8 {there} {scale}) {back} {scale} "
                   "ELSE ({})::float8 END)", number, number, number)  # fmt: skip

    def extreme(self, name: str, values: list[Sql], *, text: bool) -> Sql:
        if text:  # by bytes, as ClickHouse compares texts
            values = [sql('({})::text COLLATE "C"', value) for value in values]
        return sql(f"{name}({{}})", join(", ", values))

    def regex_extract(self, text: Sql, pattern: str) -> Sql:
        # substring takes the first group's match, or the whole match without groups (NULL for none, as for NULL).
        return sql("coalesce(substring({} from {}), left({}, 0))", text, postgres_pattern(pattern), text)

    def format_date_time(self, moment: Sql, pieces: list[str], timezone: str) -> Sql:
        local = sql("(({}) AT TIME ZONE {})", moment, timezone)
        parts: list[Sql] = []
        pattern: list[str] = []

        def flush() -> None:
            if pattern:
                parts.append(sql("to_char({}, {})", local, '""'.join(pattern)))
                pattern.clear()

        for piece in pieces:
            if piece == "%w":  # from Sunday as 0
                flush()
                parts.append(sql("extract(dow FROM {})::int::text", local))
            elif piece in TO_CHAR:
                pattern.append(TO_CHAR[piece])
            else:
                pattern.append(_to_char_literal(FORMAT_LITERALS.get(piece, piece)))
        flush()
        if not parts:
            return sql("(CASE WHEN {} IS NOT NULL THEN '' END)", moment)
        return sql("({})", join(" || ", parts))

    def array(self, items: list[Sql]) -> Sql:
        if not items:
            return Sql("(ARRAY[]::text[])")
        return sql("ARRAY[{}]", join(", ", items))

    def array_position(self, array: Sql, value: Sql, *, found: bool) -> Sql:
        position = sql("array_position({}, {})", array, value)  # IS NOT DISTINCT FROM: NULL finds NULL
        return sql("({} IS NOT NULL)", position) if found else sql("coalesce({}, 0)", position)

    def quantile(self, number: Sql, level: float) -> Sql:
        return sql(f"percentile_cont({level!r}::float8) WITHIN GROUP (ORDER BY ({{}})::float8)", number)

    def arg_extreme(self, name: str, value: Sql, key: Sql, *, text_key: bool) -> Sql:
        order = sql('({})::text COLLATE "C"', key) if text_key else key
        direction = "DESC" if name == "argMax" else "ASC"
        return sql(f"(array_agg({{}} ORDER BY {{}} {direction}) FILTER (WHERE {{}} IS NOT NULL AND {{}} IS NOT NULL))"
                   "[1]", value, order, value, key)  # fmt: skip

    def group_array(self, value: Sql) -> Sql:
        return sql("coalesce(array_agg({}) FILTER (WHERE {} IS NOT NULL), {})", value, value, Sql("'{}'"))

    def any_value(self, value: Sql, type_: str) -> Sql:
        if base_type(type_) == "UUID":  # no min(uuid) in PostgreSQL
            return sql("min(({})::text)::uuid", value)
        return sql("min({})", value)  # one of the values, and the cheapest to find

    def date_part(self, name: str, value: Sql, timezone: str | None) -> Sql:
        local = value if timezone is None else sql("(({}) AT TIME ZONE {})", value, timezone)
        return sql(f"extract({DATE_PART_FIELDS[name]} FROM {{}})::bigint", local)

    def text_to_date(self, text: Sql) -> Sql:
        return sql(f"{self.schema.text_to_date}({{}})", text)

    def date_to_moment(self, day: Sql, timezone: str) -> Sql:
        return sql("(({})::timestamp AT TIME ZONE {})", day, timezone)

    def date_start_of(self, unit: str, day: Sql) -> Sql:
        if unit == "week":  # back to Sunday
            start = sql("(({}) - extract(dow FROM {})::int)", day, day)
        else:
            start = sql("(date_trunc('month', {}))::date", day)
        return sql(f"{self.schema.clamp_date}({{}})", start)

    def shift_local(self, moment: Sql, op: str, interval: Sql, timezone: str) -> Sql:
        return sql(f"((({{}}) AT TIME ZONE {{}}) {op} {{}}) AT TIME ZONE {{}}", moment, timezone, interval, timezone)

    def date_add(self, day: Sql, op: str, interval: Sql) -> Sql:
        return sql(f"(({{}}) {op} {{}})::date", day, interval)

    def start_of(self, unit: str, moment: Sql, timezone: str) -> Sql:
        if unit == "week":  # ClickHouse's weeks start on Sunday: step a calendar day in local time, not 24 hours
            return sql("((date_trunc('week', (({}) AT TIME ZONE {}) + interval '1 day') - interval '1 day') "
                       "AT TIME ZONE {})", moment, timezone, timezone)  # fmt: skip
        return sql(f"date_trunc('{unit}', {{}}, {{}})", moment, timezone)

    def null_of(self, kind: str) -> Sql:
        return Sql({"number": "NULL::numeric", "text": "NULL::text", "condition": "NULL::boolean",
                    "integer": "NULL::bigint", "float": "NULL::float8"}[kind])  # fmt: skip

    def _units_since_epoch(self, unit: str, moment: Sql, timezone: str) -> Sql:
        if unit in ("second", "minute", "hour"):
            seconds = {"second": 1, "minute": 60, "hour": 3600}[unit]
            return sql(f"floor(extract(epoch FROM {{}}) / {seconds})", moment)
        local = sql("(({}) AT TIME ZONE {})", moment, timezone)
        if unit == "day":
            return sql("(({})::date - date '1970-01-01')", local)
        if unit == "week":  # counted from a Monday, 5 January 1970
            return sql("floor((({})::date - date '1970-01-05') / 7.0)", local)
        if unit == "month":
            return sql("(extract(year FROM {}) * 12 + extract(month FROM {}))", local, local)
        if unit == "quarter":
            return sql("(extract(year FROM {}) * 4 + floor((extract(month FROM {}) - 1) / 3))", local, local)
        return sql("extract(year FROM {})", local)

    def text_to_bool(self, text: Sql) -> Sql:
        return sql("(CASE lower({}) WHEN 'true' THEN true WHEN '1' THEN true WHEN 'false' THEN false "
                   "WHEN '0' THEN false END)", text)  # fmt: skip

    def regex_replace(self, text: Sql, pattern: str, replacement: str) -> Sql:
        return sql("regexp_replace({}, {}, {}, 'g')", text, postgres_pattern(pattern),
                   clickhouse_replacement(replacement)[0])  # fmt: skip

    def split(self, text: Sql, separator: str) -> Sql:
        # As ClickHouse's splitByChar: '' (and NULL) is one empty part, which string_to_array would drop.
        pattern = separator if separator.isalnum() else "\\" + separator
        return sql("regexp_split_to_array(coalesce({}, ''), {})", text, pattern)

    def array_length(self, array: Sql) -> Sql:
        return sql("cardinality({})", array)

    def bind_both(self, left: Sql, right: Sql, body: Callable[[Sql, Sql], Sql]) -> Sql:
        return body(left, right)  # an expression cannot bind a name in PostgreSQL: the printer bounds the copies

    def count_if(self, condition: Sql) -> Sql:
        return sql("count(*) FILTER (WHERE {})", condition)

    def order(self, value: Sql, *, descending: bool, nulls: str | None = None) -> Sql:
        placed = f" NULLS {nulls.upper()}" if nulls in ("first", "last") else ""
        return sql("{}" + (" DESC" if descending else " ASC") + placed, value)

    def person_join(self) -> Sql:
        return Sql(self.schema.person_join)

    # --- property filters (`Dialect`'s filter methods) ---------------------------------------------------------
    def filter_property(self, key: str, *, person: bool) -> FilterValue:
        source = "p.properties" if person else "e.properties"
        return FilterValue(sql(f"({source} -> {{}})", key), sql(f"({source} ->> {{}})", key))

    def filter_column(self, name: str) -> FilterValue:
        column = Sql(FILTER_COLUMNS[name])
        return FilterValue(sql("to_jsonb({})", column), column, Sql("e.timestamp") if name == "timestamp" else None)

    def filter_text_value(self, text: Sql) -> FilterValue:
        return FilterValue(sql("to_jsonb({})", text), text)

    def filter_number(self, value: FilterValue) -> Sql:
        return sql(f"{self.schema.json_numeric}({{}})", value.json)

    def filter_moment(self, value: FilterValue) -> Sql:
        return value.moment or sql(f"{self.schema.json_timestamptz}({{}})", value.json)

    def filter_is_set(self, value: FilterValue) -> Sql:
        return sql("coalesce(jsonb_typeof({}), 'null') <> 'null'", value.json)

    def filter_exact(self, value: FilterValue, texts: list[str], numbers: list[float]) -> Sql:
        condition = sql("{} = ANY({}::text[])", value.text, texts)
        if numbers:
            same_number = sql("(jsonb_typeof({}) = 'number' AND {}::numeric = ANY({}::numeric[]))", value.json,
                              value.json, numbers)  # fmt: skip
            condition = sql("{} OR {}", condition, same_number)
        return sql("({})", condition)

    def filter_matches_any(self, text: Sql, operator: str, patterns: list[str]) -> Sql:
        if operator == "regex":  # RE2's meaning (ClickHouse's), spelled for PostgreSQL
            patterns = [postgres_pattern(pattern) for pattern in patterns]
        return sql(f"({{}} {MATCH_ANY[operator]} ANY({{}}::text[]))", text, patterns)

    def filter_number_any(self, number: Sql, operator: str, bounds: list[int | float]) -> Sql:
        # As text, so each bound is read exactly (a float parameter would be read with 15 digits).
        return sql(f"({{}} {operator} ANY({{}}::numeric[]))", number, [str(bound) for bound in bounds])

    def filter_semver(self, text: Sql, operator: str, lower: tuple[int, ...], upper: tuple[int, ...] | None) -> Sql:
        key = sql(f"{self.schema.semver_key}({{}})", text)
        if upper is not None:
            return sql("({} >= {}::bigint[] AND {} < {}::bigint[])", key, list(lower), key, list(upper))
        return sql(f"({{}} {operator} {{}}::bigint[])", key, list(lower))

    def filter_elements(self, key: str, condition: Callable[[FilterValue], Sql]) -> Sql:
        return sql(f"EXISTS (SELECT 1 FROM unnest({self.schema.chain_values}(e.elements_chain, {{}})) AS ev(v) "
                   "WHERE {})", key, condition(self.filter_text_value(Sql("ev.v"))))  # fmt: skip
