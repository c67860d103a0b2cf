"""How a JSON value reads as text, as PostgreSQL's `->>` gives it from jsonb: every engine reads properties this way."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


def json_as_text(value: Any) -> str | None:
    """Strings bare; numbers in plain notation; booleans `true`/`false`; objects and arrays as jsonb prints them
    (`{"k": "v"}`); NULL (and a non-finite float, which JSON cannot hold) as None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, str):
        return value
    return _jsonb(value)


def _jsonb(value: Any) -> str:
    """`value` as jsonb prints it: keys ordered by length then bytes, `, ` and `: ` between items, numbers plain."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return "{" + ", ".join(f"{json.dumps(key, ensure_ascii=False)}: {_jsonb(value[key])}" for key in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_jsonb(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        # As written (Python's repr), then as a numeric prints it: plain, and without a sign on zero.
        return format(Decimal(repr(abs(value) if value == 0 else value)), "f")
    return json.dumps(value, ensure_ascii=False)
