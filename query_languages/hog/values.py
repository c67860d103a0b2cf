"""Hog's values as Python holds them, and the walks over them that a program can make expensive.

null, booleans, integers, floats and strings are Python's; arrays are lists, tuples tuples, dicts dicts with
string (or number) keys; functions are `HogFunction` (the program's own) or `Builtin`. Arrays and dicts are
shared by reference, so a program can build a structure whose printed form is exponentially larger than what it
holds (`a := [a, a]` twenty times) or that holds itself (`d.self := d`): every walk here (print, JSON, equality)
charges its run a step per value visited and its output's size to the memory budget as it goes, stops at
MAX_VALUE_DEPTH, and prints a value met again inside itself as `null`, as PostHog does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

from query_languages.hog.errors import HogRuntimeError
from query_languages.hog.sandbox import Run

# Values nest at most this deep (parsed JSON included); the walks recurse, so this also bounds Python's stack.
MAX_VALUE_DEPTH = 256
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_SCALARS = (str, int, float, bool, type(None))


class HogFunction:
    """A `fun` or lambda with the frame it was made in (what it can see of the enclosing function)."""

    __slots__ = ("body", "name", "params", "parent", "slots")

    def __init__(self, name: str, params: tuple[str, ...], slots: int, body: Callable[..., Any], parent: Any) -> None:
        self.name = name
        self.params = params
        self.slots = slots
        self.body = body
        self.parent = parent

    def __repr__(self) -> str:
        return f"fn<{self.name}({len(self.params)})>"


class Builtin:
    """A standard-library function used as a value (`arrayMap(toString, xs)`)."""

    __slots__ = ("impl", "max_args", "min_args", "name")

    def __init__(self, name: str, impl: Callable[..., Any], min_args: int, max_args: int | None) -> None:
        self.name = name
        self.impl = impl
        self.min_args = min_args
        self.max_args = max_args

    def __repr__(self) -> str:
        return f"fn<{self.name}({self.min_args})>"


def type_name(value: Any) -> str:
    """Hog's name for a value's type (what `typeof` returns)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, HogFunction | Builtin):
        return "function"
    return "unknown"


