"""Parameterised SQL fragments: text with `%s` placeholders and their values, composed without ever pasting a
value into the text."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Sql:
    """A SQL fragment and its parameters, in placeholder order."""

    text: str
    params: tuple[Any, ...] = ()


def sql(template: str, *items: Sql | Any) -> Sql:
    """Fill each `{}` of `template` in order: a `Sql` is inlined with its parameters, anything else becomes a
    `%s` parameter."""
    pieces = template.split("{}")
    if len(pieces) != len(items) + 1:
        raise ValueError("placeholder count mismatch")
    text, params = pieces[0], []
    for item, piece in zip(items, pieces[1:], strict=True):
        if isinstance(item, Sql):
            text += item.text
            params.extend(item.params)
        else:
            text += "%s"
            params.append(item)
        text += piece
    return Sql(text, tuple(params))


def join(separator: str, fragments: list[Sql]) -> Sql:
    return Sql(separator.join(f.text for f in fragments), tuple(p for f in fragments for p in f.params))


def like_pattern(text: str) -> str:
    """`%text%` for ILIKE with the wildcards inside `text` escaped (backslash is PostgreSQL's LIKE escape)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _clickhouse_type(value: Any) -> str:
    """The ClickHouse type a bound Python value travels as (server-side parameters are typed in the text)."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64" if value < 2**63 else "UInt64"
    if isinstance(value, float | Decimal):
        return "Float64"
    if isinstance(value, str):
        return "String"
    if isinstance(value, uuid.UUID):
        return "UUID"
    if isinstance(value, datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, date):
        return "Date"
    if isinstance(value, list | tuple):
        items = [item for item in value if item is not None]
        if items and all(isinstance(i, int | float | Decimal) and not isinstance(i, bool) for i in items):
            return "Array(Int64)" if all(isinstance(i, int) for i in items) else "Array(Float64)"
        return f"Array({_clickhouse_type(items[0]) if items else 'String'})"
    raise TypeError(f"no ClickHouse parameter type for {type(value).__name__}")


def _clickhouse_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, list | tuple):
        return [_clickhouse_value(item) for item in value]
    return value


def clickhouse_bind(statement: Sql) -> tuple[str, dict[str, Any]]:
    """`statement` as ClickHouse text with typed server-side parameters (`{p0:Int64}`), which the clickhouse-connect
    client and chdb both bind; a None parameter is written as NULL."""
    pieces = statement.text.split("%s")
    if len(pieces) != len(statement.params) + 1:
        raise ValueError("placeholder count mismatch")
    text, params = [pieces[0]], {}
    for index, (value, piece) in enumerate(zip(statement.params, pieces[1:], strict=True)):
        if value is None:
            text.append("NULL")
        else:
            name = f"p{index}"
            text.append(f"{{{name}:{_clickhouse_type(value)}}}")
            params[name] = _clickhouse_value(value)
        text.append(piece)
    return "".join(text), params


def clickhouse_literal(value: Any) -> str:
    """A constant as ClickHouse SQL text, for statements that take no parameters (a column's definition)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")


def clickhouse_inline(statement: Sql) -> str:
    """`statement` as ClickHouse text with its parameters written in as literals."""
    pieces = statement.text.split("%s")
    if len(pieces) != len(statement.params) + 1:
        raise ValueError("placeholder count mismatch")
    text = [pieces[0]]
    for value, piece in zip(statement.params, pieces[1:], strict=True):
        text += [clickhouse_literal(value), piece]
    return "".join(text)
