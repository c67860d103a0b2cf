"""Property filters evaluated in Python against one event (online evaluation of newly ingested events)."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def python_regex_problem(pattern: str) -> str | None:
    """Why Python cannot run `pattern`, or None; for filters that will be matched in Python."""
    try:
        re.compile(pattern)
    except re.error as error:
        return str(error)
    return None
