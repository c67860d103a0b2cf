"""HogQL's meaning, decided once, printed by a dialect.

The printer resolves fields against the tables a query may read, types every expression with ClickHouse's type
names, and makes the semantic decisions where ClickHouse and SQL databases differ (ClickHouse's meaning wins):
a missing property is NULL; `/` always divides as floats and a division by zero is NULL; comparisons are 0/1
numbers when selected; a string compared with a number is read as a number (NULL when it is not one); `count()`
is an integer. A `Dialect` only says how to write each decided operation in its SQL.

Everything the user wrote that is a value (literals, placeholders, property names) becomes a bound parameter; the
SQL text is made only of fixed pieces. The caller's project is always in the WHERE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from query_languages.dates import parse_filter_datetime
from query_languages.hogql import ast
from query_languages.hogql.errors import HogQLError
from query_languages.sql import Sql, join, sql

STRING, NULLABLE_STRING, UUID, BOOL, UINT8 = "String", "Nullable(String)", "UUID", "Bool", "UInt8"
UINT64, INT64, FLOAT64, DATE, NOTHING = "UInt64", "Int64", "Float64", "Date", "Nullable(Nothing)"
NUMBERS = frozenset({UINT8, UINT64, INT64, FLOAT64, BOOL})
INTEGERS = frozenset({UINT8, UINT64, INT64, BOOL})


def datetime_type(timezone: str) -> str:
    return f"DateTime64(6, '{timezone}')"


def base_type(type_: str) -> str:
    return type_.removeprefix("Nullable(").removesuffix(")") if type_.startswith("Nullable(") else type_


def is_datetime(type_: str) -> bool:
    return type_.removeprefix("Nullable(").startswith("DateTime")


def is_string(type_: str) -> bool:
    return type_ in (STRING, NULLABLE_STRING)


@dataclass(frozen=True)
class Typed:
    """A printed expression: its SQL, its ClickHouse type, whether the SQL is a boolean (a condition) rather than
    a value, and whether it aggregates."""

    sql: Sql
    type: str
    condition: bool = False
    aggregate: bool = False
    document: Sql | None = None  # for a whole properties column: the JSON it reads (JSONExtractString's source)


class Dialect(Protocol):
    """How one SQL database writes what the printer decided. Every method returns SQL for values already typed."""

    def table(self, name: str) -> Sql: ...  # `events` or `persons`, with its alias (HogQLError if not here)
    def column(self, table_alias: str, name: str) -> Sql: ...
    def person_column(self, name: str) -> Sql: ...  # id, created_at, properties, is_identified
    def person_join(self) -> Sql | None: ...  # None: the event row holds its person
    def team_filter(self, table_alias: str, team_id: int) -> Sql: ...
    # kind: integer, float, text, bool, date, datetime, or numeric (exact, beside any number: IN lists)
    def constant(self, value: Any, kind: str) -> Sql: ...
    def null_of(self, kind: str) -> Sql: ...
    def json_text(self, document: Sql, path: tuple[str, ...]) -> Sql: ...
    def json_whole(self, document: Sql) -> Sql: ...
    def json_string_or_empty(self, document: Sql, key: Sql) -> Sql: ...
    def to_number(self, text: Sql) -> Sql: ...
    # `text op number` with the text read as a number (op may be IN, before a parenthesised list)
    def compare_text_number(self, text: Sql, op: str, number: Sql, *, text_left: bool) -> Sql: ...
    def text_to_integer(self, text: Sql) -> Sql: ...
    def text_to_float(self, text: Sql) -> Sql: ...
    def to_float(self, number: Sql) -> Sql: ...
    def to_integer(self, number: Sql) -> Sql: ...
    def number_as(self, number: Sql, type_: str) -> Sql: ...  # one type for the branches of if/coalesce
    def number_for_in(self, number: Sql) -> Sql: ...  # the number before IN (a list of numbers)
    def to_text(self, value: Sql, type_: str, timezone: str) -> Sql: ...
    def condition_to_number(self, condition: Sql) -> Sql: ...
    def number_to_condition(self, number: Sql) -> Sql: ...
    def divide(self, left: Sql, right: Sql) -> Sql: ...
    def modulo(self, left: Sql, right: Sql) -> Sql: ...
    def interval(self, amount: Sql, unit: str) -> Sql: ...
    def like(self, value: Sql, pattern: Sql, *, insensitive: bool) -> Sql: ...
    def regex_problem(self, pattern: str) -> str | None: ...
    def regex(self, value: Sql, pattern: str, *, insensitive: bool) -> Sql: ...
    def regex_replace(self, text: Sql, pattern: str, replacement: str) -> Sql: ...  # replacement: `\\1`, as ClickHouse
    def text_function(self, name: str, text: Sql) -> Sql: ...
    def concat(self, parts: list[Sql]) -> Sql: ...
    def length(self, text: Sql) -> Sql: ...
    def split(self, text: Sql, separator: Sql) -> Sql: ...
    def text_to_bool(self, text: Sql) -> Sql: ...
    def date_of(self, moment: Sql, timezone: str) -> Sql: ...
    def start_of(self, unit: str, moment: Sql, timezone: str) -> Sql: ...
    def date_diff(self, unit: str, start: Sql, end: Sql, timezone: str) -> Sql: ...
    def aggregate(self, name: str, value: Sql | None, *, distinct: bool) -> Sql: ...  # count(*) is value None
    def count_if(self, condition: Sql) -> Sql: ...
    def order(self, value: Sql, *, descending: bool) -> Sql: ...


@dataclass(frozen=True)
class Context:
    team_id: int
    timezone: str  # the project's, e.g. "UTC"
    tz: tzinfo
    now: datetime
    # Why the database cannot run a regular expression, or None: checked before the query runs.
    regex_problem: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    alias: str  # the alias the SQL uses for it
    star: tuple[str, ...]  # what `*` selects


EVENT_COLUMNS = ("uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain", "created_at")
TABLES = {
    "events": Table("events", "e", EVENT_COLUMNS),
    "persons": Table("persons", "p", ("id", "created_at", "properties", "is_identified")),
}
# What references to aliases may write out in one statement (see `Printer._expand_alias`).
MAX_EXPANDED_SQL = 200_000
AGGREGATES = frozenset({"count", "countIf", "sum", "avg", "min", "max", "uniq"})
START_OF = {"toStartOfHour": "hour", "toStartOfDay": "day", "toStartOfWeek": "week", "toStartOfMonth": "month"}


@dataclass(frozen=True)
class Extra:
    """Conditions on the table written outside HogQL, and whether they read the person."""

    condition: Sql
    needs_person: bool = False


@dataclass(frozen=True)
class PrintedColumn:
    name: str
    type: str


@dataclass(frozen=True)
class PrintedSelect:
    sql: Sql
    columns: tuple[PrintedColumn, ...]


@dataclass
class _Scope:
    table: Table
    user_alias: str | None
    aliases: dict[str, ast.Expr] = field(default_factory=dict)
    needs_person: bool = False
    # Each alias is printed once, however often it is referenced (a chain `a1 = a0 + a0, a2 = a1 + a1, …` would
    # otherwise be printed twice as often at each step).
    printed_aliases: dict[str, Typed] = field(default_factory=dict)
    expanding: list[str] = field(default_factory=list)  # the aliases being printed, innermost last
    expanded_sql: int = 0  # characters (and parameters) written out by alias references so far


class Printer:
    def __init__(
        self, dialect: Dialect, context: Context, *, source_text: Callable[[ast.Expr], str] | None = None
    ) -> None:
        self.d = dialect
        self.context = context
        # How an unaliased column is named: its text in the query.
        self.source_text = source_text or (lambda node: type(node).__name__)

    # --- statements ------------------------------------------------------------------------------------
    def select(self, query: ast.Select, *, limit: int | None = None, offset: int | None = None,
               extra: Extra | None = None) -> PrintedSelect:  # fmt: skip
        """The statement as SQL, with its column names and types. `limit`/`offset` are the runner's, already
        clamped; the statement's own LIMIT/OFFSET are the runner's to read (see `constant_int`). `extra` adds
        conditions made elsewhere (property filters, time bounds) to the WHERE."""
        table = TABLES.get(query.table.lower())
        if table is None:
            raise HogQLError(f"Unknown table '{query.table}': query events or persons.", query.start, query.end)
        try:
            table_sql = self.d.table(table.name)
        except HogQLError as error:
            raise HogQLError(error.message, query.start, query.end) from None
        scope = _Scope(table, query.table_alias)
        columns = self._expand_star(query.columns, scope)
        for column in columns:
            if isinstance(column, ast.Alias):
                scope.aliases[column.alias] = column.expr
        printed = [self.expr(column.expr if isinstance(column, ast.Alias) else column, scope) for column in columns]
        group_by = tuple(self._unalias(expr, scope) for expr in query.group_by)
        aggregated = bool(group_by) or any(p.aggregate for p in printed)
        if query.having is not None and not aggregated:
            raise HogQLError("HAVING needs GROUP BY or an aggregate.", query.having.start, query.having.end)
        plain_columns = [self._unalias(c.expr if isinstance(c, ast.Alias) else c, scope) for c in columns]
        if aggregated:
            for column in [*plain_columns, *(self._unalias(o.expr, scope) for o in query.order_by)]:
                self._check_grouped(column, group_by)
            if query.having is not None:
                self._check_grouped(self._unalias(query.having, scope), group_by)

        parts = [Sql("SELECT DISTINCT " if query.distinct else "SELECT "),
                 join(", ", [self.value(p) for p in printed])]  # fmt: skip
        conditions = [self.d.team_filter(table.alias, self.context.team_id)]
        if extra is not None:
            conditions.append(extra.condition)
            scope.needs_person = scope.needs_person or extra.needs_person
        if query.where is not None:
            where = self.expr(self._unalias(query.where, scope), scope)
            if where.aggregate:
                raise HogQLError("Aggregates cannot be used in WHERE: use HAVING.", query.where.start, query.where.end)
            conditions.append(self.condition(where))
        from_sql = sql(" FROM {}", table_sql)
        if group_by:
            positions = []
            for expr in group_by:
                position = self._position(expr, plain_columns)
                positions.append(Sql(str(position)) if position else self.value(self.expr(expr, scope)))
            group_sql = sql(" GROUP BY {}", join(", ", positions))
        else:
            group_sql = Sql("")
        having_sql = Sql("")
        if query.having is not None:
            having_sql = sql(" HAVING {}", self.condition(self.expr(self._unalias(query.having, scope), scope)))
        order_sql = Sql("")
        if query.order_by:
            items = []
            for order in query.order_by:
                expr = self._unalias(order.expr, scope)
                position = self._position(expr, plain_columns)
                if query.distinct and not position:
                    raise HogQLError("With SELECT DISTINCT, ORDER BY may only use selected columns.", order.start,
                                     order.end)  # fmt: skip
                printed_order = Sql(str(position)) if position else self.value(self.expr(expr, scope))
                items.append(self.d.order(printed_order, descending=order.descending))
            order_sql = sql(" ORDER BY {}", join(", ", items))
        # The person join is known only once every expression is printed.
        person_join = self.d.person_join()
        if scope.needs_person and person_join is not None:
            from_sql = sql("{} {}", from_sql, person_join)
        paging = Sql("")
        if limit is not None:
            paging = sql(" LIMIT {} OFFSET {}", limit, offset or 0)
        statement = sql("{}{} WHERE {}{}{}{}{}", join("", parts), from_sql, join(" AND ", conditions), group_sql,
                        having_sql, order_sql, paging)  # fmt: skip
        names = tuple(
            PrintedColumn(column.alias if isinstance(column, ast.Alias) else self._name_of(column), p.type)
            for column, p in zip(columns, printed, strict=True)
        )
        return PrintedSelect(statement, names)

    def _expand_star(self, columns: tuple[ast.Expr | ast.Alias, ...], scope: _Scope) -> list[ast.Expr | ast.Alias]:
        expanded: list[ast.Expr | ast.Alias] = []
        for column in columns:
            if isinstance(column, ast.Star):
                expanded += [ast.Field((name,), start=column.start, end=column.end) for name in scope.table.star]
            else:
                expanded.append(column)
        return expanded

    def _name_of(self, column: ast.Expr) -> str:
        if isinstance(column, ast.Field):
            return ".".join(column.chain)
        return self.source_text(column)

    def _unalias(self, expr: ast.Expr, scope: _Scope) -> ast.Expr:
        """`expr` with every reference to a column alias replaced by what it names (as ClickHouse reads them)."""
        if isinstance(expr, ast.Field) and len(expr.chain) == 1 and expr.chain[0] in scope.aliases:
            return scope.aliases[expr.chain[0]]
        changes: dict[str, Any] = {}
        for name in expr.__dataclass_fields__:
            value = getattr(expr, name)
            if isinstance(value, ast.Node):
                changes[name] = self._unalias(value, scope)  # type: ignore[arg-type]
            elif isinstance(value, tuple) and any(isinstance(v, ast.Node) for v in value):
                changes[name] = tuple(self._unalias(v, scope) if isinstance(v, ast.Node) else v for v in value)
        return replace(expr, **changes) if changes else expr

    def _position(self, expr: ast.Expr, columns: list[ast.Expr]) -> int | None:
        for index, column in enumerate(columns, start=1):
            if column == expr:
                return index
        return None

    def _check_grouped(self, expr: ast.Expr, group_by: tuple[ast.Expr, ...]) -> None:
        """Outside aggregates, an aggregated query may only use what it groups by (checked here, so the database
        never has to refuse it)."""
        if expr in group_by or isinstance(expr, ast.Constant):
            return
        if isinstance(expr, ast.Call) and expr.name in AGGREGATES:
            return
        if isinstance(expr, ast.Field):
            raise HogQLError(f"'{'.'.join(expr.chain)}' must be in GROUP BY or inside an aggregate.", expr.start,
                             expr.end)  # fmt: skip
        for child in ast.children(expr):
            self._check_grouped(child, group_by)

    # --- expressions -----------------------------------------------------------------------------------
    def expr(self, node: ast.Expr, scope: _Scope) -> Typed:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise HogQLError(f"{type(node).__name__} is not supported here.", node.start, node.end)
        return method(node, scope)  # type: ignore[no-any-return]

    def value(self, typed: Typed) -> Sql:
        """The expression as a value (a condition becomes 0/1, as in ClickHouse; what is always NULL is a plain
        NULL, which fits beside any type)."""
        if typed.type == NOTHING:
            return Sql("NULL")
        return self.d.condition_to_number(typed.sql) if typed.condition else typed.sql

    def condition(self, typed: Typed) -> Sql:
        if typed.condition:
            return typed.sql
        if typed.type == NOTHING:  # always NULL, whatever it was written as
            return self.d.null_of("condition")
        if base_type(typed.type) in NUMBERS:
            return self.d.number_to_condition(typed.sql)
        raise HogQLError(f"A condition must be true or false, not {typed.type}.")

    def _constant(self, node: ast.Constant, scope: _Scope) -> Typed:
        value = node.value
        if value is None:
            return Typed(Sql("NULL"), NOTHING)
        if isinstance(value, bool):
            return Typed(self.d.constant(value, "bool"), BOOL, condition=True)
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise HogQLError("Integer out of the 64-bit range.", node.start, node.end)
            return Typed(self.d.constant(value, "integer"), UINT8 if 0 <= value < 256 else INT64)
        if isinstance(value, float):
            return Typed(self.d.constant(value, "float"), FLOAT64)
        if isinstance(value, str):
            return Typed(self.d.constant(value, "text"), STRING)
        if isinstance(value, tuple):
            return self._tuple(ast.Tuple(tuple(ast.Constant(v) for v in value), start=node.start, end=node.end), scope)
        raise HogQLError("Unsupported constant.", node.start, node.end)

    def _field(self, node: ast.Field, scope: _Scope) -> Typed:
        chain = node.chain
        if scope.user_alias and len(chain) > 1 and chain[0] == scope.user_alias:
            chain = chain[1:]
        if len(chain) == 1 and chain[0] in scope.aliases and chain[0] not in scope.expanding[-1:]:
            return self._expand_alias(chain[0], node, scope)
        try:
            resolved = self._resolve(chain, scope)
        except HogQLError as error:  # what the dialect cannot read, placed at the field
            raise HogQLError(error.message, node.start, node.end) from None
        if resolved is None:
            raise HogQLError(f"Unable to resolve field: {'.'.join(node.chain)}", node.start, node.end)
        return resolved

    def _expand_alias(self, name: str, node: ast.Field, scope: _Scope) -> Typed:
        """What alias `name` stands for. Inside its own expression the name is the column (`event AS event`), as
        in ClickHouse; an alias reached again through others is a cycle (`b AS a, a AS b`), refused."""
        printed = scope.printed_aliases.get(name)
        if printed is None:
            if name in scope.expanding:
                raise HogQLError(f"Cyclic aliases: {' -> '.join([*scope.expanding, name])}.", node.start, node.end)
            scope.expanding.append(name)
            try:
                printed = scope.printed_aliases[name] = self.expr(scope.aliases[name], scope)
            finally:
                scope.expanding.pop()
        # SQL has no references to a column's alias in the same SELECT (PostgreSQL's), so each use writes the
        # alias's SQL out again: what all uses write is bounded, so that nesting cannot make it grow exponentially.
        scope.expanded_sql += len(printed.sql.text) + len(printed.sql.params)
        if scope.expanded_sql > MAX_EXPANDED_SQL:
            raise HogQLError(f"The query is too large once its aliases are written out (more than "
                             f"{MAX_EXPANDED_SQL:,} characters of SQL): use fewer nested aliases.", node.start,
                             node.end)  # fmt: skip
        return printed

    def _resolve(self, chain: tuple[str, ...], scope: _Scope) -> Typed | None:
        timestamp = datetime_type(self.context.timezone)
        alias = scope.table.alias
        head, rest = chain[0], chain[1:]
        if scope.table.name == "events":
            plain = {"event": STRING, "distinct_id": STRING, "uuid": UUID, "timestamp": timestamp,
                     "created_at": timestamp, "elements_chain": STRING}  # fmt: skip
            if head in plain and not rest:
                return Typed(self.d.column(alias, head), plain[head])
            if head == "properties":
                return self._json(self.d.column(alias, "properties"), rest)
            if head == "person_id" and not rest:
                return self._person_field(("id",), timestamp, scope)
            if head == "person" and rest:
                return self._person_field(rest, timestamp, scope)
            return None
        if head == "properties":
            return self._json(self.d.column(alias, "properties"), rest)
        if rest:
            return None
        return self._person_field(chain, timestamp, scope)

    def _person_field(self, chain: tuple[str, ...], timestamp: str, scope: _Scope) -> Typed | None:
        head, rest = chain[0], chain[1:]
        if head not in ("id", "created_at", "is_identified", "properties") or (rest and head != "properties"):
            return None
        # Read from the events table, the person comes through the dialect's join (if it needs one).
        scope.needs_person = scope.needs_person or scope.table.name == "events"
        column = self.d.person_column(head)
        if head == "id":
            return Typed(column, UUID)
        if head == "created_at":
            return Typed(column, timestamp)
        if head == "is_identified":
            return Typed(column, BOOL, condition=True)
        return self._json(column, rest)

    def _json(self, document: Sql, path: tuple[str, ...]) -> Typed:
        if not path:
            return Typed(self.d.json_whole(document), STRING, document=document)
        return Typed(self.d.json_text(document, path), NULLABLE_STRING)

    def _star(self, node: ast.Star, scope: _Scope) -> Typed:
        raise HogQLError("'*' may only be a column of its own, or inside count(*).", node.start, node.end)

    def _alias(self, node: ast.Alias, scope: _Scope) -> Typed:
        return self.expr(node.expr, scope)

    def _and(self, node: ast.And, scope: _Scope) -> Typed:
        parts = [self.expr(e, scope) for e in node.exprs]
        return Typed(sql("({})", join(" AND ", [self.condition(p) for p in parts])), UINT8, True,
                     any(p.aggregate for p in parts))  # fmt: skip

    def _or(self, node: ast.Or, scope: _Scope) -> Typed:
        parts = [self.expr(e, scope) for e in node.exprs]
        return Typed(sql("({})", join(" OR ", [self.condition(p) for p in parts])), UINT8, True,
                     any(p.aggregate for p in parts))  # fmt: skip

    def _not(self, node: ast.Not, scope: _Scope) -> Typed:
        inner = self.expr(node.expr, scope)
        return Typed(sql("(NOT {})", self.condition(inner)), UINT8, True, inner.aggregate)

    def _isnull(self, node: ast.IsNull, scope: _Scope) -> Typed:
        inner = self.expr(node.expr, scope)
        test = " IS NOT NULL" if node.negated else " IS NULL"
        return Typed(sql("({}" + test + ")", self.value(inner)), UINT8, True, inner.aggregate)

    def _negate(self, node: ast.Negate, scope: _Scope) -> Typed:
        inner = self._number(self.expr(node.expr, scope), node.expr)
        type_ = INT64 if base_type(inner.type) in INTEGERS else FLOAT64
        return Typed(sql("(-{})", inner.sql), type_, False, inner.aggregate)

    def _number(self, typed: Typed, node: ast.Expr) -> Typed:
        if typed.condition:
            return Typed(self.d.condition_to_number(typed.sql), UINT8, False, typed.aggregate)
        if typed.type == NOTHING:  # a bare NULL: typed, so the database can pick the operator
            return Typed(self.d.null_of("number"), NOTHING, False, typed.aggregate)
        if base_type(typed.type) in NUMBERS:
            return typed
        raise HogQLError(f"Arithmetic needs numbers, not {typed.type}: wrap it in toFloat() or toInt().", node.start,
                         node.end)  # fmt: skip

    def _arithmetic(self, node: ast.Arithmetic, scope: _Scope) -> Typed:
        left, right = self.expr(node.left, scope), self.expr(node.right, scope)
        aggregate = left.aggregate or right.aggregate
        if isinstance(node.right, ast.Interval) or isinstance(node.left, ast.Interval):
            moment, interval = (left, right) if isinstance(node.right, ast.Interval) else (right, left)
            if node.op not in "+-" or not is_datetime(moment.type) or (node.op == "-" and moment is right):
                raise HogQLError("Intervals can only be added to or subtracted from a date-time.", node.start, node.end)
            return Typed(sql("({} " + node.op + " {})", moment.sql, interval.sql), moment.type, False, aggregate)
        left, right = self._number(left, node.left), self._number(right, node.right)
        if node.op == "/":
            return Typed(self.d.divide(left.sql, right.sql), FLOAT64, False, aggregate)
        if node.op == "%":
            type_ = INT64 if base_type(left.type) in INTEGERS and base_type(right.type) in INTEGERS else FLOAT64
            return Typed(self.d.modulo(left.sql, right.sql), type_, False, aggregate)
        type_ = INT64 if base_type(left.type) in INTEGERS and base_type(right.type) in INTEGERS else FLOAT64
        return Typed(sql("({} " + node.op + " {})", left.sql, right.sql), type_, False, aggregate)

    def _interval(self, node: ast.Interval, scope: _Scope) -> Typed:
        amount = self._number(self.expr(node.amount, scope), node.amount)
        return Typed(self.d.interval(amount.sql, node.unit), "IntervalSecond", False, amount.aggregate)

    def _array(self, node: ast.Array, scope: _Scope) -> Typed:
        raise HogQLError("Arrays are only supported on the right of IN.", node.start, node.end)

    def _tuple(self, node: ast.Tuple, scope: _Scope) -> Typed:
        raise HogQLError("Tuples are only supported on the right of IN.", node.start, node.end)

    # --- comparisons -----------------------------------------------------------------------------------
    def _compare(self, node: ast.Compare, scope: _Scope) -> Typed:
        if node.op in ("in", "not in"):
            return self._in(node, scope)
        left = self.expr(node.left, scope)
        aggregate = left.aggregate
        if node.op in ("like", "not like", "ilike", "not ilike"):
            _check_like(node.right)
            right = self.expr(node.right, scope)
            test = self.d.like(self._text(left), self._text(right), insensitive="ilike" in node.op)
            negated = node.op.startswith("not")
            return Typed(sql("(NOT {})", test) if negated else test, UINT8, True, aggregate or right.aggregate)
        if node.op in ("=~", "!~", "=~*", "!~*"):
            if not isinstance(node.right, ast.Constant) or not isinstance(node.right.value, str):
                raise HogQLError("A regular expression must be a string constant.", node.right.start, node.right.end)
            self._check_regex(node.right)
            test = self.d.regex(self._text(left), node.right.value, insensitive=node.op.endswith("*"))
            return Typed(sql("(NOT {})", test) if node.op.startswith("!") else test, UINT8, True, aggregate)
        right = self.expr(node.right, scope)
        op = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[node.op]
        number_types = {base_type(UINT8 if side.condition else side.type) in NUMBERS for side in (left, right)}
        if number_types == {True, False} and (is_string(left.type) or is_string(right.type)):
            # A string beside a number is read as a number.
            text, number = (left, right) if is_string(left.type) else (right, left)
            test = self.d.compare_text_number(self.value(text), op, self.value(number), text_left=text is left)
        else:
            test = sql("({} " + op + " {})", *self._comparable(left, right, node))
        return Typed(test, UINT8, True, aggregate or right.aggregate)

    def _comparable(self, left: Typed, right: Typed, node: ast.Compare) -> tuple[Sql, Sql]:
        """Both sides as one kind: numbers (a string beside a number is read as one), date-times (a string
        constant beside one is parsed in the project's time zone), or text."""
        left_value, right_value = self.value(left), self.value(right)
        lt, rt = (UINT8 if left.condition else left.type), (UINT8 if right.condition else right.type)
        if NOTHING in (lt, rt):
            return left_value, right_value
        if is_datetime(lt) or is_datetime(rt):
            moment_side, other, other_node = (left, right, node.right) if is_datetime(lt) else (right, left, node.left)
            if is_datetime(other.type):
                return left_value, right_value
            parsed = self.d.constant(self._moment_constant(other_node), "datetime")
            if moment_side is left:
                return left_value, parsed
            return parsed, right_value
        if base_type(lt) in NUMBERS and base_type(rt) in NUMBERS:
            return left_value, right_value
        return self._text(left), self._text(right)

    def _moment_constant(self, node: ast.Expr) -> datetime:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            moment = parse_filter_datetime(node.value, tz=self.context.tz, now=self.context.now)
            if moment is not None:
                return moment
        raise HogQLError("A date-time can be compared with another date-time or a date-time string.", node.start,
                         node.end)  # fmt: skip

    def _text(self, typed: Typed) -> Sql:
        if typed.type == NOTHING:
            return self.d.null_of("text")
        if is_string(typed.type):
            return typed.sql
        return self.d.to_text(self.value(typed), UINT8 if typed.condition else typed.type, self.context.timezone)

    def _in(self, node: ast.Compare, scope: _Scope) -> Typed:
        left = self.expr(node.left, scope)
        items = in_list(node)
        # NULLs in the list are ignored, as ClickHouse ignores them.
        values = [i.value for i in items if i.value is not None]  # type: ignore[union-attr]
        if not values:
            return Typed(Sql("FALSE" if node.op == "in" else "TRUE"), UINT8, True, left.aggregate)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and is_string(left.type):
            listed = join(", ", [self.d.constant(v, "numeric") for v in values])
            test = self.d.compare_text_number(left.sql, "IN", sql("({})", listed), text_left=True)
            return Typed(sql("(NOT {})", test) if node.op == "not in" else test, UINT8, True, left.aggregate)
        if numeric and (base_type(left.type) in NUMBERS or left.condition):
            subject = self.d.number_for_in(self.value(left))
            listed = join(", ", [self.d.constant(v, "numeric") for v in values])
        elif is_datetime(left.type):
            subject = left.sql
            listed = join(", ", [self.d.constant(self._moment_constant(i), "datetime") for i in items
                                 if i.value is not None])  # fmt: skip
        else:
            subject = self._text(left)
            listed = join(", ", [self.d.constant(_as_text(v), "text") for v in values])
        test = sql("({} IN ({}))", subject, listed)
        return Typed(sql("(NOT {})", test) if node.op == "not in" else test, UINT8, True, left.aggregate)

    def _check_regex(self, node: ast.Constant) -> None:
        """Checked before the query runs: by the caller's engine (`regex_problem`), and by the dialect for patterns
        its engine reads differently."""
        for check in (self.context.regex_problem, self.d.regex_problem):
            problem = check(node.value) if check is not None else None
            if problem:
                raise HogQLError(f"Invalid regular expression: {problem}.", node.start, node.end)

    # --- functions -------------------------------------------------------------------------------------
    def _call(self, node: ast.Call, scope: _Scope) -> Typed:
        name = node.name
        if name in AGGREGATES:
            return self._aggregate(node, scope)
        handler = _FUNCTIONS.get(name) or _FUNCTIONS.get(name.lower())
        if handler is None:
            raise HogQLError(f"Unsupported function '{name}'. Supported: {', '.join(SUPPORTED_FUNCTIONS)}.",
                             node.start, node.end)  # fmt: skip
        arity, build = handler
        if arity is not None and len(node.args) not in arity:
            raise HogQLError(f"{name}() takes {' or '.join(map(str, sorted(arity)))} argument(s).", node.start,
                             node.end)  # fmt: skip
        args = [self.expr(arg, scope) for arg in node.args]
        typed = build(self, node, args)
        return replace(typed, aggregate=typed.aggregate or any(a.aggregate for a in args))

    def _aggregate(self, node: ast.Call, scope: _Scope) -> Typed:
        args = [self.expr(arg, scope) if not isinstance(arg, ast.Star) else None for arg in node.args]
        if any(a is not None and a.aggregate for a in args):
            raise HogQLError("Aggregates cannot be nested.", node.start, node.end)
        name = node.name
        if name == "count":
            if len(args) > 1:
                raise HogQLError("count() takes at most one argument.", node.start, node.end)
            if not args or args[0] is None:
                return Typed(self.d.aggregate("count", None, distinct=False), UINT64, aggregate=True)
            return Typed(self.d.aggregate("count", self.value(args[0]), distinct=node.distinct), UINT64,
                         aggregate=True)  # fmt: skip
        if len(args) != 1 or args[0] is None:
            raise HogQLError(f"{name}() takes one argument.", node.start, node.end)
        arg = args[0]
        if name == "uniq":
            return Typed(self.d.aggregate("count", self.value(arg), distinct=True), UINT64, aggregate=True)
        if name == "countIf":
            return Typed(self.d.count_if(self.condition(arg)), UINT64, aggregate=True)
        if name in ("min", "max"):
            type_ = UINT8 if arg.condition else arg.type
            return Typed(self.d.aggregate(name, self.value(arg), distinct=node.distinct), type_, aggregate=True)
        number = self._number(arg, node.args[0])
        if name == "avg":
            average = self.d.aggregate("avg", number.sql, distinct=node.distinct)
            return Typed(self.d.to_float(average), FLOAT64, aggregate=True)
        integer = base_type(number.type) in INTEGERS
        total = self.d.aggregate("sum", number.sql, distinct=node.distinct)
        return Typed(total if integer else self.d.to_float(total), INT64 if integer else FLOAT64, aggregate=True)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def float_text(value: float) -> str:
    """A float as PostgreSQL prints a float8: the shortest exact digits, plain for exponents from -4 to 14 (`100`,
    `0.0001`), else `1e+15` / `1.5e-05`; `-0`, `Infinity`, `NaN`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1, value) < 0 else ""
    if value == 0:
        return sign + "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent) - 1  # the exponent in scientific notation
    digits = digits.rstrip("0")
    if point >= 15 or point < -4:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    if point < 0:
        return f"{sign}0.{'0' * (-point - 1)}{digits}"
    whole, fraction = digits[: point + 1].ljust(point + 1, "0"), digits[point + 1 :]
    return sign + whole + ("." + fraction if fraction else "")


# --- scalar functions: (allowed argument counts or None, builder) ---------------------------------------------
Builder = Callable[[Printer, ast.Call, list[Typed]], Typed]


def _text_function(name: str) -> Builder:
    def build(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(p.d.text_function(name, p._text(args[0])), args[0].type if is_string(args[0].type) else STRING)

    return build


def _length(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.length(p._text(args[0])), UINT64)


def _concat(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    if not args:
        raise HogQLError("concat() takes at least one argument.", node.start, node.end)
    # HogQL's concat reads NULL as an empty string.
    return Typed(p.d.concat([sql("coalesce({}, '')", p._text(a)) for a in args]), STRING)


def _common(p: Printer, args: list[Typed]) -> tuple[list[Sql], str]:
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
    return [p._text(a) for a in args], STRING


def _coalesce(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    values, type_ = _common(p, args)
    return Typed(sql("coalesce({})", join(", ", values)), type_.removeprefix("Nullable(").removesuffix(")")
                 if not args[-1].type.startswith("Nullable") and type_ != NOTHING else type_)  # fmt: skip


def _is_null(negated: bool) -> Builder:
    def build(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
        return Typed(sql("({} IS " + ("NOT " if negated else "") + "NULL)", p.value(args[0])), UINT8, True)

    return build


def _to_string(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p._text(args[0]), args[0].type if is_string(args[0].type) else STRING)


def _to_number(integer: bool) -> Builder:
    def build(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
        arg = args[0]
        nullable = is_string(arg.type)
        if nullable:
            converted = p.d.text_to_integer(arg.sql) if integer else p.d.text_to_float(arg.sql)
        else:
            number = p._number(arg, node.args[0]).sql
            converted = p.d.to_integer(number) if integer else p.d.to_float(number)
        type_ = INT64 if integer else FLOAT64
        return Typed(converted, f"Nullable({type_})" if nullable else type_)

    return build


def _now(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.constant(p.context.now, "datetime"), datetime_type(p.context.timezone))


def _today(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(p.d.constant(p.context.now.astimezone(p.context.tz).date(), "date"), DATE)


def _moment_argument(p: Printer, node: ast.Call, arg: Typed) -> Sql:
    if is_datetime(arg.type):
        return arg.sql
    return p.d.constant(p._moment_constant(node.args[0]), "datetime")


def _to_date(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    if args[0].type == DATE:
        return args[0]
    return Typed(p.d.date_of(_moment_argument(p, node, args[0]), p.context.timezone), DATE)


def _to_datetime(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    return Typed(_moment_argument(p, node, args[0]), datetime_type(p.context.timezone))


def _start_of(unit: str) -> Builder:
    def build(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
        moment = _moment_argument(p, node, args[0])
        return Typed(p.d.start_of(unit, moment, p.context.timezone), datetime_type(p.context.timezone))

    return build


def _if(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    values, type_ = _common(p, args[1:])
    return Typed(sql("(CASE WHEN {} THEN {} ELSE {} END)", p.condition(args[0]), values[0], values[1]), type_)


def _multi_if(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    if len(args) < 3 or len(args) % 2 == 0:
        raise HogQLError("multiIf() takes pairs of condition and value, then a default.", node.start, node.end)
    results = [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]]
    values, type_ = _common(p, results)
    branches = [sql("WHEN {} THEN {}", p.condition(args[i]), values[i // 2]) for i in range(0, len(args) - 1, 2)]
    return Typed(sql("(CASE {} ELSE {} END)", join(" ", branches), values[-1]), type_)


def _check_like(pattern: ast.Expr) -> None:
    """A constant pattern ending in a lone backslash is refused here: every database refuses it when it runs."""
    if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str):
        trailing = len(pattern.value) - len(pattern.value.rstrip("\\"))
        if trailing % 2:
            raise HogQLError("A LIKE pattern cannot end with a lone backslash.", pattern.start, pattern.end)


def _like_function(insensitive: bool) -> Builder:
    def build(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
        _check_like(node.args[1])
        return Typed(p.d.like(p._text(args[0]), p._text(args[1]), insensitive=insensitive), UINT8, True)

    return build


def _match(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    pattern = node.args[1]
    if not isinstance(pattern, ast.Constant) or not isinstance(pattern.value, str):
        raise HogQLError("match() needs a string constant as its pattern.", pattern.start, pattern.end)
    p._check_regex(pattern)
    return Typed(p.d.regex(p._text(args[0]), pattern.value, insensitive=False), UINT8, True)


def _json_extract_string(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    source, document = node.args[0], args[0].document
    if document is None:
        raise HogQLError("JSONExtractString() reads a properties column, e.g. JSONExtractString(properties, 'k').",
                         source.start, source.end)  # fmt: skip
    return Typed(p.d.json_string_or_empty(document, p._text(args[1])), STRING)


def in_list(node: ast.Compare) -> tuple[ast.Constant, ...]:
    """The constants on the right of IN: a tuple or array, a placeholder's list, or one value (`in ('one')`)."""
    right = node.right
    items = right.items if isinstance(right, ast.Tuple | ast.Array) else None
    if items is None and isinstance(right, ast.Constant):
        values = right.value if isinstance(right.value, tuple) else (right.value,)
        items = tuple(ast.Constant(v, start=right.start, end=right.end) for v in values)
    if items is None or not all(isinstance(i, ast.Constant) for i in items):
        raise HogQLError("IN needs a list of constants, such as ('a', 'b').", right.start, right.end)
    return items  # type: ignore[return-value]


def string_argument(node: ast.Call, index: int, what: str) -> str:
    arg = node.args[index]
    if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
        raise HogQLError(f"{node.name}() needs {what} as a string constant.", arg.start, arg.end)
    return arg.value


DATE_DIFF_UNITS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")


def _date_diff(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    """ClickHouse's dateDiff: how many boundaries of the unit lie between the two moments, in the project's zone
    (weeks start on Monday here, as ClickHouse counts them)."""
    unit = string_argument(node, 0, "the unit").lower()
    if unit not in DATE_DIFF_UNITS:
        raise HogQLError(f"dateDiff() units are {', '.join(DATE_DIFF_UNITS)}.", node.args[0].start, node.args[0].end)
    start = _moment_argument(p, replace(node, args=node.args[1:]), args[1])
    end = _moment_argument(p, replace(node, args=node.args[2:]), args[2])
    return Typed(p.d.date_diff(unit, start, end, p.context.timezone), INT64)


def _to_bool(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    arg = args[0]
    if arg.condition:
        return Typed(arg.sql, BOOL, True)
    if base_type(arg.type) in NUMBERS:
        return Typed(p.d.number_to_condition(arg.sql), BOOL, True)
    return Typed(p.d.text_to_bool(p._text(arg)), BOOL, True)


def replacement_items(text: str) -> list[str | int]:
    """A ClickHouse replacement read as literal characters and group numbers: `\\0` is the match, `\\1`… its
    groups, and a backslash before anything else stands for that character."""
    items: list[str | int] = []
    index = 0
    while index < len(text):
        character = text[index]
        if character == "\\" and index + 1 < len(text):
            index += 1
            character = text[index]
            if character in "0123456789":
                items.append(int(character))
                index += 1
                continue
        items.append(character)
        index += 1
    return items


def clickhouse_replacement(text: str) -> tuple[str, str]:
    """A ClickHouse replacement for PostgreSQL and for Python's `re`."""
    postgres, python = [], []
    for item in replacement_items(text):
        if isinstance(item, int):
            postgres.append("\\&" if item == 0 else f"\\{item}")
            python.append(f"\\g<{item}>")
        else:
            postgres.append("\\\\" if item == "\\" else item)
            python.append("\\\\" if item == "\\" else item)
    return "".join(postgres), "".join(python)


def _replace_regexp_all(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    pattern = node.args[1]
    string_argument(node, 1, "its pattern")
    replacement = string_argument(node, 2, "its replacement")
    p._check_regex(pattern)  # type: ignore[arg-type]
    try:
        groups = re.compile(pattern.value).groups  # type: ignore[union-attr]
    except re.error:  # the database's own check has passed it: it counts its groups itself
        groups = 9
    missing = sorted(item for item in replacement_items(replacement) if isinstance(item, int) and item > groups)
    if missing:
        raise HogQLError(f"replaceRegexpAll()'s replacement refers to group {missing[0]}, and the pattern has "
                         f"{groups}.", node.args[2].start, node.args[2].end)  # fmt: skip
    return Typed(p.d.regex_replace(p._text(args[0]), pattern.value, replacement),  # type: ignore[union-attr]
                 args[0].type if is_string(args[0].type) else STRING)  # fmt: skip


def _split_by_char(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
    separator = string_argument(node, 0, "a one-character separator")
    if len(separator) != 1:
        raise HogQLError("splitByChar() needs a one-character separator.", node.args[0].start, node.args[0].end)
    return Typed(p.d.split(p._text(args[1]), sql("{}", separator)), "Array(String)")


def _to_time_zone(p: Printer, node: ast.Call, args: list[Typed]) -> Typed:
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


_FUNCTIONS: dict[str, tuple[frozenset[int] | None, Builder]] = {
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
SUPPORTED_FUNCTIONS = sorted([*_FUNCTIONS, *AGGREGATES])


def print_select(
    query: ast.Select,
    *,
    dialect: Dialect,
    context: Context,
    text: str | Callable[[ast.Expr], str],
    limit: int | None = None,
    offset: int | None = None,
    extra: Extra | None = None,
) -> PrintedSelect:
    """`query` as SQL for `dialect`. Unaliased columns are named by their source: slices of `text`, or what
    `text(node)` says."""
    source_text = text if callable(text) else lambda node: text[node.start : node.end].strip()
    printer = Printer(dialect, context, source_text=source_text)
    return printer.select(query, limit=limit, offset=offset, extra=extra)


def has_aggregate(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Call) and expr.name in AGGREGATES:
        return True
    return any(has_aggregate(child) for child in ast.children(expr))


def print_condition(expr: ast.Expr, *, dialect: Dialect, context: Context, table: str = "events") -> Extra:
    """One expression (no aggregates) as a condition on `table`: for `where` lists and `hogql` property filters."""
    if has_aggregate(expr):
        raise HogQLError("Aggregates cannot be used in a filter.", expr.start, expr.end)
    printer = Printer(dialect, context)
    scope = _Scope(TABLES[table], None)
    condition = printer.condition(printer.expr(expr, scope))
    return Extra(condition, scope.needs_person and dialect.person_join() is not None)


def constant_int(expr: ast.Expr | None, *, what: str) -> int | None:
    """A LIMIT or OFFSET: a non-negative whole number."""
    if expr is None:
        return None
    if isinstance(expr, ast.Constant) and type(expr.value) is int and expr.value >= 0:
        return expr.value
    raise HogQLError(f"{what} must be a whole number of at least 0.", expr.start, expr.end)
