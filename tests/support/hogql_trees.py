"""PostHog's JSON tree of an expression and ours, each reduced to one comparable shape (nested tuples), so that the
grammar oracle can check that we read an expression as PostHog does (precedence, chained comparisons, folded
constants), not only that we both accept it. Forms that differ in name only are reduced to one: PostHog's
`between`, `is null`, `transform`/`_caseWithExpression`, casts, nested `concat`s and `not(x)` calls."""

from __future__ import annotations

import math
from typing import Any

from query_languages.hogql import ast
from query_languages.hogql.parser import CASTS

Shape = tuple[Any, ...]


def _constant(value: Any) -> Shape:
    return ("nan",) if isinstance(value, float) and math.isnan(value) else ("const", value)


def _arithmetic(op: str, left: Shape, right: Shape) -> Shape:
    if op == "-" and left == ("const", 0):  # PostHog writes -x as 0 - x; a constant's is folded
        if right == ("nan",):
            return right
        if right[0] == "const" and type(right[1]) in (int, float):
            return ("const", -right[1])
    return ("arith", op, left, right)


def _concat(args: tuple[Shape, ...]) -> Shape:
    flat: list[Shape] = []
    for arg in args:
        flat += list(arg[2]) if arg[:2] == ("call", "concat") else [arg]
    return ("call", "concat", tuple(flat), False)


def _cases(subject: Shape, rest: list[Shape]) -> Shape:
    """`case x when v then r … else d end` as if()/multiIf() of equalities."""
    args: list[Shape] = []
    for index in range(0, len(rest) - 1, 2):
        args += [("cmp", "=", subject, rest[index]), rest[index + 1]]
    args.append(rest[-1])
    return ("call", "if" if len(rest) == 3 else "multiIf", tuple(args), False)


def _number_text(value: str) -> int | float:
    special = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
    if value in special:
        return special[value]
    return int(value, 0) if value.lower().startswith(("0x", "-0x")) else int(value)


def posthog_shape(node: dict[str, Any]) -> Shape:
    kind = node.get("node")
    if kind == "Constant":
        value = node.get("value")
        if node.get("value_type") == "number" and isinstance(value, str):
            value = _number_text(value)
        return _constant(value)
    if kind == "Field":
        return ("field", tuple(node["chain"]))
    if kind == "CompareOperation":
        return (
            "cmp",
            "=" if node["op"] == "==" else node["op"],
            posthog_shape(node["left"]),
            posthog_shape(node["right"]),
        )
    if kind == "ArithmeticOperation":
        return _arithmetic(node["op"], posthog_shape(node["left"]), posthog_shape(node["right"]))
    if kind == "Call":
        name, args = node["name"], tuple(posthog_shape(arg) for arg in node["args"])
        if name.lower() == "not" and len(args) == 1:
            return ("not", args[0])
        if name == "concat":
            return _concat(args)
        if name == "_caseWithExpression":
            return _cases(args[0], list(args[1:]))
        if name == "transform":
            _, values, results, _ = node["args"]  # the subject and default are args[0] and args[3]
            pairs = [x for pair in zip(values["exprs"], results["exprs"], strict=True) for x in pair]
            return _cases(args[0], [posthog_shape(x) for x in pairs] + [args[3]])
        if node.get("params") is not None:  # a parametric call: `quantile(0.9)(x)`
            return ("call", name, args, bool(node.get("distinct")), tuple(posthog_shape(p) for p in node["params"]))
        return ("call", name, args, bool(node.get("distinct")))
    if kind in ("And", "Or"):
        return (kind.lower(), tuple(posthog_shape(expr) for expr in node["exprs"]))
    if kind == "Not":
        return ("not", posthog_shape(node["expr"]))
    if kind == "BetweenExpr":
        subject, low, high = (posthog_shape(node[key]) for key in ("expr", "low", "high"))
        if node.get("negated"):  # ClickHouse's NOT BETWEEN is `x < low OR x > high`
            return ("or", (("cmp", "<", subject, low), ("cmp", ">", subject, high)))
        return ("and", (("cmp", ">=", subject, low), ("cmp", "<=", subject, high)))
    if kind in ("Array", "Tuple"):
        return (kind.lower(), tuple(posthog_shape(expr) for expr in node["exprs"]))
    if kind == "ArrayAccess":
        array, key = posthog_shape(node["array"]), posthog_shape(node["property"])
        if array[0] == "field" and key[0] == "const" and isinstance(key[1], str):
            return ("field", (*array[1], key[1]))
        return ("access", array, key)
    if kind == "TypeCast":
        return ("call", CASTS.get(node["type_name"].lower(), node["type_name"]), (posthog_shape(node["expr"]),), False)
    return ("posthog", kind)


def our_shape(node: ast.Expr) -> Shape:
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, ast.Field):
        return ("field", node.chain)
    if isinstance(node, ast.Star):
        return ("field", (*((node.table,) if node.table else ()), "*"))
    if isinstance(node, ast.Compare):
        return ("cmp", node.op, our_shape(node.left), our_shape(node.right))
    if isinstance(node, ast.IsNull):
        return ("cmp", "!=" if node.negated else "=", our_shape(node.expr), ("const", None))
    if isinstance(node, ast.Arithmetic):
        return _arithmetic(node.op, our_shape(node.left), our_shape(node.right))
    if isinstance(node, ast.Negate):
        return _arithmetic("-", ("const", 0), our_shape(node.expr))
    if isinstance(node, ast.Call):
        args = tuple(our_shape(arg) for arg in node.args)
        if node.params is not None:
            return ("call", node.name, args, node.distinct, tuple(our_shape(p) for p in node.params))
        return _concat(args) if node.name == "concat" else ("call", node.name, args, node.distinct)
    if isinstance(node, ast.And | ast.Or):
        return (type(node).__name__.lower(), tuple(our_shape(expr) for expr in node.exprs))
    if isinstance(node, ast.Not):
        return ("not", our_shape(node.expr))
    if isinstance(node, ast.Array | ast.Tuple):
        return (type(node).__name__.lower(), tuple(our_shape(item) for item in node.items))
    if isinstance(node, ast.Interval):
        return ("call", "toInterval" + node.unit.capitalize(), (our_shape(node.amount),), False)
    return ("ours", type(node).__name__)
