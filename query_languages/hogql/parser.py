"""HogQL text to the syntax tree in `ast`: one grammar (lark, LALR), placeholders bound to constants as they are
read, and every problem a HogQLError naming where it is."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree
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
_SELECT, _EXPR, _COLUMN, _ORDER = "statement", "expr_only", "column_only", "order_only"
# One parser for the four entry points; its tables (0.17 s to build) are cached on disk by lark, so a process
# starting after the first one loads them in about 15 ms.
_PARSER = Lark(_GRAMMAR, start=[_SELECT, _EXPR, _COLUMN, _ORDER], parser="lalr", propagate_positions=True,
               maybe_placeholders=True, cache=True)  # fmt: skip
# Names PostHog refuses as aliases (its own reserved words); `inf`, `nan` and `null` are constants, not names.
RESERVED_ALIASES = frozenset({"team_id", "true", "false", "null", "inf", "nan"})
# Type names of CAST / `::` and the conversion each is (as PostHog reads them: a cast is the `to…` function).
CASTS = {"string": "toString", "int": "toInt", "integer": "toInt", "int64": "toInt", "int32": "toInt",
         "float": "toFloat", "float64": "toFloat", "double": "toFloat", "date": "toDate", "datetime": "toDateTime",
         "datetime64": "toDateTime", "bool": "toBool", "boolean": "toBool"}  # fmt: skip


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
        _diagnose(text, position)
        message = f"Syntax error at line {error.line}, column {error.column}: unexpected character {text[position]!r}."
        raise HogQLError(message, position, position + 1, code=SYNTAX) from None
    except UnexpectedInput as error:
        _diagnose(text, getattr(error, "pos_in_stream", None) or 0)
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


# `x, y -> …`: a lambda's arguments without brackets (with them, the grammar reads it and refuses it by name).
_LAMBDA_ARGUMENTS = re.compile(r"\s*[A-Za-z_$][\w$]*(\s*,\s*[A-Za-z_$][\w$]*)+\s*,?\s*->")


def _diagnose(text: str, position: int) -> None:
    """Where the text does not parse because of syntax PostHog has and we do not read at all, refuse it by name."""
    before, after = text[:position], text[position:]
    if (re.search(r"\bf$", before) and after.startswith("'")) or re.match(r"f'", after):
        raise _unsupported("Template strings (f'…') are", _Place(position))
    if re.match(r"<\s*/?\s*[A-Za-z]", after) and re.search(r"(\bfrom|\(|,|\bselect)\s*$", before, re.I):
        raise _unsupported("HogQLX tags (<Tag … />) are", _Place(position))
    if _LAMBDA_ARGUMENTS.match(text) or re.search(r"->\s*\{[^}]*$", before):
        raise _unsupported("Lambdas (x -> …) are", _Place(position))
    if re.search(r"\bis\s+(not\s+)?null\s*$", before, re.I) and re.match(r"[-+*/%|]", after):
        # PostHog reads `a IS NULL * b` as `(a IS NULL) * b`; brackets say so here.
        raise _unsupported("An operator after IS [NOT] NULL (write `(a IS NULL) * b`) is", _Place(position))
    if re.search(r"\bselect\s+distinct\s*\+\s*$", before, re.I):
        # PostHog reads this `distinct` as a column's name.
        raise _unsupported("SELECT DISTINCT followed by a unary + is", _Place(position))
    if re.search(r"\bformat\s*$", before, re.I) and re.match(r"[A-Za-z_]", after):
        raise _unsupported("FORMAT (answers are JSON) is", _Place(position))


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


# PostHog's escapes: these stand for a character, `\0` for none (PostHog's parser drops it); the other escapes the
# grammar lets through (`\xHH`, capital letters) are kept as written.
_ESCAPES = {"0": "", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
            "'": "'", '"': '"', "`": "`"}  # fmt: skip


def _unquote(token: str) -> str:
    """A string or quoted name without its quotes: a doubled quote is one, and a backslash escapes."""
    quote = token[0]
    body = token[1:-1]
    out, index = [], 0
    while index < len(body):
        character = body[index]
        if character == "\\" and index + 1 < len(body):
            following = body[index + 1]
            out.append(_ESCAPES.get(following, character + following))
            index += 2
        elif character == quote and body[index + 1 : index + 2] == quote:
            out.append(quote)
            index += 2
        else:
            out.append(character)
            index += 1
    return "".join(out)


def _name(token: Token) -> str:
    text = str(token)
    return _unquote(text) if text[:1] in '`"' else text


def _unsupported(what: str, meta: Any) -> HogQLError:
    """A refusal of something PostHog reads and we do not run (yet): named, and placed."""
    return HogQLError(f"{what} not supported yet.", getattr(meta, "start_pos", None), getattr(meta, "end_pos", None))


@dataclass(frozen=True)
class _Arg:
    """A call's argument as written, before the call decides what it means (`x AS String` in a cast,
    `LEADING 'x' FROM y` in trim)."""

    expr: Any
    alias: str | None = None
    trim_side: str | None = None
    trim_from: Any = None


class _Builder(Transformer):
    """The parse tree to `ast` nodes: a method per rule, called with the rule's meta (its place) and children."""

    def __init__(self, text: str, values: Mapping[str, Any]) -> None:
        super().__init__(visit_tokens=False)  # no method takes a token alone
        self.text = text
        self.values = values

    def _call_userfunc(self, tree: Tree, new_children: list[Any] | None = None) -> Any:
        # As `v_args(meta=True)` calls them, without the wrapper lark builds around the method on every call (a tenth
        # of parsing); errors reach the caller as lark's VisitError, as from any transformer. (lark is pinned.)
        children = tree.children if new_children is None else new_children
        method = getattr(self, tree.data, None)
        if method is None:
            return self.__default__(tree.data, children, tree.meta)
        try:
            return method(tree.meta, children)
        except Exception as error:
            raise VisitError(tree.data, tree, error) from error

    def _at(self, meta: Any) -> dict[str, int]:
        return {"start": getattr(meta, "start_pos", 0), "end": getattr(meta, "end_pos", 0)}

    def _alias(self, token: Token, meta: Any) -> str:
        name = _unquote(str(token)) if token.type == "STRING" else _name(token)
        if name.lower() in RESERVED_ALIASES:
            raise HogQLError(f'"{name}" cannot be an alias: it is a reserved word.', token.start_pos, token.end_pos,
                             code=SYNTAX)  # fmt: skip
        return name

    # --- statements ------------------------------------------------------------------------------------
    def statement(self, meta: Any, children: list[Any]) -> ast.Select:
        with_clause, select = children
        if with_clause is not None:
            raise _unsupported("WITH (common table expressions) is", meta)
        return select

    def with_clause(self, meta: Any, children: list[Any]) -> Any:
        return True

    def cte(self, meta: Any, children: list[Any]) -> Any:
        return None

    def select_set(self, meta: Any, children: list[Any]) -> ast.Select:
        if len(children) > 1:
            raise _unsupported(f"{str(children[1]).split()[0].upper()} (several SELECTs in one query) is", meta)
        return children[0]

    def select_stmt(self, meta: Any, children: list[Any]) -> ast.Select:
        # PREWHERE, QUALIFY, WINDOW, LIMIT … BY and SETTINGS refuse themselves: what is left of them is None.
        distinct, top, columns, source, _, where, group_by, having, _, _, order_by, _, limit, _ = children
        if top is not None:
            raise _unsupported("TOP is", _Meta(top))
        table, alias = source if source is not None else (None, None)
        limit_value, offset_value = limit if limit is not None else (None, None)
        return ast.Select(columns=tuple(columns), table=table, table_alias=alias, distinct=distinct is not None,
                          where=where, group_by=tuple(group_by or ()), having=having, order_by=tuple(order_by or ()),
                          limit=limit_value, offset=offset_value, **self._at(meta))  # fmt: skip

    def distinct(self, meta: Any, children: list[Any]) -> bool:
        if len(children) > 1:
            raise _unsupported("DISTINCT ON is", meta)
        return True

    def columns(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def column(self, meta: Any, children: list[Any]) -> Any:
        expr, alias = children
        written = self.text[expr.start : expr.end]
        if alias is not None and written.lower() == "from":  # `select from events`: as PostHog, not a column
            raise HogQLError('Syntax error: "from" cannot be a column before an alias.', expr.start, expr.end,
                             code=SYNTAX)  # fmt: skip
        return expr if alias is None else ast.Alias(expr, alias, **self._at(meta))

    def column_alias(self, meta: Any, children: list[Token]) -> str:
        return self._alias(children[0], meta)

    def from_clause(self, meta: Any, children: list[Any]) -> tuple[str, str | None]:
        table, *joins = children
        if joins:
            raise _unsupported("Joins are", joins[0] if isinstance(joins[0], _Meta) else meta)
        return table

    def table(self, meta: Any, children: list[Any]) -> tuple[str, str | None]:
        name, alias, final, _ = children  # a SAMPLE refuses itself
        if final is not None:
            raise _unsupported("FINAL is", _Meta(final))
        return name, alias

    def table_alias(self, meta: Any, children: list[Token]) -> str:
        return self._alias(children[0], meta)

    def table_name(self, meta: Any, children: list[Token]) -> str:
        return ".".join(_name(token) for token in children)

    def sample(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("SAMPLE is", meta)

    def subquery(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Subqueries are", meta)

    def subquery_expr(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Subqueries are", meta)

    def table_placeholder(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("A placeholder as a table is", meta)

    def join_ref(self, meta: Any, children: list[Any]) -> _Meta:
        return _Meta(meta)

    def array_join(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("ARRAY JOIN is", meta)

    def prewhere_clause(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("PREWHERE is", meta)

    def where_clause(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def having_clause(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def qualify_clause(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("QUALIFY is", meta)

    def window_clause(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Window functions (WINDOW) are", meta)

    def group_clause(self, meta: Any, children: list[Any]) -> list[Any]:
        args, totals = children
        if totals is not None:
            raise _unsupported(f"GROUP BY … {' '.join(str(totals).split()).upper()} is", meta)
        return args

    def order_clause(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def order_item(self, meta: Any, children: list[Any]) -> ast.OrderBy:
        expr, direction, nulls, collate = children
        if collate is not None:
            raise _unsupported("COLLATE is", meta)
        descending = direction is not None and str(direction).lower().startswith("desc")
        placed = None if nulls is None else str(nulls).split()[-1].lower()
        return ast.OrderBy(expr, descending, placed, **self._at(meta))

    def collate(self, meta: Any, children: list[Any]) -> bool:
        return True

    def limit_by(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("LIMIT … BY is", meta)

    def limit(self, meta: Any, children: list[Any]) -> tuple[Any, Any]:
        count, second, ties, offset = children
        if ties is not None:
            raise _unsupported("LIMIT … WITH TIES is", meta)
        # `LIMIT n, m` is read as PostHog reads it: n rows, from row m.
        return count, offset if offset is not None else second

    def offset_only(self, meta: Any, children: list[Any]) -> tuple[Any, Any]:
        return None, children[0]

    def settings_clause(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("SETTINGS is", meta)

    def expr_only(self, meta: Any, children: list[Any]) -> Any:
        expr, alias = children
        if alias is not None:
            raise _unsupported("An alias outside a SELECT's columns is", meta)
        return expr

    def order_only(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def column_only(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    # --- expressions -----------------------------------------------------------------------------------
    def lambda_(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Lambdas (x -> …) are", meta)

    def ternary(self, meta: Any, children: list[Any]) -> ast.Call:
        return ast.Call("if", tuple(children), **self._at(meta))

    def nullish(self, meta: Any, children: list[Any]) -> Any:
        node = children[0]
        for right in children[1:]:
            node = ast.Call("ifNull", (node, right), start=node.start, end=right.end)
        return node

    def or_(self, meta: Any, children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else ast.Or(tuple(children), **self._at(meta))

    def and_(self, meta: Any, children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else ast.And(tuple(children), **self._at(meta))

    def not_(self, meta: Any, children: list[Any]) -> ast.Not:
        return ast.Not(children[-1], **self._at(meta))

    def not_call(self, meta: Any, children: list[Any]) -> Any:
        _, args = children
        if args is not None and len(args) == 1 and not isinstance(args[0], _Arg):
            return ast.Not(args[0], **self._at(meta))
        return self.call(meta, [ast.Field(("not",), **self._at(meta)), None, args, None, None])

    def compare(self, meta: Any, children: list[Any]) -> ast.Compare:
        left, op, right = children
        if str(op) == "<=>":
            raise _unsupported("<=> (IS NOT DISTINCT FROM) is", meta)
        op = {"==": "=", "<>": "!=", "~": "=~", "~*": "=~*"}.get(str(op), str(op))
        return ast.Compare(op, left, right, **self._at(meta))

    def distinct_from(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("IS [NOT] DISTINCT FROM is", meta)

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
        expr, keyword, low, high = children
        at = self._at(meta)
        if keyword.type == "NOT_BETWEEN":
            # ClickHouse's meaning, `x < low OR x > high`: with a NULL side it is not true (`NOT (x BETWEEN …)`
            # would be, our comparisons being false rather than NULL with a NULL side).
            return ast.Or((ast.Compare("<", expr, low, **at), ast.Compare(">", expr, high, **at)), **at)
        return ast.And((ast.Compare(">=", expr, low, **at), ast.Compare("<=", expr, high, **at)), **at)

    def arithmetic(self, meta: Any, children: list[Any]) -> Any:
        node = children[0]
        for index in range(1, len(children), 2):
            op, right = str(children[index]), children[index + 1]
            at = {"start": node.start, "end": right.end}
            # `||` is PostHog's concatenation.
            node = ast.Call("concat", (node, right), **at) if op == "||" else ast.Arithmetic(op, node, right, **at)
        return node

    def negate(self, meta: Any, children: list[Any]) -> Any:
        inner = children[0]
        number = isinstance(inner, ast.Constant) and type(inner.value) in (int, float)
        if number:
            return ast.Constant(-inner.value, **self._at(meta))
        return ast.Negate(inner, **self._at(meta))

    def plus(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def name(self, meta: Any, children: list[Token]) -> ast.Field:
        return ast.Field((_name(children[0]),), **self._at(meta))

    def dot(self, meta: Any, children: list[Any]) -> ast.Field:
        base, token = children
        if not isinstance(base, ast.Field):
            raise _unsupported("Reading a part ('.') of anything but a field is", meta)
        if token.type == "NAME" and str(token).lower() in ("null", "inf", "nan"):
            raise HogQLError(f"Syntax error: '{token}' cannot follow a '.'.", token.start_pos, token.end_pos,
                             code=SYNTAX)  # fmt: skip
        return ast.Field((*base.chain, _name(token)), **self._at(meta))

    def tuple_index(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Tuple access (.1) is", meta)

    def qualified_star(self, meta: Any, children: list[Any]) -> ast.Star:
        base = children[0]
        if not isinstance(base, ast.Field) or len(base.chain) != 1:
            raise _unsupported("'*' after anything but a table name is", meta)
        return ast.Star(base.chain[0], **self._at(meta))

    def index(self, meta: Any, children: list[Any]) -> ast.Field:
        base, key = children
        if not isinstance(base, ast.Field) or not isinstance(key, ast.Constant) or not isinstance(key.value, str):
            raise _unsupported("Indexing anything but a field with a string key ([1], [expression]) is", meta)
        return ast.Field((*base.chain, key.value), **self._at(meta))

    def nullish_access(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Null-safe access (?.) is", meta)

    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        base, distinct, args, call_filter, over = children
        if over is not None:
            raise _unsupported("Window functions (OVER) are", meta)
        if call_filter is not None:
            raise _unsupported("FILTER (WHERE …) on a function is", meta)
        if isinstance(base, ast.Call):  # `quantile(0.9)(x)`: the printer says which functions take parameters
            if base.params is not None or base.distinct or call_filter is not None:
                raise _unsupported(f"Parametric functions such as {base.name}(…)(…) are", meta)
            return ast.Call(base.name, tuple(args or ()), distinct is not None, base.args, **self._at(meta))
        if not isinstance(base, ast.Field) or len(base.chain) != 1:
            raise _unsupported("Calling anything but a function by its name is", meta)
        name = base.chain[0]
        args = args or ()
        marked = [arg for arg in args if isinstance(arg, _Arg)]  # an argument with AS, or trim's FROM
        if marked:
            return self._marked_call(name, args, distinct is not None, meta)
        return ast.Call(name, tuple(args), distinct is not None, **self._at(meta))

    def _marked_call(self, name: str, args: list[Any], distinct: bool, meta: Any) -> ast.Call:
        """`cast(x AS type)` and `trim(LEADING 'x' FROM y)`; an alias anywhere else is refused."""
        first = args[0]
        if name.lower() == "cast" and len(args) == 1 and first.alias is not None and not distinct:
            return self._cast(first.expr, first.alias, meta)
        if name.lower() == "trim" and len(args) == 1 and first.trim_side is not None and not distinct:
            chars = first.expr if first.expr is not None else ast.Constant(" ", **self._at(meta))
            function = {"leading": "trimLeft", "trailing": "trimRight", "both": "trim"}[first.trim_side]
            return ast.Call(function, (first.trim_from, chars), **self._at(meta))
        if any(isinstance(arg, _Arg) and arg.trim_side is not None for arg in args):
            raise HogQLError("Syntax error: LEADING, TRAILING and BOTH are for trim(… FROM …).", **self._at(meta),
                             code=SYNTAX)  # fmt: skip
        raise _unsupported("An alias (AS) inside a function's arguments is", meta)

    def _cast(self, expr: Any, type_name: str, meta: Any) -> ast.Call:
        function = CASTS.get(type_name.lower())
        if function is None:
            raise _unsupported(f"Casting to {type_name} is", meta)
        return ast.Call(function, (expr,), **self._at(meta))

    def type_cast(self, meta: Any, children: list[Any]) -> ast.Call:
        expr, type_name = children
        return self._cast(expr, type_name, meta)

    def type_name(self, meta: Any, children: list[Any]) -> str:
        name, args = children
        return _name(name) + ("(…)" if args is not None else "")

    def call_args(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def aliased_arg(self, meta: Any, children: list[Any]) -> _Arg:
        expr, alias = children
        return _Arg(expr, _name(alias) if alias.type != "STRING" else _unquote(alias))

    def trim_from(self, meta: Any, children: list[Any]) -> _Arg:
        side, chars, source = children
        return _Arg(chars, trim_side=str(side).lower(), trim_from=source)

    def call_filter(self, meta: Any, children: list[Any]) -> bool:
        return True

    def over(self, meta: Any, children: list[Any]) -> bool:
        return True

    def window_spec(self, meta: Any, children: list[Any]) -> None:
        return None

    def paren_alias(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("An alias (AS) inside an expression is", meta)

    def args(self, meta: Any, children: list[Any]) -> list[Any]:
        return children

    def tuple(self, meta: Any, children: list[Any]) -> ast.Tuple:
        first, rest = children
        return ast.Tuple((first, *(rest or ())), **self._at(meta))

    def array(self, meta: Any, children: list[Any]) -> ast.Array:
        return ast.Array(tuple(children[0] or ()), **self._at(meta))

    def placeholder(self, meta: Any, children: list[Any]) -> ast.Constant:
        inner = children[0]
        if not isinstance(inner, ast.Field) or len(inner.chain) != 1:
            raise _unsupported("A placeholder other than {name} is", meta)
        name = inner.chain[0]
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
        normalised = _name(unit).lower()
        if normalised not in INTERVAL_UNITS:
            raise HogQLError(f"Unknown interval unit '{_name(unit)}': use one of {', '.join(sorted(INTERVAL_UNITS))}.",
                             **self._at(meta))  # fmt: skip
        return ast.Interval(amount, normalised, **self._at(meta))

    def interval_string(self, meta: Any, children: list[Token]) -> ast.Interval:
        """`interval '<count> <unit>'` as PostHog reads it: digits, one space, a unit in lower case (singular or
        plural); anything else refused in PostHog's words."""
        written = str(children[0])
        content = written[written.index("'") + 1 : -1]
        count, space, unit = content.partition(" ")
        at = self._at(meta)
        if not space:
            raise HogQLError("Unsupported interval type: must be in the format '<count> <unit>'.", **at)
        if not (count.isascii() and count.isdigit()):
            raise HogQLError(f"Unsupported interval count: '{count}' is not a valid integer.", **at)
        singular = unit[:-1] if unit.endswith("s") else unit
        if singular not in INTERVAL_UNITS:
            raise HogQLError(f"Unsupported interval unit: {unit}.", **at)
        return ast.Interval(ast.Constant(int(count), **at), singular, **at)

    def dict_(self, meta: Any, children: list[Any]) -> Any:
        raise _unsupported("Dictionaries ({key: value}) are", meta)

    def case(self, meta: Any, children: list[Any]) -> ast.Call:
        """`CASE WHEN c THEN r … ELSE d END` is if() or multiIf(), and `CASE x WHEN v THEN r …` compares x with
        each v, as PostHog reads them; without ELSE the default is NULL."""
        subject, *branches, default = children
        at = self._at(meta)
        args: list[Any] = []
        for condition, result in branches:
            args += [condition if subject is None else ast.Compare("=", subject, condition, **at), result]
        args.append(default if default is not None else ast.Constant(None, **at))
        return ast.Call("if" if len(branches) == 1 else "multiIf", tuple(args), **at)

    def case_branch(self, meta: Any, children: list[Any]) -> tuple[Any, Any]:
        return children[0], children[1]

    def star(self, meta: Any, children: list[Any]) -> ast.Star:
        return ast.Star(**self._at(meta))

    def string(self, meta: Any, children: list[Token]) -> ast.Constant:
        return ast.Constant(_unquote(str(children[0])), **self._at(meta))

    def bad_string(self, meta: Any, children: list[Token]) -> Any:
        token = str(children[0])
        escape = next(token[i : i + 2] for i in range(1, len(token) - 1) if token[i] == "\\"
                      and not _known_escape(token, i))  # fmt: skip
        raise HogQLError(f"Syntax error: unknown escape sequence {escape!r} in a string (write \\\\ for a backslash).",
                         **self._at(meta), code=SYNTAX)  # fmt: skip

    def number(self, meta: Any, children: list[Token]) -> ast.Constant:
        text = str(children[0])
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return ast.Constant(value, **self._at(meta))

    def negative_number(self, meta: Any, children: list[Token]) -> ast.Constant:
        text = str(children[0])[1:].strip().lower()
        value: int | float
        if text in ("inf", "nan"):
            value = math.inf if text == "inf" else math.nan
        elif text.startswith(("0x", "0b")):
            value = int(text[2:], 16 if text[1] == "x" else 2)
        else:
            value = float(text) if any(c in text for c in ".e") else int(text)
        return ast.Constant(-value, **self._at(meta))

    def hex_number(self, meta: Any, children: list[Token]) -> ast.Constant:
        return ast.Constant(int(str(children[0])[2:], 16), **self._at(meta))

    def binary_number(self, meta: Any, children: list[Token]) -> ast.Constant:
        return ast.Constant(int(str(children[0])[2:], 2), **self._at(meta))

    def true(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(True, **self._at(meta))

    def false(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(False, **self._at(meta))

    def null(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(None, **self._at(meta))

    def inf(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(math.inf, **self._at(meta))

    def nan(self, meta: Any, children: list[Any]) -> ast.Constant:
        return ast.Constant(math.nan, **self._at(meta))


@dataclass(frozen=True)
class _Meta:
    """A token's or a subtree's place, for a refusal raised by the rule above it."""

    source: Any

    @property
    def start_pos(self) -> int | None:
        return getattr(self.source, "start_pos", None)

    @property
    def end_pos(self) -> int | None:
        return getattr(self.source, "end_pos", None)


@dataclass(frozen=True)
class _Place:
    start_pos: int

    @property
    def end_pos(self) -> int:
        return self.start_pos + 1


def _known_escape(token: str, index: int) -> bool:
    """Whether the backslash at `index` starts an escape the grammar takes (or is itself escaped)."""
    backslashes = len(token[:index]) - len(token[:index].rstrip("\\"))
    if backslashes % 2:
        return True
    following = token[index + 1 : index + 4]
    return following[:1] in "0abfnrtvABFNRTV'\\" or bool(re.fullmatch(r"x[0-9a-fA-F]{2}", following))
