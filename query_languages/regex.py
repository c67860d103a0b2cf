"""Regular expressions matched in Python, through RE2 (google-re2): the engine ClickHouse matches with, and one whose
time is linear in the text, so a pattern that reaches the server from anyone holding a project's public token (an
online evaluation's condition on `$ai_input`, say) cannot make a request backtrack for seconds. Python's `re` is
kept for the server's own fixed patterns only."""

from __future__ import annotations

import re
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


# RE2's ASCII classes, spelled out for PostgreSQL (whose \d, \w, \s and POSIX classes follow the locale).
_CLASS_ITEMS = {
    "d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_",
    "[:alpha:]": "A-Za-z", "[:digit:]": "0-9", "[:alnum:]": "0-9A-Za-z", "[:upper:]": "A-Z", "[:lower:]": "a-z",
    "[:space:]": "\\t\\n\\v\\f\\r ", "[:blank:]": "\\t ", "[:punct:]": "!-/:-@\\[-`{-~", "[:xdigit:]": "0-9A-Fa-f",
    "[:word:]": "0-9A-Za-z_", "[:cntrl:]": "\\u0000-\\u001f\\u007f", "[:print:]": " -~", "[:graph:]": "!-~",
    "[:ascii:]": "\\u0000-\\u007f",
}  # fmt: skip
_PLAIN_ESCAPES = {"a": "\\a", "f": "\\f", "t": "\\t", "n": "\\n", "r": "\\r", "v": "\\v", "A": "\\A", "z": "\\Z",
                  "b": "\\y", "B": "\\Y"}  # fmt: skip
_FLAGS = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?\)")
_HEX = re.compile(r"x(\{[0-9A-Fa-f]{1,6}\}|[0-9A-Fa-f]{2})")


def _code_point(number: int) -> str:
    return f"\\u{number:04x}" if number <= 0xFFFF else f"\\U{number:08x}"


def _literal(character: str) -> str:
    return character if character.isalnum() or character == " " else "\\" + character


def postgres_pattern(pattern: str) -> str:
    """An RE2 pattern, as ClickHouse matches it (with `.` matching a newline too), as a PostgreSQL regular expression
    that matches the same texts: `\\d`/`\\w`/`\\s`/`[[:alpha:]]`… are ASCII as in RE2, `\\b` is `\\y`, `\\x{41}` a code
    point, `\\Q…\\E` literal, named groups plain, `(?m)` PostgreSQL's `(?w)`. RegexError for what PostgreSQL cannot
    say (Unicode classes, flags other than at the start): the caller refuses it with a 400 rather than match
    otherwise."""
    compile_pattern(pattern)  # RE2's own refusals first
    dot_all, multi_line = True, False
    index = 0
    flags = _FLAGS.match(pattern)
    if flags:  # PostgreSQL takes options only at the very start
        on, off = flags.group(1), flags.group(2) or ""
        dot_all, multi_line = "s" not in off, "m" in on and "m" not in off
        if "U" in on or "i" in off:
            raise RegexError("flags other than i, m and s are not supported on PostgreSQL")
        index = flags.end()
    # One options group at the start: `w` makes ^ and $ match at each line (`.` is translated apart), `i` ignores case.
    options = ("w" if multi_line else "") + ("i" if flags and "i" in flags.group(1) else "")
    out = [f"(?{options})"] if options else []
    in_class = False
    while index < len(pattern):
        character = pattern[index]
        if character == "\\":
            index, piece = _escape(pattern, index + 1, in_class)
            out.append(piece)
            continue
        if in_class:
            if character == "]" and out[-1] not in ("[", "[^"):
                in_class = False
            elif character == "[" and not pattern.startswith("[:", index):
                out.append("\\[")  # `[.` and `[=` would open collating elements in PostgreSQL
                index += 1
                continue
            elif character == "[":
                end = pattern.find(":]", index + 2)
                name = pattern[index : end + 2]
                if end < 0 or name not in _CLASS_ITEMS:
                    raise RegexError(f"class {name or pattern[index:]} is not supported on PostgreSQL")
                out.append(_CLASS_ITEMS[name])
                index = end + 2
                continue
            out.append(character)
        elif character == "[":
            in_class = True
            if pattern.startswith("[^", index):
                out.append("[^")
                index += 2
                continue
            out.append("[")
        elif character == "." and not dot_all:
            out.append("[^\\n]")
        elif character == "(" and pattern.startswith("(?", index):
            named = re.match(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>", pattern[index:])
            if named:
                out.append("(")
                index += named.end()
                continue
            if not pattern.startswith("(?:", index):
                raise RegexError("flags are supported on PostgreSQL only at the start of a pattern")
            out.append("(?:")
            index += 3
            continue
        else:
            out.append(character)
        index += 1
    return "".join(out)


def _escape(pattern: str, index: int, in_class: bool) -> tuple[int, str]:
    """The escape at pattern[index] (after its backslash) for PostgreSQL, and where the pattern goes on."""
    character = pattern[index]
    if character.lower() in "dsw":
        items = _CLASS_ITEMS[character.lower()]
        if character.islower():
            return index + 1, items if in_class else f"[{items}]"
        if in_class:
            raise RegexError(f"\\{character} inside a class is not supported on PostgreSQL")
        return index + 1, f"[^{items}]"
    if character == "x":
        found = _HEX.match(pattern, index)
        assert found is not None  # RE2 accepted the pattern
        return found.end(), _code_point(int(found.group(1).strip("{}"), 16))
    if character == "Q":
        end = pattern.find("\\E", index + 1)
        text = pattern[index + 1 :] if end < 0 else pattern[index + 1 : end]
        return (len(pattern) if end < 0 else end + 2), "".join(_literal(c) for c in text)
    if character in _PLAIN_ESCAPES and not (in_class and character in "AzbB"):
        return index + 1, _PLAIN_ESCAPES[character]
    if character.isalnum():
        raise RegexError(f"\\{character} is not supported on PostgreSQL")
    return index + 1, "\\" + character
