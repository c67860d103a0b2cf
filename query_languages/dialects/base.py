"""What a SQL database must say to run HogQL and property filters (`Dialect`), and what every database says alike
(`BaseDialect`): a dialect subclasses it and writes only what its database writes differently.

A dialect holds no semantics: the HogQL printer and the property-filter compiler decide what each expression means
(ClickHouse's meaning) and ask the dialect only how to write each decided operation. Where the tables and the SQL
functions are is the caller's (a dialect is given its database's physical schema), and so is any check that needs
the database itself (PostgreSQL's regular expressions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from query_languages.regex import pattern_problem
from query_languages.sql import Sql, sql

Version = tuple[int, int, int]
# What a physical schema may name (it is written into the SQL text).
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_identifier(name: str, what: str) -> None:
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a {what}: {name!r}")


class FilterText(Protocol):
    """A dialect's handle on one property for a filter: at least its text."""

    @property
    def text(self) -> Sql: ...


class Dialect(Protocol):
    """How one SQL database writes what the printer and the filter compiler decided. Every method returns SQL for
    values already typed. A filter's "value" is the dialect's own handle on one property (a JSON property, an event
    column, one element's attribute)."""

    # --- HogQL ---------------------------------------------------------------------------------------
    def table(self, name: str) -> Sql: ...  # `events` or `persons`, with its alias (HogQLError if not here)
    def column(self, table_alias: str, name: str) -> Sql: ...
    def person_column(self, name: str) -> Sql: ...  # id, created_at, properties, is_identified
    def person_join(self) -> Sql | None: ...  # None: the event row holds its person
    def team_filter(self, table_alias: str, team_id: int) -> Sql: ...
    # kind: integer, float, text, bool, date, datetime, or numeric (exact, beside any number: IN lists)
    def constant(self, value: Any, kind: str) -> Sql: ...
    def null_of(self, kind: str) -> Sql: ...  # kind: number, integer, float, text or condition
    def json_text(self, document: Sql, path: tuple[str, ...]) -> Sql: ...
    def json_whole(self, document: Sql) -> Sql: ...
    def json_string_or_empty(self, document: Sql, key: Sql) -> Sql: ...
    def to_number(self, text: Sql) -> Sql: ...
    # `text op number` with the text read as a number (op may be IN, before a parenthesised list)
    def compare_text_number(self, text: Sql, op: str, number: Sql, *, text_left: bool) -> Sql: ...
    def to_float(self, number: Sql) -> Sql: ...
    # ClickHouse's accurateCastOrNull to target (Int64 or Float64) of a value of source (text, integer, float, date:
    # its days since 1970-01-01, or datetime: its seconds since the epoch)
    def cast_or_null(self, value: Sql, source: str, target: str) -> Sql: ...
    def number_as(self, number: Sql, type_: str) -> Sql: ...  # one type for the branches of if/coalesce
    def number_for_in(self, number: Sql) -> Sql: ...  # the number before IN (a list of numbers)
    def to_text(self, value: Sql, type_: str, timezone: str) -> Sql: ...
    def condition_to_number(self, condition: Sql) -> Sql: ...
    def number_to_condition(self, number: Sql) -> Sql: ...
    def divide(self, left: Sql, right: Sql) -> Sql: ...
    def integer_arithmetic(self, left: Sql, op: str, right: Sql) -> Sql: ...  # + - * of integers, NULL beyond Int64
    def modulo(self, left: Sql, right: Sql) -> Sql: ...
    def interval(self, amount: Sql, unit: str) -> Sql: ...
    def like(self, value: Sql, pattern: Sql, *, insensitive: bool) -> Sql: ...
    # Why this database cannot run a regular expression, or None: checked before the query runs.
    def regex_problem(self, pattern: str) -> str | None: ...
    def regex(self, value: Sql, pattern: str, *, insensitive: bool) -> Sql: ...
    def regex_replace(self, text: Sql, pattern: str, replacement: str) -> Sql: ...  # replacement: `\\1`, as ClickHouse
    def text_function(self, name: str, text: Sql) -> Sql: ...
    def concat(self, parts: list[Sql]) -> Sql: ...
    def length(self, text: Sql) -> Sql: ...
    def split(self, text: Sql, separator: str) -> Sql: ...  # ClickHouse's splitByChar (NULL reads as '')
    def array_length(self, array: Sql) -> Sql: ...
    def text_to_bool(self, text: Sql) -> Sql: ...
    def date_of(self, moment: Sql, timezone: str) -> Sql: ...
    # abs, absInt64 (NULL beyond Int64), floor, ceil, sqrt, pow (a Float64, never an error), startsWith, endsWith,
    # trimLeft (spaces), trimRight, toUnixTimestamp: as ClickHouse's
    def scalar(self, name: str, args: list[Sql]) -> Sql: ...
    # toYear … toMinute of a date-time in timezone, or of a date (timezone None); toDayOfWeek from Monday as 1
    def date_part(self, name: str, value: Sql, timezone: str | None) -> Sql: ...
    def text_to_date(self, text: Sql) -> Sql: ...  # ClickHouse's toDateOrNull (semantics.DATE_TEXT)
    def date_to_moment(self, day: Sql, timezone: str) -> Sql: ...  # its midnight in timezone
    def date_start_of(self, unit: str, day: Sql) -> Sql: ...  # month, or week (from Sunday): a date
    def date_add(self, day: Sql, op: str, interval: Sql) -> Sql: ...  # by whole days, weeks, months…: a date
    def shift_local(self, moment: Sql, op: str, interval: Sql, timezone: str) -> Sql: ...  # by the wall clock there
    def start_of(self, unit: str, moment: Sql, timezone: str) -> Sql: ...
    def date_diff(self, unit: str, start: Sql, end: Sql, timezone: str) -> Sql: ...
    # ClickHouse's round (mode "round"; "floor" and "ceil" alike) of a float (half to even, on the float as it is)
    # or an integer (half away from zero, NULL beyond Int64) to a precision of -20 to 20
    def round_number(self, number: Sql, precision: int, *, integer: bool, mode: str = "round") -> Sql: ...
    def extreme(self, name: str, values: list[Sql], *, text: bool) -> Sql: ...  # greatest/least, NULLs ignored
    def regex_extract(self, text: Sql, pattern: str) -> Sql: ...  # ClickHouse's extract: '' when nothing matches
    # ClickHouse's formatDateTime of a moment in timezone; pieces: literal texts and specifiers (`%Y`, functions'
    # DATE_FORMAT_SPECIFIERS)
    def format_date_time(self, moment: Sql, pieces: list[str], timezone: str) -> Sql: ...
    def array(self, items: list[Sql]) -> Sql: ...  # an array literal (of one type)
    # The JSON value at path as ClickHouse's JSONExtract(…, 'Array(String)') reads it: a JSON array's items as texts
    # (a string's value, JSON null as '', any other item as its JSON text); [] for a value that is no array
    def json_text_array(self, document: Sql, path: tuple[str, ...]) -> Sql: ...
    # the first position of value in array from 1 (0 if none), or whether there is one; NULL finds NULL
    def array_position(self, array: Sql, value: Sql, *, found: bool) -> Sql: ...
    def quantile(self, number: Sql, level: float) -> Sql: ...  # interpolated, as ClickHouse's; NULL over no rows
    # argMax/argMin over the rows where both are set (a text key ordered by its bytes); NULL over no rows
    def arg_extreme(self, name: str, value: Sql, key: Sql, *, text_key: bool) -> Sql: ...
    def group_array(self, value: Sql) -> Sql: ...  # the non-NULL values ([] over none)
    def any_value(self, value: Sql, type_: str) -> Sql: ...  # one of the non-NULL values
    def aggregate(self, name: str, value: Sql | None, *, distinct: bool) -> Sql: ...  # count(*) is value None
    def count_if(self, condition: Sql) -> Sql: ...
    # `body` of two values, each evaluated once where the database can bind them (else written where body reads it)
    def bind_both(self, left: Sql, right: Sql, body: Callable[[Sql, Sql], Sql]) -> Sql: ...
    def order(self, value: Sql, *, descending: bool, nulls: str | None = None) -> Sql: ...  # nulls: first/last

    # --- property filters ----------------------------------------------------------------------------
    def filter_property(self, key: str, *, person: bool) -> Any: ...
    def filter_column(self, name: str) -> Any: ...  # event_metadata columns and elements_chain, read as text
    def filter_text_value(self, text: Sql) -> Any: ...  # a text that is not JSON (an element's attribute)
    def filter_text(self, value: Any) -> Sql: ...  # as `json_as_text` reads it; NULL when missing or JSON null
    def filter_number(self, value: Any) -> Sql: ...  # a JSON number or numeric text; NULL otherwise
    def filter_moment(self, value: Any) -> Sql: ...  # unix seconds/milliseconds or a date text; NULL otherwise
    def filter_is_set(self, value: Any) -> Sql: ...  # present and not JSON null
    def filter_exact(self, value: Any, texts: list[str], numbers: list[float]) -> Sql: ...
    def filter_matches_any(self, text: Sql, operator: str, patterns: list[str]) -> Sql: ...  # "ilike" or "regex"
    def filter_number_any(self, number: Sql, operator: str, bounds: list[int | float]) -> Sql: ...
    def filter_semver(self, text: Sql, operator: str, lower: Version, upper: Version | None) -> Sql: ...
    def filter_elements(self, key: str, condition: Callable[[Any], Sql]) -> Sql: ...  # any element's `key` matches


