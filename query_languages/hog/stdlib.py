"""Hog's standard library: the functions a program judging an event needs, with PostHog's semantics where they
are documented (`toInt('x')` is null, `substring` counts from 1, `concat` reads null as '', `match` is false for
null, `length(null)` is an error). Nothing here reaches outside the values it is given: no I/O, no clock, no
randomness.

Every function takes the run first, to charge what it creates to the memory budget (before creating it when the
result can be larger than the arguments) and the work it does to the step budget. Regular expressions run on RE2
(`query_languages.regex`), whose time is linear in the text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from query_languages.hog.calls import call_function
from query_languages.hog.errors import HogCompileError, HogRuntimeError
from query_languages.hog.sandbox import Run
from query_languages.hog.values import (
    Builtin,
    HogFunction,
    check_int,
    contains,
    to_json,
    to_text,
    truthy,
    type_name,
)
from query_languages.regex import RegexError, compile_pattern, like_pattern

MAX_PATTERN_LENGTH = 10_000


def _fail(message: str) -> HogRuntimeError:
    return HogRuntimeError(f"Runtime error: {message}")


def _string(name: str, value: Any, position: str = "argument") -> str:
    if type(value) is not str:
        raise _fail(f"{name}: the {position} must be a string, got {type_name(value)}")
    return value


def _integer(name: str, value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise _fail(f"{name}: expected an integer, got {type_name(value)}")


# -- reading and writing fields
def get_item(container: Any, key: Any) -> Any:
    """`a.b`, `a[i]`: a dict's key (null when missing), an array's or tuple's item counted from 1 (from the end
    when negative; null when out of range), null for anything else (null itself included)."""
    if type(container) is dict:
        found = container.get(key) if isinstance(key, str | int | float | bool) else None
        if found is None and type(key) is int:
            return container.get(str(key))
        return found
    if isinstance(container, list | tuple):
        if type(key) is not int:
            if type(key) is float and key.is_integer():
                key = int(key)
            else:
                return None
        size = len(container)
        if 0 < key <= size:
            return container[key - 1]
        if 0 > key >= -size:
            return container[key]
        if key == 0:
            raise _fail("Hog arrays start from index 1")
        return None
    return None


def dict_key(key: Any) -> Any:
    if isinstance(key, str | int | float | bool):
        return key
    if key is None:
        return "null"
    raise _fail(f"Object keys must be strings or numbers, got {type_name(key)}")


def set_item(run: Run, container: Any, key: Any, value: Any) -> None:
    if type(container) is dict:
        key = dict_key(key)
        if key not in container:
            run.alloc(32)
        container[key] = value
        return
    if type(container) is list:
        if type(key) is not int:
            raise _fail(f"Array index must be an integer, got {type_name(key)}")
        size = len(container)
        if 0 < key <= size:
            container[key - 1] = value
        elif 0 > key >= -size:
            container[key] = value
        elif key == 0:
            raise _fail("Hog arrays start from index 1")
        else:
            raise _fail(f"Index {key} out of range for array of length {size}")
        return
    raise _fail(f"Can not set property {to_text(run, key)!r} on a value of type {type_name(container)}")


# -- regular expressions
def _pattern(pattern: str, *, ignore_case: bool) -> Any:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _fail(f"A pattern is longer than {MAX_PATTERN_LENGTH:,} characters")
    try:
        return compile_pattern(pattern, ignore_case=ignore_case)
    except RegexError as error:
        raise _fail(f"Invalid regex pattern: {error}") from None


def search(run: Run, pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    if not text or not pattern:
        return False  # an empty text or pattern matches nothing, as in PostHog's VMs
    return _pattern(pattern, ignore_case=ignore_case).search(text) is not None


def check_pattern_constant(pattern: Any) -> None:
    if type(pattern) is str:
        try:
            compile_pattern(pattern)
        except RegexError as error:
            raise HogCompileError(f"Invalid regex pattern {pattern!r}: {error}") from None


# -- the functions
def _length(run: Run, value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    if value is None:
        return None
    raise _fail(f"length: a value of type {type_name(value)} has no length")


def _empty(run: Run, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | tuple | dict):
        return len(value) == 0
    return False


def _lower(run: Run, value: Any) -> Any:
    if value is None:
        return None
    result = _string("lower", value).lower()
    run.alloc(len(result))
    return result


def _upper(run: Run, value: Any) -> Any:
    if value is None:
        return None
    result = _string("upper", value).upper()
    run.alloc(len(result))
    return result


def _trimmer(name: str, how: str) -> Callable[..., Any]:
    def trim(run: Run, value: Any, characters: Any = None) -> Any:
        if value is None:
            return None
        text = _string(name, value)
        chars = None if characters is None else _string(name, characters, "second argument")
        result = text.strip(chars) if how == "both" else text.lstrip(chars) if how == "left" else text.rstrip(chars)
        run.alloc(len(result))
        return result

    return trim


def _concat(run: Run, *values: Any) -> str:
    parts = ["" if value is None else to_text(run, value) for value in values]
    run.alloc(sum(len(part) for part in parts))
    return "".join(parts)


def _substring(run: Run, value: Any, start: Any, length: Any = None) -> Any:
    if value is None:
        return None
    text = _string("substring", value)
    offset = _integer("substring", start)
    size = len(text)
    if offset > 0:
        begin = offset - 1
    elif offset < 0:
        begin = max(size + offset, 0)
    else:
        return ""
    if length is None:
        result = text[begin:]
    else:
        count = _integer("substring", length)
        result = text[begin : begin + count] if count >= 0 else text[begin : max(size + count, begin)]
    run.alloc(len(result))
    return result


def _position(run: Run, haystack: Any, needle: Any) -> int:
    if type(haystack) is not str or needle is None:
        return 0
    return haystack.find(needle if type(needle) is str else to_text(run, needle)) + 1


def _position_case_insensitive(run: Run, haystack: Any, needle: Any) -> int:
    if type(haystack) is not str or needle is None:
        return 0
    needle_text = needle if type(needle) is str else to_text(run, needle)
    run.alloc(len(haystack) + len(needle_text))
    return haystack.lower().find(needle_text.lower()) + 1


def like_match(text: Any, pattern: Any, *, ignore_case: bool) -> bool:
    """SQL's LIKE: `%` any text, `_` one character; false when either side is null."""
    if text is None or pattern is None:
        return False
    if type(text) is not str or type(pattern) is not str:
        name = "ilike" if ignore_case else "like"
        raise _fail(f"{name} needs strings, got {type_name(text)} and {type_name(pattern)}")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _fail(f"A pattern is longer than {MAX_PATTERN_LENGTH:,} characters")
    try:
        # found anywhere in the text, as PostHog's VMs match LIKE ('banana' like 'n' is true), not SQL's whole text
        return like_pattern(pattern, ignore_case=ignore_case).search(text) is not None
    except RegexError as error:
        raise _fail(f"Invalid like pattern: {error}") from None


