"""Regular expressions matched in Python, through RE2 (google-re2): the engine ClickHouse matches with, and one whose
time is linear in the text, so a pattern that reaches the server from anyone holding a project's public token (an
online evaluation's condition on `$ai_input`, say) cannot make a request backtrack for seconds. Python's `re` is
kept for the server's own fixed patterns only."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

# RE2 memory per compiled pattern; a pattern that needs more is refused when compiled, never slow when matched.
MAX_MEMORY = 8 * 2**20


class RegexError(ValueError):
    pass


def _options(*, ignore_case: bool = False, dot_all: bool = False) -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's answer, not a line on stderr
    options.max_mem = MAX_MEMORY
    options.case_sensitive = not ignore_case
    options.dot_nl = dot_all
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, *, ignore_case: bool = False, dot_all: bool = False) -> Any:
    """`pattern` compiled by RE2 (cached); RegexError with RE2's reason when it refuses it."""
    try:
        return re2.compile(pattern, _options(ignore_case=ignore_case, dot_all=dot_all))
    except re2.error as error:
        reason = error.args[0] if error.args else "invalid pattern"
        raise RegexError(reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)) from None


def pattern_problem(pattern: str) -> str | None:
    """Why RE2 cannot run `pattern`, or None."""
    try:
        compile_pattern(pattern)
    except RegexError as error:
        return str(error)
    return None


def like_pattern(like: str, *, ignore_case: bool) -> Any:
    """SQL's LIKE (`%`, `_`, backslash escapes) as an RE2 pattern matching the whole text."""
    out, escaped = [], False
    for character in like:
        if escaped:
            out.append(re2.escape(character))
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == "%":
            out.append(".*")
        elif character == "_":
            out.append(".")
        else:
            out.append(re2.escape(character))
    return compile_pattern("".join(out), ignore_case=ignore_case, dot_all=True)
