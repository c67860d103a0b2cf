"""Parameterised SQL fragments: text with `%s` placeholders and their values, composed without ever pasting a
value into the text."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
