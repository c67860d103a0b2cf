"""A check of our own for the schema fuzz: an error answer speaks about the request, never about the server's
internals (Python's or PostgreSQL's own messages, module names, tracebacks)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

# Text only the implementation can produce: an interpreter or driver message, or a path into the code.
INTERNALS = (
    "Python int",
    "C int",
    "C long",
    "int_max_str_digits",
    "integer string conversion",
    "out of range",
    "Traceback",
    "psycopg",
    "django.",
    "site-packages",
    "OverflowError",
    "ValueError",
    "TypeError",
    "KeyError",
)


@schemathesis.check
def errors_do_not_echo_internals(ctx: Any, response: Any, case: Any) -> None:
    """The `detail` and `attr` of an error answer name no internals."""
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        return  # not JSON: the other checks decide whether that is allowed
    if not isinstance(body, dict):
        return
    said = " ".join(str(body.get(key) or "") for key in ("detail", "attr"))
    leaked = [marker for marker in INTERNALS if marker in said]
    if leaked:
        raise AssertionError(f"the error answer shows internals ({', '.join(leaked)}): {said[:300]}")
