"""ClickHouse's meaning where the printer, the interpreter and the dialects must read HogQL alike: which functions
truncate to which unit, what IN lists, how a string argument and a replacement are read, how a float reads as text."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from query_languages.hogql import ast
from query_languages.hogql.errors import HogQLError

# PostHog's null-safe comparisons: what each answers when both sides are NULL, and when one is. `=`-like ones hold for
# two NULLs, `!=`-like ones for one NULL, orderings for neither, so that a comparison is never NULL (a missing
# property is "not Chrome").
NULL_ANSWERS: dict[str, tuple[bool, bool]] = {
    **dict.fromkeys(("=", "like", "ilike", "=~", "=~*"), (True, False)),
    **dict.fromkeys(("!=", "not like", "not ilike", "!~", "!~*"), (False, True)),
    **dict.fromkeys(("<", "<=", ">", ">="), (False, False)),
}
_FOLDED: dict[str, Callable[[Any, Any], Any]] = {"=": operator.eq, "!=": operator.ne, "<": operator.lt,
                                                 "<=": operator.le, ">": operator.gt, ">=": operator.ge}  # fmt: skip
# A date's text as ClickHouse's toDateOrNull reads it (the part it reads alike everywhere): year, month and day with
# `-`, `/` or nothing between, and an optional time, which is ignored. ClickHouse's Date holds 1970-01-01 to
# 2149-06-06: a date beyond is NULL here (ClickHouse clamps it), as is one that is no day of the calendar
# (ClickHouse rolls 2024-02-30 over to March).
DATE_TEXT = r"^([0-9]{4})[-/]?([0-9]{1,2})[-/]?([0-9]{1,2})(?: [0-9]{2}:[0-9]{2}:[0-9]{2})?$"
_DATE_TEXT = re.compile(DATE_TEXT)
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2149, 6, 6)
START_OF = {"toStartOfHour": "hour", "toStartOfDay": "day", "toStartOfWeek": "week", "toStartOfMonth": "month"}


def float_text(value: float) -> str:
    """A float as ClickHouse's toString prints a Float64: the shortest exact digits, plain for exponents from -6 to
    20 (`100`, `0.000001`, `100000000000000000000`), else `1e21` / `1.5e-7`; `-0`, `inf`, `-inf`, `nan`."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    sign = "-" if math.copysign(1, value) < 0 else ""
    if value == 0:
        return sign + "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent) - 1  # the exponent in scientific notation
    digits = digits.rstrip("0")
    if point > 20 or point < -6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{point}"
    if point < 0:
        return f"{sign}0.{'0' * (-point - 1)}{digits}"
    whole, fraction = digits[: point + 1].ljust(point + 1, "0"), digits[point + 1 :]
    return sign + whole + ("." + fraction if fraction else "")


def in_list(node: ast.Compare) -> tuple[ast.Constant, ...]:
    """The constants on the right of IN: a tuple or array, a placeholder's list, or one value (`in ('one')`)."""
    right = node.right
    items = right.items if isinstance(right, ast.Tuple | ast.Array) else None
    if items is None and isinstance(right, ast.Constant):
        values = right.value if isinstance(right.value, tuple) else (right.value,)
        items = tuple(ast.Constant(v, start=right.start, end=right.end) for v in values)
    if items is None or not all(isinstance(i, ast.Constant) for i in items):
        raise HogQLError("IN needs a list of constants, such as ('a', 'b').", right.start, right.end)
    return items


def string_argument(node: ast.Call, index: int, what: str) -> str:
    arg = node.args[index]
    if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
        raise HogQLError(f"{node.name}() needs {what} as a string constant.", arg.start, arg.end)
    return arg.value


def replacement_items(text: str) -> list[str | int]:
    """A ClickHouse replacement read as literal characters and group numbers: `\\0` is the match, `\\1`… its
    groups, and a backslash before anything else stands for that character."""
    items: list[str | int] = []
    index = 0
    while index < len(text):
        character = text[index]
        if character == "\\" and index + 1 < len(text):
            index += 1
            character = text[index]
            if character in "0123456789":
                items.append(int(character))
                index += 1
                continue
        items.append(character)
        index += 1
    return items


def clickhouse_replacement(text: str) -> tuple[str, str]:
    """A ClickHouse replacement for PostgreSQL and for Python's `re`."""
    postgres, python = [], []
    for item in replacement_items(text):
        if isinstance(item, int):
            postgres.append("\\&" if item == 0 else f"\\{item}")
            python.append(f"\\g<{item}>")
        else:
            postgres.append("\\\\" if item == "\\" else item)
            python.append("\\\\" if item == "\\" else item)
    return "".join(postgres), "".join(python)


def folded_comparison(node: ast.Compare) -> bool | None:
    """A comparison of two constants, decided as PostHog decides it before the query runs, by Python's comparison
    (`NULL = NULL` holds, `'1' = 1` does not, an ordering with NULL is false); None when it is not one."""
    left, right = node.left, node.right
    if node.op not in _FOLDED or not isinstance(left, ast.Constant) or not isinstance(right, ast.Constant):
        return None
    if isinstance(left.value, tuple) or isinstance(right.value, tuple):
        return None
    if node.op not in ("=", "!=") and (left.value is None or right.value is None):
        return False
    try:
        return bool(_FOLDED[node.op](left.value, right.value))
    except TypeError:
        raise HogQLError(f"Cannot compare {type(left.value).__name__} with {type(right.value).__name__}.",
                         node.start, node.end) from None  # fmt: skip


def date_of_text(text: str) -> date | None:
    """What HogQL's toDate makes of a text (ClickHouse's toDateOrNull, as `DATE_TEXT` says)."""
    found = _DATE_TEXT.match(text)
    if found is None:
        return None
    try:
        day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
    return day if FIRST_DATE <= day <= LAST_DATE else None
