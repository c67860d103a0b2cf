"""HogQL's syntax tree: immutable nodes, each with the position of its source text (for error messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    start: int = field(default=0, compare=False, kw_only=True)
    end: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Constant(Node):
    value: Any  # str, int, float, bool, None, or a tuple of those (a placeholder's list)


@dataclass(frozen=True)
class Field(Node):
    """A name and what follows it: `event`, `properties.$browser`, `person.properties['plan name']`."""

    chain: tuple[str, ...]


@dataclass(frozen=True)
class Star(Node):
    table: str | None = None  # `e.*`: the table (or its alias) the columns are read from


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Expr, ...]
    distinct: bool = False
    params: tuple[Expr, ...] | None = None  # a parametric call's first list: `quantile(0.9)(x)`


@dataclass(frozen=True)
class Compare(Node):
    op: str  # one of COMPARISONS
    left: Expr
    right: Expr


@dataclass(frozen=True)
class And(Node):
    exprs: tuple[Expr, ...]


@dataclass(frozen=True)
class Or(Node):
    exprs: tuple[Expr, ...]


@dataclass(frozen=True)
class Not(Node):
    expr: Expr


@dataclass(frozen=True)
class IsNull(Node):
    expr: Expr
    negated: bool


@dataclass(frozen=True)
class Arithmetic(Node):
    op: str  # + - * / %
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Negate(Node):
    expr: Expr


@dataclass(frozen=True)
class Array(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Tuple(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Interval(Node):
    amount: Expr
    unit: str  # second, minute, hour, day, week, month, quarter, year


@dataclass(frozen=True)
class Alias(Node):
    expr: Expr
    alias: str


Expr = (
    Constant | Field | Star | Call | Compare | And | Or | Not | IsNull | Arithmetic | Negate | Array | Tuple | Interval
)

# Comparison operators after parsing (`==` is `=`, `<>` is `!=`); `like`-family and regex ones included.
COMPARISONS = frozenset(
    {"=", "!=", "<", "<=", ">", ">=", "like", "not like", "ilike", "not ilike", "in", "not in",
     "=~", "!~", "=~*", "!~*"}
)  # fmt: skip


@dataclass(frozen=True)
class OrderBy(Node):
    expr: Expr
    descending: bool
    nulls: str | None = None  # "first" or "last" as written; None: ClickHouse's default (last)


@dataclass(frozen=True)
class Select(Node):
    columns: tuple[Expr | Alias, ...]
    table: str | None  # None: no FROM (`select 1`)
    table_alias: str | None = None
    distinct: bool = False
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: Expr | None = None
    offset: Expr | None = None


def children(node: Node) -> list[Node]:
    """The nodes directly below `node`, in field order."""
    out: list[Node] = []
    for name in node.__dataclass_fields__:
        value = getattr(node, name)
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, Node):
                out.append(child)
    return out