def _like_function(ignore_case: bool) -> Callable[..., Any]:
    def like(run: Run, text: Any, pattern: Any) -> bool:
        return like_match(text, pattern, ignore_case=ignore_case)

    return like


def _match(run: Run, text: Any, pattern: Any) -> bool:
    if text is None or pattern is None:
        return False
    return search(run, _string("match", pattern, "pattern"), _string("match", text, "input"))


def _replacer(name: str, once: bool) -> Callable[..., Any]:
    def replace(run: Run, value: Any, needle: Any, replacement: Any) -> Any:
        if value is None:
            return None
        text = _string(name, value)
        find = _string(name, needle, "needle")
        put = _string(name, replacement, "replacement")
        if not find:
            return text  # as ClickHouse: an empty needle replaces nothing
        count = min(text.count(find), 1) if once else text.count(find)
        run.alloc(len(text) + count * max(len(put) - len(find), 0))
        return text.replace(find, put, 1) if once else text.replace(find, put)

    return replace


def _split_by_string(run: Run, separator: Any, value: Any, max_parts: Any = None) -> Any:
    if value is None:
        return None
    text = _string("splitByString", value, "second argument")
    split = _string("splitByString", separator, "separator")
    run.alloc(64 + len(text) + 16 * (len(text) + 1 if not split else text.count(split) + 1))
    parts = list(text) if not split else text.split(split)
    if max_parts is not None:
        limit = _integer("splitByString", max_parts)
        if limit > 0:
            parts = parts[:limit]
    return parts


