"""Whether RE2 (ClickHouse's regular expressions) can run a pattern, decided in Python before a query runs, so a bad
pattern is a 400 naming it rather than an error from ClickHouse. Conservative: a pattern is accepted when Python's
`re` parses it and it uses only what RE2 reads the same way; RE2-only syntax (`\\pL`, `\\Q…\\E`) is refused too."""

from __future__ import annotations

import re
import warnings
from re import _constants as constants  # type: ignore[attr-defined]
from re import _parser as parser  # type: ignore[attr-defined]
from typing import Any

MAX_REPEAT = 1000  # RE2's largest counted repetition, also for repetitions nested in one another
FLAGS = frozenset("ims-")
ESCAPES_REFUSED = {
    "u": "\\u escapes are not supported: write the character, or \\x{…}",
    "U": "\\U escapes are not supported: write the character",
    "N": "\\N{…} escapes are not supported: write the character",
    "Z": "\\Z is not supported: use $",
}
COUNTED_FROM_NOTHING = re.compile(r"\{,\d*\}")


def re2_problem(pattern: str) -> str | None:
    """Why RE2 would refuse `pattern` (or read it differently from Python, which checks it), or None."""
    try:
        pattern.encode()
        with warnings.catch_warnings():  # Python's own future readings (nested sets): the scan below decides
            warnings.simplefilter("ignore", FutureWarning)
            tree = parser.parse(pattern)
    except UnicodeEncodeError:
        return "the pattern is not valid UTF-8"
    except re.error as error:
        return str(error)
    return _scan(pattern) or _walk(tree, 1)


def _scan(pattern: str) -> str | None:
    """What the parsed tree no longer shows: escapes, group syntax, `{,n}` and POSIX classes."""
    index, in_class, class_body = 0, False, 0
    while index < len(pattern):
        character = pattern[index]
        if character == "\\":
            escaped = pattern[index + 1] if index + 1 < len(pattern) else ""
            if escaped.isdigit():
                return "backreferences and octal escapes are not supported"
            if escaped in ESCAPES_REFUSED:
                return ESCAPES_REFUSED[escaped]
            if in_class and escaped in "bB":
                return f"\\{escaped} is not supported inside [...]"
            index += 2
            continue
        if in_class:
            if character == "]" and index > class_body:
                in_class = False
            elif pattern.startswith("[:", index):
                return "POSIX classes such as [:alpha:] are not supported"
            index += 1
            continue
        if character == "[":
            in_class = True
            class_body = index + 1 + (pattern.startswith("^", index + 1))  # a `]` first is a literal
        elif character == "{" and COUNTED_FROM_NOTHING.match(pattern, index):
            return "{,n} is not supported: write {0,n}"
        elif pattern.startswith("(?", index):
            problem = _group(pattern, index + 2)
            if problem:
                return problem
        index += 1
    return None


def _group(pattern: str, index: int) -> str | None:
    if pattern.startswith((":", "P<"), index):
        return None
    end = index
    while end < len(pattern) and pattern[end] not in ":)":
        end += 1
    flags = pattern[index:end]
    if flags and set(flags) <= FLAGS:
        return None
    if flags.startswith(("=", "!", "<=", "<!")):
        return "lookahead and lookbehind are not supported"
    return f"(?{flags}… is not supported (flags may be i, m and s)"


def _walk(items: Any, multiplier: int) -> str | None:
    for op, argument in items:
        if op in (constants.ASSERT, constants.ASSERT_NOT):
            return "lookahead and lookbehind are not supported"
        if op in (constants.GROUPREF, constants.GROUPREF_EXISTS):
            return "backreferences are not supported"
        if op in (constants.ATOMIC_GROUP, constants.POSSESSIVE_REPEAT):
            return "atomic groups and possessive repetitions are not supported"
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            low, high, sub = argument
            count = max(low, 1 if high == constants.MAXREPEAT else high)
            if count * multiplier > MAX_REPEAT:
                return f"repetitions count at most {MAX_REPEAT} times, nested ones included"
            problem = _walk(sub, count * multiplier)
        elif op == constants.SUBPATTERN:
            problem = _walk(argument[-1], multiplier)
        elif op == constants.BRANCH:
            problem = next((p for p in (_walk(branch, multiplier) for branch in argument[1]) if p), None)
        else:
            problem = None
        if problem:
            return problem
    return None
