"""How a JSON value reads as text, as PostgreSQL's `->>` gives it: both engines read properties this way."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


def json_as_text(value: Any) -> str | None:
    """Strings bare; numbers in plain notation; booleans `true`/`false`; objects and arrays as jsonb prints them
    (`{"k": "v"}`); NULL (and a non-finite float, which JSON cannot hold) as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else None
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
