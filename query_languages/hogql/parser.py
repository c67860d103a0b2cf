"""HogQL text to the syntax tree in `ast`: one grammar (lark, LALR), placeholders bound to constants as they are
read, and every problem a HogQLError naming where it is."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from query_languages.hogql import ast
from query_languages.hogql.errors import HogQLError

SYNTAX = "hogql_syntax_error"
MAX_QUERY_LENGTH = 100_000
# Brackets nest at most this deep, and the tree at most MAX_DEPTH: it is walked recursively (printed, interpreted
# for every event), and no real query comes close.
MAX_NESTING = 64
MAX_DEPTH = 100
# Sizes within which parsing, printing and the database's own planning stay well inside the query timeout.
MAX_NODES = 20_000
MAX_ARGUMENTS = 1_000
MAX_LIST_ITEMS = 10_000
INTERVAL_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "quarter", "year"})
PLACEHOLDER_TYPES = (str, int, float, bool, type(None))

_GRAMMAR = (Path(__file__).parent / "grammar.lark").read_text()
_SELECT, _EXPR, _COLUMN, _ORDER = "select_stmt", "expr_only", "column_only", "order_only"
# One parser for the four entry points; its tables (0.17 s to build) are cached on disk by lark, so a process
# starting after the first one loads them in about 15 ms.
_PARSER = Lark(_GRAMMAR, start=[_SELECT, _EXPR, _COLUMN, _ORDER], parser="lalr", propagate_positions=True,
               maybe_placeholders=True, cache=True)  # fmt: skip


def parse_select(text: str, *, values: Mapping[str, Any] | None = None) -> ast.Select:
    return _parse(_SELECT, text, values)


def parse_expr(text: str, *, values: Mapping[str, Any] | None = None) -> ast.Expr:
    return _parse(_EXPR, text, values)


def parse_column(text: str) -> ast.Expr | ast.Alias:
    """One selected column: an expression, optionally `AS name`."""
    return _parse(_COLUMN, text, None)


def parse_order(text: str) -> ast.OrderBy:
    """One ORDER BY item: `count() DESC`, `timestamp`."""
    return _parse(_ORDER, text, None)


def _parse(start: str, text: str, values: Mapping[str, Any] | None) -> Any:
    if not values and isinstance(text, str):
        return _parse_cached(start, text)
    return _parse_uncached(start, text, values)


# Trees are immutable, so a text parsed once (a filter compiled for every batch, a saved query) is parsed once.
@lru_cache(maxsize=1024)
def _parse_cached(start: str, text: str) -> Any:
    return _parse_uncached(start, text, None)


def _parse_uncached(start: str, text: str, values: Mapping[str, Any] | None) -> Any:
    if not isinstance(text, str) or not text.strip():
        raise HogQLError("The query is empty.")
    if len(text) > MAX_QUERY_LENGTH:
        raise HogQLError(f"The query is longer than {MAX_QUERY_LENGTH:,} characters.")
    _check_nesting(text)
    try:
        tree = _PARSER.parse(text, start=start)
    except UnexpectedEOF:
        raise HogQLError("Syntax error: the query ends too early.", len(text), len(text), code=SYNTAX) from None
    except UnexpectedCharacters as error:
        position = error.pos_in_stream
        message = f"Syntax error at line {error.line}, column {error.column}: unexpected character {text[position]!r}."
        raise HogQLError(message, position, position + 1, code=SYNTAX) from None
    except UnexpectedInput as error:
        token = getattr(error, "token", None)
        shown = "end of the query" if token is None or token.type == "$END" else repr(str(token))
        position = getattr(error, "pos_in_stream", None) or 0
        raise HogQLError(
            f"Syntax error at line {error.line}, column {error.column}: unexpected {shown}.",
            position,
            position + 1,
            code=SYNTAX,
        ) from None
    except LarkError as error:  # anything else the parser refuses
        raise HogQLError(f"Syntax error: {error}", code=SYNTAX) from None
    subquery = next(tree.find_data("subquery"), None)
    if subquery is not None:
        raise HogQLError("Subqueries are not supported yet: query one table, events or persons.",
                         subquery.meta.start_pos, subquery.meta.end_pos)  # fmt: skip
    try:
        parsed = _Builder(text, values or {}).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, HogQLError):
            raise error.orig_exc from None
        if isinstance(error.orig_exc, RecursionError):
            raise too_deep() from None
        raise
    except RecursionError:
        raise too_deep() from None
    _check_size(parsed)
    return parsed


def too_deep() -> HogQLError:
    return HogQLError(f"The query nests more than {MAX_DEPTH} operations deep.")


def _check_size(root: Any) -> None:
    """The tree's depth, size, argument counts and list lengths within their limits, checked without recursion
    (everything that walks the tree later recurses, and what is printed must stay within what a database takes:
    PostgreSQL nests a long concat() as deeply as it has arguments)."""
    nodes, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise too_deep()
        nodes += 1
        if nodes > MAX_NODES:
            raise HogQLError(f"The query has more than {MAX_NODES:,} expressions.")
        if isinstance(node, ast.Call) and len(node.args) > MAX_ARGUMENTS:
            raise HogQLError(f"{node.name}() takes at most {MAX_ARGUMENTS:,} arguments here.", node.start, node.end)
        items = node.items if isinstance(node, ast.Tuple | ast.Array) else None
        if isinstance(node, ast.Constant) and isinstance(node.value, tuple):
            items = node.value
        if items is not None and len(items) > MAX_LIST_ITEMS:
            raise HogQLError(f"A list may hold at most {MAX_LIST_ITEMS:,} items.", node.start, node.end)
        if isinstance(node, ast.Node):
            stack += [(child, depth + 1) for child in ast.children(node)]


def _check_nesting(text: str) -> None:
    depth = 0
    for position, character in enumerate(text):
        if character in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise HogQLError(f"Brackets nest more than {MAX_NESTING} levels deep.", position, position + 1)
        elif character in ")]}":
            depth -= 1


def _unquote_string(token: str) -> str:
    body = token[1:-1].replace("''", "'")
    escapes = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}
    out, index = [], 0
    while index < len(body):
        character = body[index]
        if character == "\\" and index + 1 < len(body):
            out.append(escapes.get(body[index + 1], body[index + 1]))
            index += 2
        else:
            out.append(character)
            index += 1
    return "".join(out)


def _name(token: Token) -> str:
    text = str(token)
    return text[1:-1] if text[:1] in '`"' else text


@v_args(meta=True)
class _Builder(Transformer):
    """The parse tree to `ast` nodes."""

    def __init__(self, text: str, values: Mapping[str, Any]) -> None:
        super().__init__()
        self.text = text
        self.values = values

    def _at(self, meta: Any) -> dict[str, int]:
        return {"start": getattr(meta, "start_pos", 0), "end": getattr(meta, "end_pos", 0)}

    # --- statements ------------------------------------------------------------------------------------
    def select_stmt(self, meta: Any, children: list[Any]) -> ast.Select:
        distinct, columns, source, where, group_by, having, order_by, limit = children
        if source is None:
            raise HogQLError("A SELECT needs FROM events or FROM persons.", **self._at(meta))
        table, alias = source
        limit_value, offset_value = limit if limit is not None else (None, None)
        return ast.Select(columns=tuple(columns), table=table, table_alias=alias, distinct=distinct is not None,
                          where=where, group_by=tuple(group_by or ()), having=having, order_by=tuple(order_by or ()),
                          limit=limit_value, offset=offset_value, **self._at(meta))  # fmt: skip

    def columns(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def column(self, meta: Any, children: list[Any]) -> Any:
        expr, alias = children
        return expr if alias is None else ast.Alias(expr, alias, **self._at(meta))

    def alias_name(self, meta: Any, children: list[Token]) -> str:
        token = children[0]
        return _unquote_string(token) if token.type == "STRING" else _name(token)

    def from_clause(self, meta: Any, children: list[Any]) -> tuple[str, str | None]:
        table, *joins = children
        if joins:
            raise HogQLError("Joins are not supported yet: query one table, events or persons.", **joins[0])
        return table

    def table(self, meta: Any, children: list[Any]) -> tuple[str, str | None]:
        name, alias = children
        return str(name), None if alias is None else str(alias)

    def subquery(self, meta: Any, children: list[Any]) -> Any:
        raise HogQLError("Subqueries are not supported yet: query one table, events or persons.", **self._at(meta))

    def join_ref(self, meta: Any, children: list[Any]) -> dict[str, int]:
        return self._at(meta)

    def where_clause(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def having_clause(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def group_clause(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def order_clause(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def order_item(self, meta: Any, children: list[Any]) -> ast.OrderBy:
        expr, direction = children
        return ast.OrderBy(expr, direction is not None and str(direction).upper() == "DESC", **self._at(meta))

    def limit_clause(self, meta: Any, children: list[Any]) -> tuple[Any, Any]:
        return children[0], children[1]

    def expr_only(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def order_only(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def column_only(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    # --- expressions -----------------------------------------------------------------------------------
    def or_(self, meta: Any, children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else ast.Or(tuple(children), **self._at(meta))

    def and_(self, meta: Any, children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else ast.And(tuple(children), **self._at(meta))

    def not_(self, meta: Any, children: list[Any]) -> ast.Not:
        return ast.Not(children[-1], **self._at(meta))

    def compare(self, meta: Any, children: list[Any]) -> ast.Compare:
        left, op, right = children
        op = {"==": "=", "<>": "!=", "~": "=~", "~*": "=~*"}.get(str(op), str(op))
        return ast.Compare(op, left, right, **self._at(meta))

    def like(self, meta: Any, children: list[Any]) -> ast.Compare:
        left, negated, kind, right = children
        op = ("not " if negated is not None else "") + str(kind).lower()
        return ast.Compare(op, left, right, **self._at(meta))

    def in_(self, meta: Any, children: list[Any]) -> ast.Compare:
        left, negated, right = children
        return ast.Compare("not in" if negated is not None else "in", left, right, **self._at(meta))

    def is_null(self, meta: Any, children: list[Any]) -> ast.IsNull:
        expr, negated = children
        return ast.IsNull(expr, negated is not None, **self._at(meta))

    def between(self, meta: Any, children: list[Any]) -> ast.Expr:
        expr, negated, low, high = children
        at = self._at(meta)
        within = ast.And((ast.Compare(">=", expr, low, **at), ast.Compare("<=", expr, high, **at)), **at)
        return ast.Not(within, **self._at(meta)) if negated is not None else within

    def arithmetic(self, meta: Any, children: list[Any]) -> Any:
        node = children[0]
        for index in range(1, len(children), 2):
            node = ast.Arithmetic(str(children[index]), node, children[index + 1], **self._at(meta))
        return node

    def negate(self, meta: Any, children: list[Any]) -> Any:
        inner = children[0]
        number = isinstance(inner, ast.Constant) and type(inner.value) in (int, float)
        if number:
            return ast.Constant(-inner.value, **self._at(meta))
        return ast.Negate(inner, **self._at(meta))

    def name(self, meta: Any, children: list[Token]) -> ast.Field:
        return ast.Field((_name(children[0]),), **self._at(meta))

    def dot(self, meta: Any, children: list[Any]) -> ast.Field:
        base, token = children
        if not isinstance(base, ast.Field):
            raise HogQLError("Only fields have parts to read with '.'.", **self._at(meta))
        return ast.Field((*base.chain, _name(token)), **self._at(meta))

    def index(self, meta: Any, children: list[Any]) -> ast.Field:
        base, key = children
        if not isinstance(base, ast.Field) or not isinstance(key, ast.Constant) or not isinstance(key.value, str):
            raise HogQLError("Only fields can be read with ['key'], and the key must be a string.", **self._at(meta))
        return ast.Field((*base.chain, key.value), **self._at(meta))

    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        name, distinct, args = children
        return ast.Call(str(name), tuple(args or ()), distinct is not None, **self._at(meta))

    def args(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def tuple(self, meta: Any, children: list[Any]) -> ast.Tuple:
        first, rest = children
        return ast.Tuple((first, *(rest or ())), **self._at(meta))

    def array(self, meta: Any, children: list[Any]) -> ast.Array:
        return ast.Array(tuple(children[0] or ()), **self._at(meta))

    def placeholder(self, meta: Any, children: list[Token]) -> ast.Constant:
        name = str(children[0])
        if name not in self.values:
            available = ", ".join(sorted(self.values)) or "none were given"
            raise HogQLError(f"Unresolved placeholder: {{{name}}} (values available: {available}).", **self._at(meta))
        value = self.values[name]
        if isinstance(value, list | tuple) and all(isinstance(item, PLACEHOLDER_TYPES) for item in value):
            return ast.Constant(tuple(value), **self._at(meta))
        if not isinstance(value, PLACEHOLDER_TYPES):
            raise HogQLError(f"Placeholder {{{name}}} must be a string, a number, a boolean, null or a list of them.",
                             **self._at(meta))  # fmt: skip
        return ast.Constant(value, **self._at(meta))

    def interval(self, meta: Any, children: list[Any]) -> ast.Interval:
        amount, unit = children
        normalised = str(unit).lower().removesuffix("s")
        if normalised not in INTERVAL_UNITS:
            raise HogQLError(f"Unknown interval unit '{unit}': use one of {', '.join(sorted(INTERVAL_UNITS))}.",
                             **self._at(meta))  # fmt: skip
        return ast.Interval(amount, normalised, **self._at(meta))

    def star(self, meta: Any, children: list[Any]) -> ast.Star:
        return ast.Star(**self._at(meta))

    def string(self, meta: Any, children: list[Token]) -> ast.Constant:
        return ast.Constant(_unquote_string(str(children[0])), **self._at(meta))

    def number(self, meta: Any, children: list[Token]) -> ast.Constant:
        text = str(children[0])
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return ast.Constant(value, **self._at(meta))

    def true(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(True, **self._at(meta))

    def false(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(False, **self._at(meta))

    def null(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(None, **self._at(meta))