def truthy(value: Any) -> bool:
    """Whether `if`, `while`, `and`, `or`, `not` and `?:` take a value as true: null, false, 0 and '' are false,
    everything else (empty arrays and dicts included) true."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, int | float | str):
        return bool(value)
    return True


def check_int(value: int) -> int:
    """Hog's integers are 64-bit: a result outside is an error, never a Python big integer that grows each step
    (`x := x * x` would otherwise spend the budget inside one multiplication)."""
    if INT_MIN <= value <= INT_MAX:
        return value
    raise HogRuntimeError("Runtime error: Integer overflow")


def _too_deep() -> HogRuntimeError:
    return HogRuntimeError(f"Runtime error: Value nests more than {MAX_VALUE_DEPTH} levels deep")


def _escape_string(text: str) -> str:
    # Quoted as HogQL strings are: single quotes, backslash escapes.
    out = text.replace("\\", "\\\\").replace("'", "\\'")
    if any(character in out for character in "\n\t\r\b\f\0\a\v"):
        for raw, escaped in (("\n", "\\n"), ("\t", "\\t"), ("\r", "\\r"), ("\b", "\\b"), ("\f", "\\f"),
                             ("\0", "\\0"), ("\a", "\\a"), ("\v", "\\v")):  # fmt: skip
            out = out.replace(raw, escaped)
    return f"'{out}'"


def _scalar_text(value: Any, *, quote: bool) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _escape_string(value) if quote else value
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def float_text(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def to_text(run: Run, value: Any) -> str:
    """How `print`, `concat` and `toString` write a value: a string as it is, anything else as Hog prints it
    (strings inside quoted, `[1, 'a']`, `{'k': v}`, `(1, 2)`, `tuple(1)`, `true`, `null`, `fn<name(1)>`)."""
    if isinstance(value, _SCALARS):
        return _scalar_text(value, quote=False)
    parts: list[str] = []
    _print_into(run, value, parts, set(), 0)
    return "".join(parts)


def _print_into(run: Run, value: Any, out: list[str], marked: set[int], depth: int) -> None:
    run.tick()
    if isinstance(value, _SCALARS):
        text = _scalar_text(value, quote=True)
        run.alloc(len(text))
        out.append(text)
        return
    if isinstance(value, HogFunction | Builtin):
        out.append(repr(value))
        return
    if depth >= MAX_VALUE_DEPTH:
        raise _too_deep()
    if id(value) in marked:
        out.append("null")
        return
    marked.add(id(value))
    run.alloc(16)
    if isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(", ")
            _print_into(run, key, out, marked, depth + 1)
            out.append(": ")
            _print_into(run, item, out, marked, depth + 1)
        out.append("}")
    else:
        opening, closing = ("[", "]") if isinstance(value, list) else ("(" if len(value) > 1 else "tuple(", ")")
        out.append(opening)
        for index, item in enumerate(value):
            if index:
                out.append(", ")
            _print_into(run, item, out, marked, depth + 1)
        out.append(closing)
    marked.discard(id(value))


def to_json(run: Run, value: Any, indent: int | None = None) -> str:
    """`jsonStringify`: JSON as Python's json module writes it (PostHog's VM), tuples as arrays, functions as
    their printed name, a value met again inside itself as null, NaN and infinities as null."""
    plain = _plain(run, value, set(), 0, indent or 0)
    try:
        text = json.dumps(plain, indent=indent if indent and indent > 0 else None, ensure_ascii=True)
    except (ValueError, RecursionError) as error:  # pragma: no cover - _plain already bounded the depth
        raise HogRuntimeError(f"Runtime error: {error}") from None
    run.alloc(len(text))
    return text


def _plain(run: Run, value: Any, marked: set[int], depth: int, indent: int) -> Any:
    """`value` as JSON's types, charging its text's size as it goes: each value's own characters, and with an
    indent, the line and spaces it is written on (a wide indent on a deep structure multiplies its size)."""
    run.tick()
    if indent:
        run.alloc(indent * depth + 1)
    if isinstance(value, str):
        run.alloc(len(value) + 2)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _SCALARS):
        run.alloc(8)
        return value
    if isinstance(value, HogFunction | Builtin):
        return repr(value)
    if depth >= MAX_VALUE_DEPTH:
        raise _too_deep()
    if id(value) in marked:
        return None
    marked.add(id(value))
    run.alloc(16)
    try:
        if isinstance(value, dict):
            return {
                key if isinstance(key, str) else to_text(run, key): _plain(run, item, marked, depth + 1, indent)
                for key, item in value.items()
            }
        return [_plain(run, item, marked, depth + 1, indent) for item in value]
    finally:
        marked.discard(id(value))


def _number_text(text: str) -> float | None:
    if len(text) > 400:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def unify(left: Any, right: Any) -> tuple[Any, Any]:
    """Two scalars of different types made comparable as PostHog's VMs make them: a boolean beside a number is
    0 or 1; a number beside a numeric string compares with the string's number (`'1' = 1`); a boolean beside a
    string reads 'true'/'false' (any case) as booleans and any other string by whether it is empty. Anything
    else is returned as it is (and is then equal to nothing of another type)."""
    left_type, right_type = type(left), type(right)
    if left_type is bool and right_type in (int, float):
        return int(left), right
    if right_type is bool and left_type in (int, float):
        return left, int(right)
    if left_type in (int, float) and right_type is str:
        number = _number_text(right)
        return (left, right) if number is None else (left, number)
    if right_type in (int, float) and left_type is str:
        number = _number_text(left)
        return (left, right) if number is None else (number, right)
    if left_type is bool and right_type is str:
        lowered = right.lower()
        return left, (lowered == "true") if lowered in ("true", "false") else bool(right)
    if right_type is bool and left_type is str:
        lowered = left.lower()
        return (lowered == "true") if lowered in ("true", "false") else bool(left), right
    return left, right


def equals(run: Run, left: Any, right: Any, depth: int = 0) -> bool:
    """Hog's `=`: scalars after `unify` (1 = 1.0, '1' = 1, true = 1), null only equal to null, containers item by
    item."""
    if left is None or right is None:
        return left is right
    left_type, right_type = type(left), type(right)
    if left_type is right_type and left_type in (str, int, float, bool):
        return bool(left == right)
    if left_type in (str, int, float, bool) and right_type in (str, int, float, bool):
        left, right = unify(left, right)
        if (type(left) is str) != (type(right) is str):
            return False
        return bool(left == right)
    if left is right:
        return True
    run.tick()
    if depth >= MAX_VALUE_DEPTH:
        raise _too_deep()
    if isinstance(left, list | tuple) and left_type is right_type:
        if len(left) != len(right):
            return False
        for a, b in zip(left, right, strict=True):  # noqa: SIM110 - a loop, not all(): no C frames between levels
            if not equals(run, a, b, depth + 1):
                return False
        return True
    if isinstance(left, dict) and isinstance(right, dict):
        if len(left) != len(right):
            return False
        for key, item in left.items():  # noqa: SIM110 - as above
            if key not in right or not equals(run, item, right[key], depth + 1):
                return False
        return True
    return False


def contains(run: Run, collection: Any, item: Any) -> bool:
    """`x in collection` and `has`: membership by Hog's equality in arrays and tuples, keys in dicts."""
    if isinstance(collection, list | tuple):
        for element in collection:
            run.tick()
            if equals(run, element, item):
                return True
        return False
    if isinstance(collection, dict):
        return isinstance(item, str | int | float) and item in collection
    if type(collection) is str and item is not None:
        return (item if type(item) is str else to_text(run, item)) in collection  # 'a' in 'car'
    return False


def import_globals(globals_: dict[str, Any]) -> dict[str, Any]:
    """The caller's globals as Hog values, copied (a program may change what it is given, never the caller's
    data) and reduced to JSON's types through orjson, in C: the program can reach nothing but data. UUIDs and
    datetimes become their ISO text, tuples arrays; anything JSON cannot hold is a ValueError (the caller's
    mistake, not the program's)."""
    try:
        copied = orjson.loads(orjson.dumps(globals_, option=orjson.OPT_NON_STR_KEYS))
    except (orjson.JSONEncodeError, TypeError) as error:
        raise ValueError(f"Hog globals must be JSON-like data: {error}") from None
    if not isinstance(copied, dict):
        raise ValueError("Hog globals must be a dict")
    return copied
