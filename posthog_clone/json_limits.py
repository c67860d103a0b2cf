"""How deeply nested JSON the server accepts, anywhere: at most MAX_DEPTH levels. That is orjson's serialization
limit, so whatever is accepted can be stored and rendered again; it is checked by orjson in C, before any of our
recursive walks (NUL checks, cleaning, filter parsing) can see the value."""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 254
NESTED_TOO_DEEPLY = f"JSON nested more than {MAX_DEPTH} levels deep is not accepted."


class NestedTooDeeply(ValueError):
    def __init__(self) -> None:
        super().__init__(NESTED_TOO_DEEPLY)


def is_depth_error(error: Exception) -> bool:
    """Whether orjson refused a document (parsing: over 1,024 levels) or a value (serializing) for its depth."""
    text = str(error).lower()
    return "depth limit" in text or "recursion limit" in text


def check_depth(value: Any) -> None:
    """Raise NestedTooDeeply when `value` nests deeper than MAX_DEPTH: orjson's walk (in C) when it can write the
    value, otherwise (lone surrogates, say) a walk of the containers with a stack, never by recursion."""
    try:
        orjson.dumps(value)
        return
    except orjson.JSONEncodeError as error:
        if is_depth_error(error):
            raise NestedTooDeeply() from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    raise NestedTooDeeply()
                pending.append((child, depth + 1))


def loads(data: bytes | str) -> Any:
    """orjson.loads, refusing too deep a document with NestedTooDeeply (other errors are orjson's)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if is_depth_error(error):
            raise NestedTooDeeply() from None
        raise
    check_depth(value)
    return value
