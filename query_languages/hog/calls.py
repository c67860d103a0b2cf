"""Calling a Hog function value (a program's `fun` or lambda, or a standard-library function passed as a value):
shared by the evaluator and by the standard library's higher-order functions (arrayMap…)."""

from __future__ import annotations

from typing import Any

from query_languages.hog.errors import HogRecursionError, HogRuntimeError
from query_languages.hog.sandbox import Run
from query_languages.hog.values import Builtin, HogFunction, type_name


class Return:
    """What a `return` statement hands up through the blocks around it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _fail(message: str) -> HogRuntimeError:
    return HogRuntimeError(f"Runtime error: {message}")


def arity_message(builtin: Builtin, count: int) -> str:
    if builtin.max_args == builtin.min_args:
        expected = f"{builtin.min_args}"
    elif builtin.max_args is None:
        expected = f"at least {builtin.min_args}"
    else:
        expected = f"{builtin.min_args} to {builtin.max_args}"
    plural = "" if (builtin.max_args or builtin.min_args) == 1 else "s"
    return f"Function `{builtin.name}` takes {expected} argument{plural}, got {count}"


def call_function(run: Run, function: Any, args: list[Any]) -> Any:
    """Call a Hog value with `args` (lambdas passed to arrayMap and friends come through here too)."""
    if isinstance(function, HogFunction):
        params = function.params
        if len(args) > len(params):
            raise _fail(f"Function {function.name} takes {len(params)} arguments, got {len(args)}")
        run.tick()
        run.calls += 1
        if run.calls > run.limits.max_call_depth:
            raise HogRecursionError(f"Runtime error: Maximum call stack depth exceeded ({run.limits.max_call_depth})")
        frame = [function.parent, *args]
        frame.extend([None] * (function.slots - len(args)))
        result = function.body(run, frame)
        run.calls -= 1
        return result.value if type(result) is Return else None
    if isinstance(function, Builtin):
        if len(args) < function.min_args or (function.max_args is not None and len(args) > function.max_args):
            raise _fail(arity_message(function, len(args)))
        return function.impl(run, *args)
    raise _fail(f"Cannot call a value of type {type_name(function)}")