class BaseDialect:
    """What PostgreSQL and ClickHouse write alike. A subclass names its text functions (`lower`, `upper`, `trim`),
    its aggregate functions and how it takes a whole difference of two numbers (`date_diff`), and writes the rest of
    `Dialect`."""

    text_functions: Mapping[str, str]
    # The difference of two counts of units (`_units_since_epoch`) as a 64-bit integer, `{}` minus `{}`.
    whole_difference: str

    def column(self, table_alias: str, name: str) -> Sql:
        return Sql(f"{table_alias}.{name}")

    def team_filter(self, table_alias: str, team_id: int) -> Sql:
        return sql(f"{table_alias}.team_id = {{}}", team_id)

    def to_float(self, number: Sql) -> Sql:
        raise NotImplementedError

    def to_number(self, text: Sql) -> Sql:
        raise NotImplementedError

    def regex_problem(self, pattern: str) -> str | None:
        # HogQL's patterns are RE2's (ClickHouse's): no back-references, which are also what makes PostgreSQL's
        # matcher backtrack for minutes on a few thousand characters.
        return pattern_problem(pattern)

    def text_function(self, name: str, text: Sql) -> Sql:
        return sql(f"{self.text_functions[name]}({{}})", text)

    def aggregate(self, name: str, value: Sql | None, *, distinct: bool) -> Sql:
        if value is None:
            return Sql(f"{name}(*)")
        return sql(f"{self.aggregate_function(name)}({'DISTINCT ' if distinct else ''}{{}})", value)

    def aggregate_function(self, name: str) -> str:
        """The function an aggregate of values (count, sum, avg, min, max) is written with."""
        return name

    def date_diff(self, unit: str, start: Sql, end: Sql, timezone: str) -> Sql:
        return sql(self.whole_difference, self._units_since_epoch(unit, end, timezone),
                   self._units_since_epoch(unit, start, timezone))  # fmt: skip

    def _units_since_epoch(self, unit: str, moment: Sql, timezone: str) -> Sql:
        """How many boundaries of `unit` (in `timezone`) lie between the epoch and `moment`."""
        raise NotImplementedError

    def filter_text(self, value: FilterText) -> Sql:
        return value.text
