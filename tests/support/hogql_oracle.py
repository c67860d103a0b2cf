"""The semantics oracle: a HogQL expression printed for ClickHouse by PostHog's rules (as read in PostHog's printer and
function table), so that chdb answers what PostHog would. Written for the tests; it shares nothing with
`query_languages`' printer but the syntax tree.

PostHog's rules, as this printer applies them:

- A comparison of two constants (`=`, `!=`, `<`, `<=`, `>`, `>=`) is decided before ClickHouse sees it, by Python's
  own comparison (`NULL = NULL` is 1, `'1' = 1` is 0, `NULL < 1` is 0; what Python cannot compare is an error).
- Every other comparison is null-safe: `=`, `like`, `ilike`, `=~`, `=~*` are true when both sides are NULL and false
  when one is; `!=`, `not like`, `not ilike`, `!~`, `!~*` are true when one side is NULL and false when both are;
  `<`, `<=`, `>`, `>=` and `between` are false when any side is NULL. A comparison is never NULL.
- `in` and `not in` run with `transform_null_in = 1`: NULL is a value like any other (`NULL in (NULL)` is 1,
  `NULL not in ('a')` is 1).
- `toInt`/`toFloat` are `accurateCastOrNull(…, 'Int64'/'Float64')`; `toDate` of text is `toDateOrNull`; `toDateTime`
  of text is `parseDateTime64BestEffortOrNull`; `concat` reads NULL as ''.
- A property is its JSON value's raw text without the quotes of a string (PostHog's unmaterialised reading), NULL
  when missing or JSON null.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from query_languages.hogql import ast

SETTINGS = {"transform_null_in": 1}
# What ClickHouse is asked once the constants are folded.
COMPARE_FUNCTIONS = {"=": "equals", "!=": "notEquals", "<": "less", "<=": "lessOrEquals", ">": "greater",
                     ">=": "greaterOrEquals", "like": "like", "not like": "notLike", "ilike": "ilike",
                     "not ilike": "notILike"}  # fmt: skip
FOLDED: dict[str, Callable[[Any, Any], Any]] = {"=": operator.eq, "!=": operator.ne}
ORDERED: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                 ">=": operator.ge}  # fmt: skip
# Whether the test holds when both sides are NULL (when one is, it is the opposite)
NULLS = {"=": (1, 0), "like": (1, 0), "ilike": (1, 0), "=~": (1, 0), "=~*": (1, 0), "!=": (0, 1), "not like": (0, 1),
         "not ilike": (0, 1), "!~": (0, 1), "!~*": (0, 1)}  # fmt: skip
ARITHMETIC = {"+": "plus", "-": "minus", "*": "multiply", "/": "divide", "%": "modulo"}
# HogQL functions PostHog prints under another ClickHouse name (the rest keep theirs).
RENAMED = {"toInt64": "toInt64", "toFloat64": "toFloat64"}
TEXT_KINDS = ("properties", "person")


class OracleRefuses(Exception):
    """PostHog would not print this (an error in its printer)."""


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise OracleRefuses(f"constant {value!r}")


def _is_text(node: ast.Expr) -> bool:
    """Whether PostHog types `node` as text (a string constant or a property)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Field) and node.chain[0] in TEXT_KINDS


def posthog_sql(node: ast.Expr) -> str:
    """`node` as PostHog prints it for ClickHouse (over the events table aliased `e`)."""
    method = globals().get(f"_{type(node).__name__.lower()}")
    if method is None:
        raise OracleRefuses(type(node).__name__)
    return method(node)


def _constant(node: ast.Constant) -> str:
    if isinstance(node.value, tuple):
        return "tuple(" + ", ".join(literal(v) for v in node.value) + ")"
    return literal(node.value)


def _field(node: ast.Field) -> str:
    head, rest = node.chain[0], node.chain[1:]
    if head in ("event", "distinct_id") and not rest:
        return f"e.{head}"
    if head == "timestamp" and not rest:
        return "toTimeZone(e.timestamp, 'UTC')"
    if head == "properties" and rest:
        document, keys = "e.properties", rest
    elif head == "person" and rest[:1] == ("properties",) and rest[1:]:
        document, keys = "e.person_properties", rest[1:]
    else:
        raise OracleRefuses(f"field {node.chain}")
    path = ", ".join(literal(k) for k in keys)
    return f"replaceRegexpAll(nullIf(nullIf(JSONExtractRaw({document}, {path}), ''), 'null'), '^\"|\"$', '')"