def _to_string(run: Run, value: Any, *_timezone: Any) -> str:
    result = to_text(run, value)
    run.alloc(len(result))
    return result


def _to_int(run: Run, value: Any) -> Any:
    try:
        if value is None or isinstance(value, list | tuple | dict | HogFunction | Builtin):
            return None
        if type(value) is str and len(value) > 40:  # longer is out of range anyway; int() of it costs time
            return None
        result = int(value)
        return check_int(result)
    except (ValueError, OverflowError, HogRuntimeError):
        return None


def _to_float(run: Run, value: Any) -> Any:
    try:
        if value is None or isinstance(value, list | tuple | dict | HogFunction | Builtin):
            return None
        if type(value) is str and len(value) > 400:
            return None
        return float(value)
    except (ValueError, OverflowError):
        return None


def _json_parse(run: Run, value: Any) -> Any:
    text = _string("jsonParse", value)
    # Parsed values take several times their text's size in Python; charged before, as an estimate (at least
    # what their refunds can give back: 16 bytes an array item, 32 a dict entry, each 2 or more characters).
    run.alloc(8 * len(text) + 64)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise _fail(f"jsonParse: invalid JSON: {error}") from None


def _is_valid_json(run: Run, value: Any) -> bool:
    if type(value) is not str:
        return False
    run.alloc(4 * len(value) + 64)
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True


def _json_stringify(run: Run, value: Any, indent: Any = None) -> str:
    return to_json(run, value, indent if type(indent) is int and 0 < indent <= 16 else None)


def _has(run: Run, collection: Any, item: Any) -> bool:
    if not isinstance(collection, list | tuple):
        return False
    return contains(run, collection, item)


def _keys(run: Run, value: Any) -> list[Any]:
    if isinstance(value, dict):
        run.alloc(64 + 16 * len(value))
        return list(value)
    if isinstance(value, list | tuple):
        run.alloc(64 + 16 * len(value))
        return list(range(len(value)))  # from 0, as PostHog's VMs give them (though `value[i]` counts from 1)
    return []


def _values(run: Run, value: Any) -> list[Any]:
    if isinstance(value, dict | list | tuple):
        run.alloc(64 + 16 * len(value))
        return list(value.values()) if isinstance(value, dict) else list(value)
    return []


def _callable(name: str, function: Any) -> Any:
    if not isinstance(function, HogFunction | Builtin):
        raise _fail(f"{name}: the first argument must be a function, got {type_name(function)}")
    return function


def _array(name: str, value: Any) -> list[Any] | tuple[Any, ...]:
    if value is None:
        return []  # the array functions read null as an empty array
    if not isinstance(value, list | tuple):
        raise _fail(f"{name}: the array argument must be an array, got {type_name(value)}")
    return value


def _array_map(run: Run, function: Any, values: Any) -> list[Any]:
    function = _callable("arrayMap", function)
    items = _array("arrayMap", values)
    run.alloc(64 + 16 * len(items))
    return [call_function(run, function, [item]) for item in items]


def _array_filter(run: Run, function: Any, values: Any) -> list[Any]:
    function = _callable("arrayFilter", function)
    items = _array("arrayFilter", values)
    run.alloc(64 + 16 * len(items))
    return [item for item in items if truthy(call_function(run, function, [item]))]


def _array_exists(run: Run, function: Any, values: Any) -> bool:
    function = _callable("arrayExists", function)
    return any(truthy(call_function(run, function, [item])) for item in _array("arrayExists", values))


def _array_count(run: Run, function: Any, values: Any) -> int:
    function = _callable("arrayCount", function)
    return sum(1 for item in _array("arrayCount", values) if truthy(call_function(run, function, [item])))


def _array_reduce(run: Run, function: Any, values: Any, initial: Any) -> Any:
    function = _callable("arrayReduce", function)
    accumulator = initial
    for item in _array("arrayReduce", values):
        accumulator = call_function(run, function, [accumulator, item])
    return accumulator


