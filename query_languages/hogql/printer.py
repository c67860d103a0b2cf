"""HogQL's meaning, decided once, printed by a dialect.

The printer resolves fields against the tables a query may read, types every expression with ClickHouse's type
names, and makes the semantic decisions where ClickHouse and SQL databases differ (ClickHouse's meaning, as PostHog
prints HogQL for it, wins): a missing property is NULL; comparisons are null-safe and never NULL (`NULL_ANSWERS`:
a missing property is "not Chrome"), IN treats NULL as a value, and a comparison of two constants is decided as
PostHog decides it; `/` always divides as floats (by zero an infinity); comparisons are 0/1 numbers when selected;
a string compared with a number is read as a number (NULL when it is not one); `count()` is an integer; toInt and
toFloat are accurateCastOrNull. A `Dialect` only says how to write each decided operation in its SQL.

Everything the user wrote that is a value (literals, placeholders, property names) becomes a bound parameter; the
SQL text is made only of fixed pieces. The caller's project is always in the WHERE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from query_languages.dates import parse_filter_datetime
from query_languages.dialects.base import Dialect
from query_languages.hogql import ast
from query_languages.hogql.context import Context
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.functions import (
    AGGREGATES,
    ARRAY_FUNCTIONS,
    BUILT_AGGREGATES,
    COMPARISON_FUNCTIONS,
    FUNCTIONS,
    NULL_AWARE,
    SUPPORTED_FUNCTIONS,
    array_literal,
    build_aggregate,
    check_arity,
    check_like,
    is_date,
)
from query_languages.hogql.schema import TABLES, Table
from query_languages.hogql.semantics import NULL_ANSWERS, date_of_text, float_text, folded_comparison, in_list
from query_languages.hogql.types import (
    BOOL,
    FLOAT64,
    INT64,
    INTEGERS,
    NOTHING,
    NULLABLE_STRING,
    NUMBERS,
    STRING,
    UINT8,
    UINT64,
    UUID,
    Typed,
    base_type,
    datetime_type,
    is_datetime,
    is_string,
)
from query_languages.sql import Sql, join, sql

NO_TABLE = Table("", "", ())  # the scope of a SELECT without FROM
# What references to aliases may write out in one statement (see `Printer._expand_alias`).
MAX_EXPANDED_SQL = 200_000


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
        table_sql: Sql | None = None
        if query.table is None:  # `select 1`: no table, so no field to read and no project to filter on
            table = NO_TABLE
        else:
            found = TABLES.get(query.table.lower())
            if found is None:
                raise HogQLError(f"Unknown table '{query.table}': query events or persons.", query.start, query.end)
            table = found
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
        conditions = [] if table_sql is None else [self.d.team_filter(table.alias, self.context.team_id)]
        if extra is not None:
            conditions.append(extra.condition)
            scope.needs_person = scope.needs_person or extra.needs_person
        if query.where is not None:
            where = self.expr(self._unalias(query.where, scope), scope)
            if where.aggregate:
                raise HogQLError("Aggregates cannot be used in WHERE: use HAVING.", query.where.start, query.where.end)
            conditions.append(self.condition(where))
        from_sql = Sql("") if table_sql is None else sql(" FROM {}", table_sql)
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
                items.append(self.d.order(printed_order, descending=order.descending, nulls=order.nulls))
            order_sql = sql(" ORDER BY {}", join(", ", items))
        # The person join is known only once every expression is printed.
        person_join = self.d.person_join()
        if scope.needs_person and person_join is not None:
            from_sql = sql("{} {}", from_sql, person_join)
        paging = Sql("")
        if limit is not None:
            paging = sql(" LIMIT {} OFFSET {}", limit, offset or 0)
        where_sql = sql(" WHERE {}", join(" AND ", conditions)) if conditions else Sql("")
        statement = sql("{}{}{}{}{}{}{}", join("", parts), from_sql, where_sql, group_sql, having_sql, order_sql,
                        paging)  # fmt: skip
        names = tuple(
            PrintedColumn(column.alias if isinstance(column, ast.Alias) else self._name_of(column), p.type)
            for column, p in zip(columns, printed, strict=True)
        )
        return PrintedSelect(statement, names)

    def _expand_star(self, columns: tuple[ast.Expr | ast.Alias, ...], scope: _Scope) -> list[ast.Expr | ast.Alias]:
        expanded: list[ast.Expr | ast.Alias] = []
        for column in columns:
            if isinstance(column, ast.Star):
                if not scope.table.name:
                    raise HogQLError("'*' needs a table: add FROM events or FROM persons.", column.start, column.end)
                if column.table is not None and column.table not in (scope.table.name, scope.user_alias):
                    raise HogQLError(f"Unknown table '{column.table}' before '.*'.", column.start, column.end)
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
                changes[name] = self._unalias(value, scope)
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
        return method(node, scope)

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
            return Typed(self.d.constant(value, "bool"), BOOL, condition=True, nullable=False)
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise HogQLError("Integer out of the 64-bit range.", node.start, node.end)
            return Typed(self.d.constant(value, "integer"), UINT8 if 0 <= value < 256 else INT64, nullable=False)
        if isinstance(value, float):
            return Typed(self.d.constant(value, "float"), FLOAT64, nullable=False)
        if isinstance(value, str):
            return Typed(self.d.constant(value, "text"), STRING, nullable=False)
        if isinstance(value, tuple):
            return self._tuple(ast.Tuple(tuple(ast.Constant(v) for v in value), start=node.start, end=node.end), scope)
        raise HogQLError("Unsupported constant.", node.start, node.end)

    def _field(self, node: ast.Field, scope: _Scope) -> Typed:
        chain = node.chain
        if len(chain) > 1 and chain[0] in (scope.user_alias, scope.table.name) and chain[0]:
            chain = chain[1:]  # `e.event`, `events.event`: the one table's field
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
        if not scope.table.name:  # no FROM
            return None
        timestamp = datetime_type(self.context.timezone)
        alias = scope.table.alias
        head, rest = chain[0], chain[1:]
        if scope.table.name == "events":
            plain = {"event": STRING, "distinct_id": STRING, "uuid": UUID, "timestamp": timestamp,
                     "created_at": timestamp, "elements_chain": STRING}  # fmt: skip
            if head in plain and not rest:
                return Typed(self.d.column(alias, head), plain[head], nullable=False)
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
        return Typed(self.d.json_text(document, path), NULLABLE_STRING, property=(document, path))

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
        if inner.type == NOTHING:  # NOT of what is always NULL is always NULL, as in ClickHouse
            return inner
        return Typed(sql("(NOT {})", self.condition(inner)), UINT8, True, inner.aggregate)

    def _isnull(self, node: ast.IsNull, scope: _Scope) -> Typed:
        inner = self.expr(node.expr, scope)
        test = " IS NOT NULL" if node.negated else " IS NULL"
        return Typed(sql("({}" + test + ")", self.value(inner)), UINT8, True, inner.aggregate, nullable=False)

    def _negate(self, node: ast.Negate, scope: _Scope) -> Typed:
        inner = self.number(self.expr(node.expr, scope), node.expr)
        if inner.type == NOTHING:
            return Typed(Sql("NULL"), NOTHING, False, inner.aggregate)
        if base_type(inner.type) in INTEGERS:  # -(-2^63) is beyond Int64: NULL, as any integer arithmetic's
            return Typed(self.d.integer_arithmetic(Sql("0"), "-", inner.sql), INT64, False, inner.aggregate)
        return Typed(sql("(-{})", inner.sql), FLOAT64, False, inner.aggregate)

    def number(self, typed: Typed, node: ast.Expr) -> Typed:
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
            dated = is_date(moment.type)
            if node.op not in "+-" or not (is_datetime(moment.type) or dated) or (node.op == "-" and moment is right):
                raise HogQLError("Intervals can only be added to or subtracted from a date or a date-time.",
                                 node.start, node.end)  # fmt: skip
            unit = (node.right if moment is left else node.left).unit  # type: ignore[union-attr]
            if dated and unit not in ("second", "minute", "hour"):  # a date stays a date, as in ClickHouse
                return Typed(self.d.date_add(moment.sql, node.op, interval.sql), moment.type, False, aggregate)
            if dated:
                moment = Typed(self.d.date_to_moment(moment.sql, self.context.timezone),
                               datetime_type(self.context.timezone))  # fmt: skip
            if unit in ("second", "minute", "hour"):
                return Typed(sql("({} " + node.op + " {})", moment.sql, interval.sql), moment.type, False, aggregate)
            # Days and longer move the wall clock in the moment's time zone, as ClickHouse moves a DateTime64 of
            # that zone: 10:00 plus a day is 10:00 across a daylight-saving change.
            zone = moment.type.split("'")[1] if "'" in moment.type else self.context.timezone
            return Typed(self.d.shift_local(moment.sql, node.op, interval.sql, zone), moment.type, False, aggregate)
        left, right = self.number(left, node.left), self.number(right, node.right)
        if NOTHING in (left.type, right.type):  # arithmetic with what is always NULL is always NULL
            return Typed(Sql("NULL"), NOTHING, False, aggregate)
        if node.op == "/":
            return Typed(self.d.divide(left.sql, right.sql), FLOAT64, False, aggregate)
        if node.op == "%":
            type_ = INT64 if base_type(left.type) in INTEGERS and base_type(right.type) in INTEGERS else FLOAT64
            return Typed(self.d.modulo(left.sql, right.sql), type_, False, aggregate)
        if base_type(left.type) in INTEGERS and base_type(right.type) in INTEGERS:
            # Beyond Int64 it is NULL on both stores (ClickHouse would wrap around, PostgreSQL refuse).
            return Typed(self.d.integer_arithmetic(left.sql, node.op, right.sql), INT64, False, aggregate)
        return Typed(sql("({} " + node.op + " {})", left.sql, right.sql), FLOAT64, False, aggregate)

    def _interval(self, node: ast.Interval, scope: _Scope) -> Typed:
        amount = self.number(self.expr(node.amount, scope), node.amount)
        return Typed(self.d.interval(amount.sql, node.unit), "IntervalSecond", False, amount.aggregate)

    def _array(self, node: ast.Array, scope: _Scope) -> Typed:
        raise HogQLError("Arrays are only supported on the right of IN.", node.start, node.end)

    def _array_argument(self, node: ast.Array, scope: _Scope) -> Typed:
        return array_literal(self, node, [self.expr(item, scope) for item in node.items])

    def _tuple(self, node: ast.Tuple, scope: _Scope) -> Typed:
        raise HogQLError("Tuples are only supported on the right of IN.", node.start, node.end)

    # --- comparisons -----------------------------------------------------------------------------------
    def _compare(self, node: ast.Compare, scope: _Scope) -> Typed:
        if node.op in ("in", "not in"):
            return self._in(node, scope)
        folded = folded_comparison(node)
        if folded is not None:
            return Typed(self.d.constant(folded, "bool"), UINT8, True, nullable=False)
        left = self.expr(node.left, scope)
        op = node.op
        if op in ("like", "not like", "ilike", "not ilike"):
            check_like(node.right)
        elif op in ("=~", "!~", "=~*", "!~*"):
            if not isinstance(node.right, ast.Constant) or not isinstance(node.right.value, str):
                raise HogQLError("A regular expression must be a string constant.", node.right.start, node.right.end)
            self.check_regex(node.right)
        right = self.expr(node.right, scope)
        converts = False  # whether the test may be NULL though neither side is (a text read as a number)

        def test(left: Typed, right: Typed) -> Sql:
            nonlocal converts
            if op in ("like", "not like", "ilike", "not ilike"):
                found = self.d.like(self.text(left), self.text(right), insensitive="ilike" in op)
                return sql("(NOT {})", found) if op.startswith("not") else found
            if op in ("=~", "!~", "=~*", "!~*"):
                found = self.d.regex(self.text(left), node.right.value, insensitive=op.endswith("*"))
                return sql("(NOT {})", found) if op.startswith("!") else found
            operator = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[op]
            number_types = {base_type(UINT8 if side.condition else side.type) in NUMBERS for side in (left, right)}
            if number_types == {True, False} and (is_string(left.type) or is_string(right.type)):
                # A string beside a number is read as a number.
                converts = True
                text, number = (left, right) if is_string(left.type) else (right, left)
                return self.d.compare_text_number(self.value(text), operator, self.value(number),
                                                  text_left=text is left)  # fmt: skip
            return sql("({} " + operator + " {})", *self._comparable(left, right, node))

        return Typed(self._null_safe(op, test, left, right, lambda: converts), UINT8, True,
                     left.aggregate or right.aggregate, nullable=False)  # fmt: skip

    def _null_safe(self, op: str, test: Callable[[Typed, Typed], Sql], left: Typed, right: Typed,
                   converts: Callable[[], bool]) -> Sql:  # fmt: skip
        """`test` of the two sides, never NULL: where a side is NULL, what PostHog answers (`NULL_ANSWERS`)."""
        both, one = NULL_ANSWERS[op]
        if NOTHING in (left.type, right.type):  # a side that is always NULL
            other = right if left.type == NOTHING else left
            if other.type == NOTHING or both == one:
                return self.d.constant(both, "bool")
            return sql("({} IS NULL)" if both else "({} IS NOT NULL)", self.value(other))
        printed = test(left, right)
        if not left.nullable and not right.nullable and not converts():
            return printed  # as it is, so that indexes on the columns still serve it
        if not left.nullable or not right.nullable or both == one:
            return sql("coalesce({}, " + ("TRUE" if one else "FALSE") + ")", printed)
        # Both sides may be NULL: each is read twice (bound once where the dialect can).
        if len(left.sql.text) + len(right.sql.text) > MAX_EXPANDED_SQL // 4:
            raise HogQLError("The comparison is too large once its NULL handling is written out: simplify it.")
        fallback = "({} IS NULL AND {} IS NULL)" if both else "({} IS NOT NULL OR {} IS NOT NULL)"

        def body(left_value: Sql, right_value: Sql) -> Sql:
            bound_left = replace(left, sql=left_value, condition=False, type=UINT8 if left.condition else left.type)
            bound_right = replace(right, sql=right_value, condition=False,
                                  type=UINT8 if right.condition else right.type)  # fmt: skip
            return sql("coalesce({}, " + fallback + ")", test(bound_left, bound_right), left_value, right_value)

        return self.d.bind_both(self.value(left), self.value(right), body)

    def _comparable(self, left: Typed, right: Typed, node: ast.Compare) -> tuple[Sql, Sql]:
        """Both sides as one kind: numbers (a string beside a number is read as one), date-times (a string
        constant beside one is parsed in the project's time zone), or text."""
        left_value, right_value = self.value(left), self.value(right)
        lt, rt = (UINT8 if left.condition else left.type), (UINT8 if right.condition else right.type)
        if NOTHING in (lt, rt):
            return left_value, right_value
        if is_date(lt) or is_date(rt):
            day_side, other, other_node = (left, right, node.right) if is_date(lt) else (right, left, node.left)
            if is_date(other.type):
                return left_value, right_value
            if is_datetime(other.type):  # the date as its midnight in the project's time zone
                moment = self.d.date_to_moment(self.value(day_side), self.context.timezone)
                return (moment, right_value) if day_side is left else (left_value, moment)
            if isinstance(other_node, ast.Constant) and isinstance(other_node.value, str):
                day = date_of_text(other_node.value)
                if day is None:
                    raise HogQLError("A date can be compared with a date, a date-time or a date string.",
                                     other_node.start, other_node.end)  # fmt: skip
                parsed = self.d.constant(day, "date")
                return (left_value, parsed) if day_side is left else (parsed, right_value)
        if is_datetime(lt) or is_datetime(rt):
            moment_side, other, other_node = (left, right, node.right) if is_datetime(lt) else (right, left, node.left)
            if is_datetime(other.type):
                return left_value, right_value
            parsed = self.d.constant(self.moment_constant(other_node), "datetime")
            if moment_side is left:
                return left_value, parsed
            return parsed, right_value
        if base_type(lt) in NUMBERS and base_type(rt) in NUMBERS:
            return left_value, right_value
        return self.text(left), self.text(right)

    def moment_constant(self, node: ast.Expr) -> datetime:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            moment = parse_filter_datetime(node.value, tz=self.context.tz, now=self.context.now)
            if moment is not None:
                return moment
        raise HogQLError("A date-time can be compared with another date-time or a date-time string.", node.start,
                         node.end)  # fmt: skip

    def text(self, typed: Typed) -> Sql:
        if typed.type == NOTHING:
            return self.d.null_of("text")
        if is_string(typed.type):
            return typed.sql
        # A Bool reads as 'true'/'false' (as ClickHouse prints it), any other condition as the number it selects.
        type_ = UINT8 if typed.condition and typed.type != BOOL else typed.type
        return self.d.to_text(self.value(typed), type_, self.context.timezone)

    def _in(self, node: ast.Compare, scope: _Scope) -> Typed:
        """IN as PostHog runs it (ClickHouse's `transform_null_in`): NULL is a value like the others, so `NULL in
        (NULL)` holds, `NULL in ('a')` does not, and the test is never NULL."""
        left = self.expr(node.left, scope)
        items = in_list(node)
        has_null = any(i.value is None for i in items)
        values = [i.value for i in items if i.value is not None]
        negated = node.op == "not in"
        if left.type == NOTHING or not values:
            found = has_null if left.type == NOTHING else None
            if found is None:  # only NULLs listed: the subject is in the list when it is NULL
                test = sql("({} IS NULL)", self.value(left)) if has_null else self.d.constant(False, "bool")
            else:
                test = self.d.constant(found, "bool")
            return Typed(sql("(NOT {})", test) if negated else test, UINT8, True, left.aggregate, nullable=False)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and is_string(left.type):
            listed = join(", ", [self.d.constant(v, "numeric") for v in values])
            test = self.d.compare_text_number(left.sql, "IN", sql("({})", listed), text_left=True)
        else:
            number_subject = base_type(left.type) in NUMBERS or left.condition
            if number_subject and all(isinstance(v, int | float) for v in values):  # true and false are 1 and 0
                subject = self.d.number_for_in(self.value(left))
                listed = join(", ", [self.d.constant(int(v) if isinstance(v, bool) else v, "numeric") for v in values])
            elif is_datetime(left.type):
                subject = left.sql
                listed = join(", ", [self.d.constant(self.moment_constant(i), "datetime") for i in items
                                     if i.value is not None])  # fmt: skip
            else:
                subject = self.text(left)
                listed = join(", ", [self.d.constant(_as_text(v), "text") for v in values])
            test = sql("({} IN ({}))", subject, listed)
        if left.nullable or (numeric and is_string(left.type)):
            test = sql("coalesce({}, FALSE)", test)
            if has_null and left.nullable:
                test = sql("({} OR {} IS NULL)", test, self.value(left))
        return Typed(sql("(NOT {})", test) if negated else test, UINT8, True, left.aggregate, nullable=False)

    def check_regex(self, node: ast.Constant) -> None:
        """Checked before the query runs, by the dialect (for its database)."""
        problem = self.d.regex_problem(node.value)
        if problem:
            raise HogQLError(f"Invalid regular expression: {problem}.", node.start, node.end)

    # --- functions -------------------------------------------------------------------------------------
    def _call(self, node: ast.Call, scope: _Scope) -> Typed:
        name = node.name
        if name in AGGREGATES:
            return self._aggregate(node, scope)
        if node.params is not None:
            raise HogQLError(f"Parametric functions such as {name}(…)(…) are not supported.", node.start, node.end)
        if name in COMPARISON_FUNCTIONS:  # null-safe as the operator, as PostHog prints them
            check_arity(node)
            return self._compare(ast.Compare(COMPARISON_FUNCTIONS[name], *node.args, start=node.start,
                                             end=node.end), scope)  # fmt: skip
        handler = FUNCTIONS.get(name) or FUNCTIONS.get(name.lower())
        if handler is None:
            raise HogQLError(f"Unsupported function '{name}'. Supported: {', '.join(SUPPORTED_FUNCTIONS)}.",
                             node.start, node.end)  # fmt: skip
        check_arity(node)
        build = handler[1]
        args = [self._array_argument(arg, scope) if isinstance(arg, ast.Array) and name in ARRAY_FUNCTIONS
                else self.expr(arg, scope) for arg in node.args]  # fmt: skip
        if name not in NULL_AWARE and any(a.type == NOTHING for a in args):
            return Typed(Sql("NULL"), NOTHING, aggregate=any(a.aggregate for a in args))  # as ClickHouse: NULL
        typed = build(self, node, args)
        return replace(typed, aggregate=typed.aggregate or any(a.aggregate for a in args))

    def _aggregate(self, node: ast.Call, scope: _Scope) -> Typed:
        args = [self.expr(arg, scope) if not isinstance(arg, ast.Star) else None for arg in node.args]
        if any(a is not None and a.aggregate for a in args):
            raise HogQLError("Aggregates cannot be nested.", node.start, node.end)
        name = node.name
        if name in BUILT_AGGREGATES:
            return build_aggregate(self, node, args)
        if node.params is not None:
            raise HogQLError(f"Parametric functions such as {name}(…)(…) are not supported.", node.start, node.end)
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
        number = self.number(arg, node.args[0])
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
    return _print_one(expr, dialect, context, table, "in a filter", Printer.condition)


def print_text(expr: ast.Expr, *, dialect: Dialect, context: Context, table: str = "events") -> Extra:
    """One expression (no aggregates) as text on `table`, as `toString` would read it: for a breakdown, whose
    values must read the same whichever database computed them."""
    return _print_one(expr, dialect, context, table, "here", Printer.text)


def _print_one(expr: ast.Expr, dialect: Dialect, context: Context, table: str, where: str,
               finish: Callable[[Printer, Typed], Sql]) -> Extra:  # fmt: skip
    if has_aggregate(expr):
        raise HogQLError(f"Aggregates cannot be used {where}.", expr.start, expr.end)
    printer = Printer(dialect, context)
    scope = _Scope(TABLES[table], None)
    printed = finish(printer, printer.expr(expr, scope))
    return Extra(printed, scope.needs_person and dialect.person_join() is not None)


class _Unwritten:
    """A dialect that writes nothing (every method answers empty SQL) and refuses only the regular expressions
    `regex_problem` refuses: what an expression means, decided without printing it for a database."""

    def __init__(self, regex_problem: Callable[[str], str | None]) -> None:
        self.regex_problem = regex_problem

    def __getattr__(self, name: str) -> Callable[..., Sql]:
        return lambda *args, **kwargs: Sql("")


def check_condition(expr: ast.Expr, *, context: Context, regex_problem: Callable[[str], str | None]) -> None:
    """Refuse (HogQLError) what `print_condition` refuses for a database that cannot run what `regex_problem`
    describes, without writing any SQL: for property filters, checked before any database is chosen."""
    print_condition(expr, dialect=cast(Dialect, _Unwritten(regex_problem)), context=context)


def constant_int(expr: ast.Expr | None, *, what: str) -> int | None:
    """A LIMIT or OFFSET: a non-negative whole number."""
    if expr is None:
        return None
    if isinstance(expr, ast.Constant) and type(expr.value) is int and expr.value >= 0:
        return expr.value
    raise HogQLError(f"{what} must be a whole number of at least 0.", expr.start, expr.end)