def _and(node: ast.And) -> str:
    return "and(" + ", ".join(posthog_sql(e) for e in node.exprs) + ")"


def _or(node: ast.Or) -> str:
    return "or(" + ", ".join(posthog_sql(e) for e in node.exprs) + ")"


def _not(node: ast.Not) -> str:
    return f"not({posthog_sql(node.expr)})"


def _isnull(node: ast.IsNull) -> str:
    return f"{'isNotNull' if node.negated else 'isNull'}({posthog_sql(node.expr)})"


def _negate(node: ast.Negate) -> str:
    return f"negate({posthog_sql(node.expr)})"


def _arithmetic(node: ast.Arithmetic) -> str:
    return f"{ARITHMETIC[node.op]}({posthog_sql(node.left)}, {posthog_sql(node.right)})"


def _interval(node: ast.Interval) -> str:
    return f"toInterval{node.unit.capitalize()}({posthog_sql(node.amount)})"


def _tuple(node: ast.Tuple) -> str:
    return "tuple(" + ", ".join(posthog_sql(i) for i in node.items) + ")"


def _array(node: ast.Array) -> str:
    return "[" + ", ".join(posthog_sql(i) for i in node.items) + "]"


def _compare(node: ast.Compare) -> str:
    op = node.op
    if op in ("in", "not in"):
        right = node.right
        items = right.items if isinstance(right, ast.Tuple | ast.Array) else (right,)
        listed = "tuple(" + ", ".join(posthog_sql(i) for i in items) + ")"
        return f"{'in' if op == 'in' else 'notIn'}({posthog_sql(node.left)}, {listed})"
    if isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant) and op in FOLDED | ORDERED:
        a, b = node.left.value, node.right.value
        if op in ORDERED:
            if a is None or b is None:
                return "0"
            try:
                return "1" if ORDERED[op](a, b) else "0"
            except TypeError:
                raise OracleRefuses("constants Python cannot order") from None
        return "1" if FOLDED[op](a, b) else "0"
    left, right = posthog_sql(node.left), posthog_sql(node.right)
    if op in ("=~", "!~", "=~*", "!~*"):
        pattern = f"concat('(?i)', {right})" if op.endswith("*") else right
        test = f"match({left}, {pattern})"
        test = f"not({test})" if op.startswith("!") else test
    else:
        test = f"{COMPARE_FUNCTIONS[op]}({left}, {right})"
    if op in ORDERED:
        return f"ifNull({test}, 0)"
    if NULLS[op][0]:
        return f"ifNull({test}, isNull({left}) and isNull({right}))"
    return f"ifNull({test}, isNotNull({left}) or isNotNull({right}))"


def _call(node: ast.Call) -> str:
    name, args = node.name, node.args
    printed = [posthog_sql(a) for a in args]
    if name in ("like", "ilike", "notLike", "notILike", "equals", "notEquals", "less", "greater", "lessOrEquals",
                "greaterOrEquals"):  # fmt: skip
        op = {v: k for k, v in COMPARE_FUNCTIONS.items()}[name]
        return _compare(ast.Compare(op, args[0], args[1]))
    if name in ("toInt", "toFloat"):
        return f"accurateCastOrNull({printed[0]}, '{'Int64' if name == 'toInt' else 'Float64'}')"
    if name == "toDate":
        return f"{'toDateOrNull' if _is_text(args[0]) else 'toDate'}({printed[0]})"
    if name == "toDateTime":
        if _is_text(args[0]):
            return f"parseDateTime64BestEffortOrNull({printed[0]}, 6, 'UTC')"
        return f"toDateTime({printed[0]}, 'UTC')"
    if name in ("toStartOfHour", "toStartOfDay", "toStartOfWeek", "toStartOfMonth") and _is_text(args[0]):
        return f"{name}(toDateTime({printed[0]}, 'UTC'))"
    if name == "concat":
        parts = []
        for arg, text in zip(args, printed, strict=True):
            if isinstance(arg, ast.Constant):
                parts.append("''" if arg.value is None else text if isinstance(arg.value, str) else f"toString({text})")
            else:
                parts.append(f"ifNull(toString({text}), '')")
        return f"concat({', '.join(parts)})"
    if name == "now":
        raise OracleRefuses("now() is the caller's")
    if node.params is not None:  # a parametric aggregate: `quantile(0.9)(x)`
        return f"{name}({', '.join(posthog_sql(a) for a in node.params)})({', '.join(printed)})"
    return f"{RENAMED.get(name, name)}({', '.join(printed)})"