def _push_back(run: Run, values: Any, item: Any) -> list[Any]:
    items = list(values) if isinstance(values, list | tuple) else []
    run.alloc(64 + 16 * (len(items) + 1))
    items.append(item)
    return items


def _push_front(run: Run, values: Any, item: Any) -> list[Any]:
    items = list(values) if isinstance(values, list | tuple) else []
    run.alloc(64 + 16 * (len(items) + 1))
    return [item, *items]


def _pop_back(run: Run, values: Any) -> list[Any]:
    items = list(values[:-1]) if isinstance(values, list | tuple) else []
    run.alloc(64 + 16 * len(items))
    return items


def _pop_front(run: Run, values: Any) -> list[Any]:
    items = list(values[1:]) if isinstance(values, list | tuple) else []
    run.alloc(64 + 16 * len(items))
    return items


def _reverse_array(run: Run, values: Any) -> list[Any]:
    items = list(values)[::-1] if isinstance(values, list | tuple) else []
    run.alloc(64 + 16 * len(items))
    return items


def _reverse(run: Run, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return _reverse_array(run, value)
    if value is None:
        return None
    result = _string("reverse", value)[::-1]
    run.alloc(len(result))
    return result


def _array_string_concat(run: Run, values: Any, separator: Any = "") -> str:
    if not isinstance(values, list | tuple):
        return ""
    glue = _string("arrayStringConcat", separator, "separator")
    parts = ["" if item is None else to_text(run, item) for item in values]
    run.alloc(sum(len(part) for part in parts) + len(glue) * len(parts))
    return glue.join(parts)


def _index_of(run: Run, values: Any, item: Any) -> int:
    if not isinstance(values, list | tuple):
        return 0
    from query_languages.hog.values import equals

    for index, element in enumerate(values, start=1):
        run.tick()
        if equals(run, element, item):
            return index
    return 0


def _round(run: Run, value: Any, digits: Any = 0) -> Any:
    if value is None:
        return None
    places = _integer("round", digits)
    if type(value) is int:
        return value if places >= 0 else check_int(round(value, places))
    if type(value) is not float:
        raise _fail(f"round: expected a number, got {type_name(value)}")
    if not math.isfinite(value):
        return value
    return float(round(value, max(min(places, 30), -30)))


def _floor(run: Run, value: Any) -> Any:
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return float(math.floor(value))
    if type(value) is float:
        return value
    raise _fail(f"floor: expected a number, got {type_name(value)}")


def _abs(run: Run, value: Any) -> Any:
    if value is None:
        return None
    if type(value) is int:
        return check_int(abs(value))
    if type(value) is float:
        return abs(value)
    raise _fail(f"abs: expected a number, got {type_name(value)}")


def _extreme(name: str, pick_first: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def extreme(run: Run, left: Any, right: Any) -> Any:
        if left is None or right is None:
            return None
        numbers = type(left) in (int, float) and type(right) in (int, float)
        if not numbers and not (type(left) is str and type(right) is str):
            raise _fail(f"{name}: cannot compare {type_name(left)} and {type_name(right)}")
        return left if pick_first(left, right) else right

    return extreme


def _print(run: Run, *values: Any) -> None:
    line = " ".join(to_text(run, value) for value in values)
    run.alloc(len(line) + 64)
    if len(run.printed) >= run.limits.max_print_lines:
        raise _fail(f"A program may print at most {run.limits.max_print_lines:,} lines")
    run.printed.append(line)


def _typeof(run: Run, value: Any) -> str:
    return type_name(value)


def _if_null(run: Run, value: Any, alternative: Any) -> Any:
    return alternative if value is None else value


def _coalesce(run: Run, *values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _starts_with(run: Run, value: Any, prefix: Any) -> Any:
    if value is None or prefix is None:
        return None
    return _string("startsWith", value).startswith(_string("startsWith", prefix, "prefix"))


def _ends_with(run: Run, value: Any, suffix: Any) -> Any:
    if value is None or suffix is None:
        return None
    return _string("endsWith", value).endswith(_string("endsWith", suffix, "suffix"))


def _range(run: Run, first: Any, second: Any = None) -> list[int]:
    if second is None:
        start, stop = 0, _integer("range", first)
    else:
        start, stop = _integer("range", first), _integer("range", second)
    count = max(stop - start, 0)
    run.alloc(64 + 16 * count)
    return list(range(start, stop))


def _tuple(run: Run, *values: Any) -> tuple[Any, ...]:
    run.alloc(64 + 16 * len(values))
    return tuple(values)


def _builtin(name: str, impl: Callable[..., Any], min_args: int, max_args: int | None) -> tuple[str, Builtin]:
    return name, Builtin(name, impl, min_args, max_args)


BUILTINS: dict[str, Builtin] = dict(
    [
        _builtin("length", _length, 1, 1),
        _builtin("empty", _empty, 1, 1),
        _builtin("notEmpty", lambda run, value: not _empty(run, value), 1, 1),
        _builtin("lower", _lower, 1, 1),
        _builtin("upper", _upper, 1, 1),
        _builtin("trim", _trimmer("trim", "both"), 1, 2),
        _builtin("trimLeft", _trimmer("trimLeft", "left"), 1, 2),
        _builtin("trimRight", _trimmer("trimRight", "right"), 1, 2),
        _builtin("concat", _concat, 1, None),
        _builtin("substring", _substring, 2, 3),
        _builtin("position", _position, 2, 2),
        _builtin("positionCaseInsensitive", _position_case_insensitive, 2, 2),
        _builtin("like", _like_function(False), 2, 2),
        _builtin("ilike", _like_function(True), 2, 2),
        _builtin("notLike", lambda run, a, b: not _like_function(False)(run, a, b), 2, 2),
        _builtin("notILike", lambda run, a, b: not _like_function(True)(run, a, b), 2, 2),
        _builtin("match", _match, 2, 2),
        _builtin("replaceAll", _replacer("replaceAll", False), 3, 3),
        _builtin("replaceOne", _replacer("replaceOne", True), 3, 3),
        _builtin("splitByString", _split_by_string, 2, 3),
        _builtin("toString", _to_string, 1, 2),
        _builtin("toInt", _to_int, 1, 1),
        _builtin("toFloat", _to_float, 1, 1),
        _builtin("jsonParse", _json_parse, 1, 1),
        _builtin("jsonStringify", _json_stringify, 1, 2),
        _builtin("isValidJSON", _is_valid_json, 1, 1),
        _builtin("has", _has, 2, 2),
        _builtin("keys", _keys, 1, 1),
        _builtin("values", _values, 1, 1),
        _builtin("arrayMap", _array_map, 2, 2),
        _builtin("arrayFilter", _array_filter, 2, 2),
        _builtin("arrayExists", _array_exists, 2, 2),
        _builtin("arrayCount", _array_count, 2, 2),
        _builtin("arrayReduce", _array_reduce, 3, 3),
        _builtin("arrayPushBack", _push_back, 2, 2),
        _builtin("arrayPushFront", _push_front, 2, 2),
        _builtin("arrayPopBack", _pop_back, 1, 1),
        _builtin("arrayPopFront", _pop_front, 1, 1),
        _builtin("arrayReverse", _reverse_array, 1, 1),
        _builtin("arrayStringConcat", _array_string_concat, 1, 2),
        _builtin("indexOf", _index_of, 2, 2),
        _builtin("reverse", _reverse, 1, 1),
        _builtin("round", _round, 1, 2),
        _builtin("floor", _floor, 1, 1),
        _builtin("abs", _abs, 1, 1),
        _builtin("min2", _extreme("min2", lambda a, b: a <= b), 2, 2),
        _builtin("max2", _extreme("max2", lambda a, b: a >= b), 2, 2),
        _builtin("print", _print, 0, None),
        _builtin("typeof", _typeof, 1, 1),
        _builtin("ifNull", _if_null, 2, 2),
        _builtin("coalesce", _coalesce, 1, None),
        _builtin("isNull", lambda run, value: value is None, 1, 1),
        _builtin("isNotNull", lambda run, value: value is not None, 1, 1),
        _builtin("startsWith", _starts_with, 2, 2),
        _builtin("endsWith", _ends_with, 2, 2),
        _builtin("range", _range, 1, 2),
        _builtin("tuple", _tuple, 0, None),
    ]
)
