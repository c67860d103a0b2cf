"""HogQL printed for PostgreSQL: how each operation the printer decided is written there. No semantics here."""

from __future__ import annotations

from query_languages.sql import Sql, join, sql

# The person of each event, by its distinct id (a LEFT JOIN: events may have none).
PERSON_JOIN = (
    "LEFT JOIN events_persondistinctid AS pdi ON pdi.team_id = e.team_id AND pdi.distinct_id = e.distinct_id "
    "LEFT JOIN events_person AS p ON p.id = pdi.person_id"
)

# make_interval's argument for each unit, and how many of it one unit is.
INTERVAL_ARGUMENTS = {
    "second": ("secs", 1), "minute": ("mins", 1), "hour": ("hours", 1), "day": ("days", 1), "week": ("weeks", 1),
    "month": ("months", 1), "quarter": ("months", 3), "year": ("years", 1),
}  # fmt: skip
# Largest magnitudes the conversions accept; beyond them the value is NULL rather than an error.
FLOAT8_LIMIT = "1e308"
BIGINT_LIMIT = "9.2e18"


class PostgresDialect:
    def column(self, table_alias: str, name: str) -> Sql:
        return Sql(f"{table_alias}.{name}")

    def json_text(self, document: Sql, path: tuple[str, ...]) -> Sql:
        return sql("jsonb_extract_path_text({}, {})", document, join(", ", [sql("{}::text", key) for key in path]))

    def json_whole(self, document: Sql) -> Sql:
        return sql("({})::text", document)

    def json_string_or_empty(self, document: Sql, key: Sql) -> Sql:
        return sql("(CASE WHEN jsonb_typeof({} -> {}) = 'string' THEN {} ->> {} ELSE '' END)", document, key,
                   document, key)  # fmt: skip

    def to_number(self, text: Sql) -> Sql:
        return sql("posthog_try_numeric({})", text)

    def to_float(self, number: Sql) -> Sql:
        return sql(f"(CASE WHEN abs({{}}) < {FLOAT8_LIMIT} THEN ({{}})::float8 END)", number, number)

    def to_integer(self, number: Sql) -> Sql:
        return sql(f"(CASE WHEN abs({{}}) < {BIGINT_LIMIT} THEN trunc({{}})::bigint END)", number, number)

    def to_text(self, value: Sql, type_: str, timezone: str) -> Sql:
        if type_.removeprefix("Nullable(").startswith("DateTime"):
            return sql("to_char(({}) AT TIME ZONE {}, 'YYYY-MM-DD HH24:MI:SS')", value, timezone)
        if type_ == "Bool":
            return sql("(CASE WHEN ({})::int = 1 THEN 'true' ELSE 'false' END)", value)
        return sql("({})::text", value)

    def condition_to_number(self, condition: Sql) -> Sql:
        return sql("({})::int", condition)

    def number_to_condition(self, number: Sql) -> Sql:
        return sql("(({}) <> 0)", number)

    def divide(self, left: Sql, right: Sql) -> Sql:
        return sql("(({})::float8 / NULLIF(({})::float8, 0))", left, right)

    def modulo(self, left: Sql, right: Sql) -> Sql:
        return sql("mod(({})::numeric, NULLIF(({})::numeric, 0))", left, right)

    def interval(self, amount: Sql, unit: str) -> Sql:
        argument, scale = INTERVAL_ARGUMENTS[unit]
        if argument == "secs":
            return sql("make_interval(secs => ({})::float8)", amount)
        return sql(f"make_interval({argument} => (({{}}) * {scale})::int)", amount)

    def like(self, value: Sql, pattern: Sql, *, insensitive: bool) -> Sql:
        return sql("({} " + ("ILIKE" if insensitive else "LIKE") + " {})", value, pattern)

    def regex(self, value: Sql, pattern: Sql, *, insensitive: bool) -> Sql:
        return sql("({} " + ("~*" if insensitive else "~") + " {})", value, pattern)

    def concat(self, parts: list[Sql]) -> Sql:
        return sql("({})", join(" || ", parts))

    def length(self, text: Sql) -> Sql:
        return sql("octet_length({})", text)

    def date_of(self, moment: Sql, timezone: str) -> Sql:
        return sql("(({}) AT TIME ZONE {})::date", moment, timezone)

    def start_of(self, unit: str, moment: Sql, timezone: str) -> Sql:
        if unit == "week":  # ClickHouse's weeks start on Sunday
            return sql("(date_trunc('week', ({}) + interval '1 day', {}) - interval '1 day')", moment, timezone)
        return sql(f"date_trunc('{unit}', {{}}, {{}})", moment, timezone)

    def null_of(self, kind: str) -> Sql:
        return Sql({"number": "NULL::numeric", "text": "NULL::text", "condition": "NULL::boolean"}[kind])

    def date_diff(self, unit: str, start: Sql, end: Sql, timezone: str) -> Sql:
        return sql("({} - {})::bigint", self._units_since_epoch(unit, end, timezone),
                   self._units_since_epoch(unit, start, timezone))  # fmt: skip

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

    def regex_replace(self, text: Sql, pattern: Sql, replacement: Sql) -> Sql:
        return sql("regexp_replace({}, {}, {}, 'g')", text, pattern, replacement)

    def split(self, text: Sql, separator: Sql) -> Sql:
        return sql("string_to_array({}, {})", text, separator)

    def count_if(self, condition: Sql) -> Sql:
        return sql("count(*) FILTER (WHERE {})", condition)

    def person_join(self) -> Sql:
        return Sql(PERSON_JOIN)

    def team_filter(self, table_alias: str, team_id: int) -> Sql:
        return sql(f"{table_alias}.team_id = {{}}", team_id)
