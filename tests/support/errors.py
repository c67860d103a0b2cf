"""The one check of an error answer: its status, PostHog's body shape `{type, code, detail, attr}`, and whichever of
those fields a test names (a field left out is not checked; `attr=None` checks that there is none)."""

from __future__ import annotations

from typing import Any

ERROR_KEYS = {"type", "code", "detail", "attr"}
UNCHECKED: Any = object()


def assert_error(response: Any, status: int = 400, *, type: Any = UNCHECKED, code: Any = UNCHECKED,
                 attr: Any = UNCHECKED, detail: Any = UNCHECKED) -> dict[str, Any]:  # fmt: skip
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    for name, expected in (("type", type), ("code", code), ("attr", attr), ("detail", detail)):
        if expected is not UNCHECKED:
            assert body[name] == expected, body
    return body
