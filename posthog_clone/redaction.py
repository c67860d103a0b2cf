"""Secrets never reach a log line. A personal API key may arrive in a query string (`?personal_api_key=phx_…`
authenticates, as in PostHog) or be echoed in an error; gunicorn's access log and every structured log line pass
through `redact`. Imports nothing but `re`: gunicorn's master uses it before Django is set up."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

PERSONAL_API_KEY = re.compile(r"phx_[A-Za-z0-9_-]+")
# An LLM provider's key in OpenAI's format (`sk-…`, `sk-proj-…`), should a provider's error echo one.
PROVIDER_API_KEY = re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{6,}")
# Query parameters that carry a secret, in a request line, a URL or a referer (`%3D` is an encoded `=`).
SECRET_PARAMETER = re.compile(r"(?i)\b(personal_api_key|password|secret)(=|%3D)[^&;\s\"']*")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    if "phx_" not in text and "=" not in text and "%3" not in text and "sk-" not in text:
        return text  # the usual line: nothing to look for
    text = PROVIDER_API_KEY.sub(f"sk-{REDACTED}", PERSONAL_API_KEY.sub(f"phx_{REDACTED}", text))
    return SECRET_PARAMETER.sub(rf"\1\2{REDACTED}", text)


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: every text value of the line redacted."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event
