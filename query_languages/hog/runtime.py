"""A checked Hog tree built into Python closures once, then run under a sandbox's limits.

Tree nodes (lists, as `parser.py` writes them and JSON stores them):
  statements: ["block", [s…]]  ["let", name, e|null]  ["assign", target, e]  ["expr", e]  ["if", c, s, s|null]
              ["while", c, s]  ["for", init|null, c|null, step|null, s]  ["forin", key|null, value, e, s]
              ["fun", name, [params], block]  ["return", e|null]  ["break"]  ["continue"]
  expressions: ["const", v]  ["var", name]  ["get", e, key, nullish]  ["call", callee, [args]]
              ["bin", op, a, b]  ["and", [e…]]  ["or", [e…]]  ["not", e]  ["neg", e]  ["coalesce", a, b]
              ["if_expr", c, a, b]  ["array", [e…]]  ["tuple", [e…]]  ["dict", [[k, v]…]]  ["lambda", [params], s]

Building resolves every name once: a local is a slot in its function's frame (a list: the enclosing frame first,
then the slots), a name from an enclosing function is a walk up a known number of frames, a standard-library call
is bound to its implementation, and anything else reads the globals passed to the run. Walking a tree node per
node for every event would cost several times more.

The sandbox (`Run`) counts a step for every loop iteration, every call and every value a walk visits, and checks
the clock at each step; it charges every string and collection the program creates to a memory budget before
(or, for results no bigger than their inputs, right after) creating it, and never refunds it: an over-estimate of
what the program holds, so what it holds can never exceed the budget. Calls nest at most `max_call_depth` deep and
the tree at most `parser.MAX_DEPTH`, so Python's stack stays far from its limit.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable
from typing import Any

from query_languages.hog import stdlib
from query_languages.hog.calls import Return, arity_message, call_function
from query_languages.hog.errors import (
    HogCompileError,
    HogInternalError,
    HogMemoryError,
    HogRecursionError,
    HogRuntimeError,
)
from query_languages.hog.sandbox import Limits, Run
from query_languages.hog.values import (
    HogFunction,
    check_int,
    contains,
    equals,
    to_text,
    truthy,
    type_name,
    unify,
)

Expr = Callable[["Run", list[Any]], Any]
Stmt = Callable[["Run", list[Any]], Any]


# Refunds. Everything the program creates is charged when created. When an assignment replaces the only
# reference to a string or collection (the variable was all that held it: `s := s || 'x'`,
# `a := arrayPushBack(a, x)`), the value is freed, and what its creation was charged for it is given back:
# its length for a string, 16 bytes an item for an array or tuple, 32 an entry for a dict. Every place that
# creates one charges at least that. Without refunds, building a string or an array a piece at a time would
# be charged the square of its size. `sys.getrefcount` is 2 for such a value here (the local `old` and the
# call's argument); a value anything else holds (a global, a constant, another variable, a container) is
# never refunded. A value taken out of the globals and detached from them may be refunded once: the budget
# can grow by at most the size of the globals.
_refcount = sys.getrefcount
_SIZED = frozenset({str, list, tuple, dict})


def _size(value: Any) -> int:
    kind = value.__class__
    if kind is str:
        return len(value)
    return 32 * len(value) if kind is dict else 16 * len(value)


_BREAK = object()
_CONTINUE = object()


def _fail(message: str) -> HogRuntimeError:
    return HogRuntimeError(f"Runtime error: {message}")


class _Scope:
    __slots__ = ("names",)

    def __init__(self) -> None:
        self.names: dict[str, int] = {}


class _Function:
    """What building knows of the function it is in: its scopes and how many slots its frame needs."""

    def __init__(self, parent: _Function | None) -> None:
        self.parent = parent
        self.scopes: list[_Scope] = [_Scope()]
        self.slots = 0
        self.loops = 0

    def declare(self, name: str) -> int:
        scope = self.scopes[-1]
        if name in scope.names:
            raise HogCompileError(f"Variable `{name}` already declared in this scope")
        self.slots += 1
        scope.names[name] = self.slots
        return self.slots

    def find(self, name: str) -> tuple[int, int] | None:
        """(frames up, slot) of a name visible here."""
        function: _Function | None = self
        up = 0
        while function is not None:
            for scope in reversed(function.scopes):
                if name in scope.names:
                    return up, scope.names[name]
            function = function.parent
            up += 1
        return None


def _reader(up: int, slot: int) -> Expr:
    if up == 0:
        return lambda r, f: f[slot]
    if up == 1:
        return lambda r, f: f[0][slot]

    def read(r: Run, f: list[Any]) -> Any:
        for _ in range(up):
            f = f[0]
        return f[slot]

    return read


def _frame_of(up: int) -> Callable[[list[Any]], list[Any]]:
    if up == 0:
        return lambda f: f

    def frame(f: list[Any]) -> list[Any]:
        for _ in range(up):
            f = f[0]
        return f

    return frame


class Builder:
    """A checked tree to closures; HogCompileError for a tree that is not one (a stored form that was tampered
    with or written by another version)."""

    def __init__(self) -> None:
        self.function = _Function(None)

    def program(self, tree: Any) -> tuple[Stmt, int]:
        if not isinstance(tree, list) or not tree or tree[0] != "block":
            raise HogCompileError("Invalid compiled program")
        body = self.statements(tree[1])
        return body, self.function.slots

    # -- statements
    def statement(self, node: Any) -> Stmt:
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise HogCompileError("Invalid compiled program")
        method = getattr(self, f"s_{node[0]}", None)
        if method is None:
            raise HogCompileError(f"Invalid compiled program: unknown statement {node[0]!r}")
        return method(*node[1:])

    def statements(self, nodes: list[Any]) -> Stmt:
        self.function.scopes.append(_Scope())
        try:
            compiled = tuple([self.statement(node) for node in nodes])
        finally:
            self.function.scopes.pop()
        if len(compiled) == 1:
            return compiled[0]

        def block(r: Run, f: list[Any]) -> Any:
            for statement in compiled:
                result = statement(r, f)
                if result is not None:
                    return result
            return None

        return block

    def s_block(self, nodes: list[Any]) -> Stmt:
        if not isinstance(nodes, list):
            raise HogCompileError("Invalid compiled program")
        return self.statements(nodes)

    def s_let(self, name: str, value: Any) -> Stmt:
        compiled = self.expr(value) if value is not None else None
        slot = self.function.declare(self._name(name))  # after the value: `let x := x` reads the outer x
        if compiled is None:

            def let_null(r: Run, f: list[Any]) -> None:
                old = f[slot]
                f[slot] = None
                if old.__class__ in _SIZED and _refcount(old) == 2:
                    r.memory -= _size(old)

            return let_null

        def let(r: Run, f: list[Any]) -> None:  # run again by each pass of a loop
            value = compiled(r, f)
            old = f[slot]
            f[slot] = value
            if old.__class__ in _SIZED and _refcount(old) == 2:
                r.memory -= _size(old)

        return let

    def s_assign(self, target: Any, value: Any) -> Stmt:
        compiled = self.expr(value)
        if isinstance(target, list) and target[:1] == ["var"]:
            name = self._name(target[1])
            found = self.function.find(name)
            if found is None:
                raise HogCompileError(f"Variable `{name}` is not declared: declare it with `let {name} := …`")
            up, slot = found
            if up == 0:

                def assign_local(r: Run, f: list[Any]) -> None:
                    value = compiled(r, f)
                    old = f[slot]
                    f[slot] = value
                    if old.__class__ in _SIZED and _refcount(old) == 2:
                        r.memory -= _size(old)

                return assign_local
            frame = _frame_of(up)

            def assign_outer(r: Run, f: list[Any]) -> None:
                value = compiled(r, f)
                target = frame(f)
                old = target[slot]
                target[slot] = value
                if old.__class__ in _SIZED and _refcount(old) == 2:
                    r.memory -= _size(old)

            return assign_outer
        if isinstance(target, list) and target[:1] == ["get"] and len(target) == 4:
            container, key = self.expr(target[1]), self.expr(target[2])

            def assign_item(r: Run, f: list[Any]) -> None:
                stdlib.set_item(r, container(r, f), key(r, f), compiled(r, f))

            return assign_item
        raise HogCompileError("Invalid compiled program: bad assignment target")

    def s_expr(self, value: Any) -> Stmt:
        compiled = self.expr(value)

        def statement(r: Run, f: list[Any]) -> None:
            compiled(r, f)

        return statement

    def s_if(self, condition: Any, then: Any, otherwise: Any) -> Stmt:
        test, yes = self.expr(condition), self.scoped(then)
        no = self.scoped(otherwise) if otherwise is not None else None

        def if_(r: Run, f: list[Any]) -> Any:
            if truthy(test(r, f)):
                return yes(r, f)
            if no is not None:
                return no(r, f)
            return None

        return if_

    def scoped(self, node: Any) -> Stmt:
        """A statement in a scope of its own (an `if` or loop body that is a single `let` declares nothing
        outside it)."""
        self.function.scopes.append(_Scope())
        try:
            return self.statement(node)
        finally:
            self.function.scopes.pop()

    def loop_body(self, node: Any) -> Stmt:
        self.function.loops += 1
        try:
            return self.scoped(node)
        finally:
            self.function.loops -= 1

    def s_while(self, condition: Any, body: Any) -> Stmt:
        test, run_body = self.expr(condition), self.loop_body(body)

        def while_(r: Run, f: list[Any]) -> Any:
            while truthy(test(r, f)):
                r.tick()
                result = run_body(r, f)
                if result is not None:
                    if result is _BREAK:
                        break
                    if result is not _CONTINUE:
                        return result
            return None

        return while_

    def s_for(self, init: Any, condition: Any, step: Any, body: Any) -> Stmt:
        self.function.scopes.append(_Scope())  # the loop's variable lives in the loop
        try:
            start = self.statement(init) if init is not None else None
            test = self.expr(condition) if condition is not None else None
            advance = self.statement(step) if step is not None else None
            run_body = self.loop_body(body)
        finally:
            self.function.scopes.pop()

        def for_(r: Run, f: list[Any]) -> Any:
            if start is not None:
                start(r, f)
            while test is None or truthy(test(r, f)):
                r.tick()
                result = run_body(r, f)
                if result is not None:
                    if result is _BREAK:
                        break
                    if result is not _CONTINUE:
                        return result
                if advance is not None:
                    advance(r, f)
            return None

        return for_

    def s_forin(self, key: Any, value: Any, iterable: Any, body: Any) -> Stmt:
        source = self.expr(iterable)
        self.function.scopes.append(_Scope())
        try:
            key_slot = self.function.declare(self._name(key)) if key is not None else None
            value_slot = self.function.declare(self._name(value))
            run_body = self.loop_body(body)
        finally:
            self.function.scopes.pop()

        def for_in(r: Run, f: list[Any]) -> Any:
            collection = source(r, f)
            if isinstance(collection, dict):
                pairs: Any = list(collection.items())
            elif isinstance(collection, list | tuple):
                # keys as keys() gives them, from 0 (PostHog's), over a snapshot: the body may change the array
                pairs = list(enumerate(collection))
            elif collection is None:
                return None
            else:
                raise _fail(f"Cannot iterate over a value of type {type_name(collection)}")
            r.alloc(16 * len(pairs))
            for pair_key, pair_value in pairs:
                r.tick()
                if key_slot is not None:
                    f[key_slot] = pair_key
                f[value_slot] = pair_value
                result = run_body(r, f)
                if result is not None:
                    if result is _BREAK:
                        break
                    if result is not _CONTINUE:
                        return result
            return None

        return for_in

    def s_fun(self, name: Any, params: Any, body: Any) -> Stmt:
        slot = self.function.declare(self._name(name))  # declared first, so the body can call itself
        make = self.function_value(str(name), params, body)

        def fun(r: Run, f: list[Any]) -> None:
            f[slot] = make(r, f)

        return fun

    def s_return(self, value: Any) -> Stmt:
        if value is None:
            return lambda r, f: Return(None)
        compiled = self.expr(value)
        return lambda r, f: Return(compiled(r, f))

    def s_break(self) -> Stmt:
        if not self.function.loops:
            raise HogCompileError("`break` outside a loop")
        return lambda r, f: _BREAK

    def s_continue(self) -> Stmt:
        if not self.function.loops:
            raise HogCompileError("`continue` outside a loop")
        return lambda r, f: _CONTINUE

    def function_value(self, name: str, params: Any, body: Any) -> Expr:
        if not isinstance(params, list) or not all(isinstance(param, str) for param in params):
            raise HogCompileError("Invalid compiled program: bad parameters")
        outer = self.function
        self.function = _Function(outer)
        try:
            for param in params:
                self.function.declare(self._name(param))
            compiled = self.statement(body)
            slots = self.function.slots
        finally:
            self.function = outer
        names = tuple(params)

        def make(r: Run, f: list[Any]) -> HogFunction:
            r.alloc(64)
            return HogFunction(name, names, slots, compiled, f)

        return make

    # -- expressions
    def expr(self, node: Any) -> Expr:
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise HogCompileError("Invalid compiled program")
        method = getattr(self, f"e_{node[0]}", None)
        if method is None:
            raise HogCompileError(f"Invalid compiled program: unknown expression {node[0]!r}")
        return method(*node[1:])

    def _name(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise HogCompileError("Invalid compiled program: bad name")
        return name

    def e_const(self, value: Any) -> Expr:
        if not isinstance(value, str | int | float | bool | type(None)):
            raise HogCompileError("Invalid compiled program: bad constant")
        return lambda r, f: value

    def e_var(self, name: Any) -> Expr:
        name = self._name(name)
        found = self.function.find(name)
        if found is not None:
            return _reader(*found)
        builtin = stdlib.BUILTINS.get(name)

        def read_global(r: Run, f: list[Any]) -> Any:
            globals_ = r.globals
            if name in globals_:
                return globals_[name]
            if builtin is not None:
                return builtin
            raise _fail(f"Global variable not found: {name}")

        return read_global

    def e_get(self, container: Any, key: Any, nullish: Any = False) -> Expr:
        source, read_key = self.expr(container), self.expr(key)
        if isinstance(key, list) and key[:1] == ["const"]:
            constant = key[1]
            return lambda r, f: stdlib.get_item(source(r, f), constant)
        return lambda r, f: stdlib.get_item(source(r, f), read_key(r, f))

    def e_call(self, callee: Any, args: Any) -> Expr:
        if not isinstance(args, list):
            raise HogCompileError("Invalid compiled program")
        compiled = tuple([self.expr(arg) for arg in args])
        if isinstance(callee, list) and callee[:1] == ["var"] and self.function.find(self._name(callee[1])) is None:
            name = callee[1]
            builtin = stdlib.BUILTINS.get(name)
            if builtin is None:
                raise HogCompileError(f"Hog function `{name}` is not implemented")
            if len(args) < builtin.min_args or (builtin.max_args is not None and len(args) > builtin.max_args):
                raise HogCompileError(arity_message(builtin, len(args)))
            impl = builtin.impl
            if len(compiled) == 1:
                (first,) = compiled
                return lambda r, f: impl(r, first(r, f))
            if len(compiled) == 2:
                first, second = compiled
                return lambda r, f: impl(r, first(r, f), second(r, f))
            return lambda r, f: impl(r, *[arg(r, f) for arg in compiled])
        function = self.expr(callee)
        return lambda r, f: call_function(r, function(r, f), [arg(r, f) for arg in compiled])

    def e_lambda(self, params: Any, body: Any) -> Expr:
        return self.function_value("lambda", params, body)

    def e_and(self, items: Any) -> Expr:
        compiled = tuple([self.expr(item) for item in items])

        def and_(r: Run, f: list[Any]) -> bool:
            for item in compiled:  # noqa: SIM110 - a loop, not all(): no C frames between nested evaluations
                if not truthy(item(r, f)):
                    return False
            return True

        return and_

    def e_or(self, items: Any) -> Expr:
        compiled = tuple([self.expr(item) for item in items])

        def or_(r: Run, f: list[Any]) -> bool:
            for item in compiled:  # noqa: SIM110 - as in and_
                if truthy(item(r, f)):
                    return True
            return False

        return or_

    def e_not(self, value: Any) -> Expr:
        compiled = self.expr(value)
        return lambda r, f: not truthy(compiled(r, f))

    def e_neg(self, value: Any) -> Expr:
        compiled = self.expr(value)

        def negate(r: Run, f: list[Any]) -> Any:
            operand = compiled(r, f)
            if operand is None:
                return None
            if type(operand) is int:
                return check_int(-operand)
            if type(operand) is float:
                return -operand
            raise _fail(f"Cannot negate a value of type {type_name(operand)}")

        return negate

    def e_coalesce(self, left: Any, right: Any) -> Expr:
        first, second = self.expr(left), self.expr(right)

        def coalesce(r: Run, f: list[Any]) -> Any:
            value = first(r, f)
            return second(r, f) if value is None else value

        return coalesce

    def e_if_expr(self, condition: Any, then: Any, otherwise: Any) -> Expr:
        test, yes, no = self.expr(condition), self.expr(then), self.expr(otherwise)
        return lambda r, f: yes(r, f) if truthy(test(r, f)) else no(r, f)

    def e_array(self, items: Any) -> Expr:
        compiled = tuple([self.expr(item) for item in items])
        size = 64 + 16 * len(compiled)

        def array(r: Run, f: list[Any]) -> list[Any]:
            r.alloc(size)
            return [item(r, f) for item in compiled]

        return array

    def e_tuple(self, items: Any) -> Expr:
        compiled = tuple([self.expr(item) for item in items])
        size = 64 + 16 * len(compiled)

        def tuple_(r: Run, f: list[Any]) -> tuple[Any, ...]:
            r.alloc(size)
            return tuple([item(r, f) for item in compiled])

        return tuple_

    def e_dict(self, pairs: Any) -> Expr:
        if not isinstance(pairs, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
            raise HogCompileError("Invalid compiled program")
        compiled = tuple((self.expr(key), self.expr(value)) for key, value in pairs)
        size = 64 + 32 * len(compiled)

        def dict_(r: Run, f: list[Any]) -> dict[Any, Any]:
            r.alloc(size)
            out: dict[Any, Any] = {}
            for key, value in compiled:
                out[stdlib.dict_key(key(r, f))] = value(r, f)
            return out

        return dict_

    def e_bin(self, operator: Any, left: Any, right: Any) -> Expr:
        implementation = _OPERATORS.get(operator)
        if implementation is None:
            raise HogCompileError(f"Invalid compiled program: unknown operator {operator!r}")
        first, second = self.expr(left), self.expr(right)
        if isinstance(right, list) and right[:1] == ["const"] and operator in ("=~", "!~", "=~*", "!~*"):
            stdlib.check_pattern_constant(right[1])  # a bad constant pattern is a compile error
        return lambda r, f: implementation(r, first(r, f), second(r, f))


# -- operators
def _number_pair(operator: str, left: Any, right: Any) -> None:
    raise _fail(f"Cannot apply {operator} to {type_name(left)} and {type_name(right)}")


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _add(r: Run, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if _is_number(left) and _is_number(right):
        result = left + right
        return check_int(result) if type(result) is int else result
    if type(left) is str and type(right) is str:
        r.alloc(len(left) + len(right))
        return left + right
    return _number_pair("+", left, right)


def _arithmetic(operator: str) -> Callable[[Run, Any, Any], Any]:
    def apply(r: Run, left: Any, right: Any) -> Any:
        if left is None or right is None:
            return None
        if not (_is_number(left) and _is_number(right)):
            return _number_pair(operator, left, right)
        if operator == "-":
            result = left - right
        elif operator == "*":
            result = left * right
        elif right == 0:
            raise _fail("Division by zero")
        elif operator == "/":
            result = left / right
        elif type(left) is int and type(right) is int:
            # the remainder takes the dividend's sign (-7 % 3 is -1), as in PostHog's VMs, not Python's
            result = abs(left) % abs(right)
            result = -result if left < 0 else result
        else:
            result = math.fmod(left, right)
        return check_int(result) if type(result) is int else result

    return apply


def _concat(r: Run, left: Any, right: Any) -> str:
    left_text = "" if left is None else to_text(r, left)
    right_text = "" if right is None else to_text(r, right)
    r.alloc(len(left_text) + len(right_text))
    return left_text + right_text


def _compare(operator: str) -> Callable[[Run, Any, Any], Any]:
    def compare(r: Run, left: Any, right: Any) -> bool:
        if left is None or right is None:
            # null orders as 0 beside a number (`length(null) < 3` is true in PostHog), and beside nothing else
            if left is None and right is None:
                return operator in ("<=", ">=")
            if not (_is_number(left) or _is_number(right)):
                return False
            left, right = (0 if left is None else left), (0 if right is None else right)
        elif type(left) is not type(right):
            left, right = unify(left, right)
        if (_is_number(left) and _is_number(right)) or (type(left) is str and type(right) is str):
            if operator == "<":
                return bool(left < right)
            if operator == ">":
                return bool(left > right)
            if operator == "<=":
                return bool(left <= right)
            return bool(left >= right)
        raise _fail(f"Cannot compare {type_name(left)} and {type_name(right)} with {operator}")

    return compare


def _regex(ignore_case: bool, negate: bool) -> Callable[[Run, Any, Any], Any]:
    def regex(r: Run, text: Any, pattern: Any) -> bool:
        if text is None or pattern is None:
            return False
        if type(text) is not str or type(pattern) is not str:
            raise _fail("Regex operators need strings")
        found = stdlib.search(r, pattern, text, ignore_case=ignore_case)
        return found != negate

    return regex


def _like(ignore_case: bool, negate: bool) -> Callable[[Run, Any, Any], Any]:
    def like(r: Run, text: Any, pattern: Any) -> bool:
        if text is None or pattern is None:
            return False
        return stdlib.like_match(text, pattern, ignore_case=ignore_case) != negate

    return like


_OPERATORS: dict[str, Callable[[Run, Any, Any], Any]] = {
    "+": _add,
    "-": _arithmetic("-"),
    "*": _arithmetic("*"),
    "/": _arithmetic("/"),
    "%": _arithmetic("%"),
    "||": _concat,
    "==": lambda r, a, b: equals(r, a, b),
    "!=": lambda r, a, b: not equals(r, a, b),
    "<": _compare("<"),
    ">": _compare(">"),
    "<=": _compare("<="),
    ">=": _compare(">="),
    "=~": _regex(False, False),
    "!~": _regex(False, True),
    "=~*": _regex(True, False),
    "!~*": _regex(True, True),
    "like": _like(False, False),
    "ilike": _like(True, False),
    "not like": _like(False, True),
    "not ilike": _like(True, True),
    "in": lambda r, a, b: contains(r, b, a),
    "not in": lambda r, a, b: not contains(r, b, a),
}

# A run's Python stack: the tree nests at most parser.MAX_DEPTH and calls max_call_depth deep, a few Python frames
# each, more than Python's default limit of 1,000 allows. The limit is raised while any compile or run is in
# progress and put back after the last: a process-wide setting, kept no longer than needed (on Python 3.11 it
# also bounds C recursion elsewhere, such as json.loads of deep input). The evaluation avoids C frames between
# nested evaluations (loops, not all()/any() over generators), so the depth it uses costs little C stack.
RECURSION_LIMIT = 20_000


class _DeepStack:
    """`with deep_stack:` around a compile or a run (a class, not @contextmanager: it is on every run's path)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved = 0

    def __enter__(self) -> None:
        with self.lock:
            if self.users == 0:
                self.saved = sys.getrecursionlimit()
                if self.saved < RECURSION_LIMIT:
                    sys.setrecursionlimit(RECURSION_LIMIT)
            self.users += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.saved < RECURSION_LIMIT and sys.getrecursionlimit() == RECURSION_LIMIT:
                sys.setrecursionlimit(self.saved)


deep_stack = _DeepStack()


def execute(body: Stmt, slots: int, globals_: dict[str, Any], limits: Limits) -> tuple[Any, list[str]]:
    """Run a built program; (its return value, the lines it printed). Raises HogRuntimeError subclasses only."""
    run = Run(limits, globals_)
    frame: list[Any] = [None] * (slots + 1)
    try:
        result = body(run, frame)
    except HogRuntimeError as error:
        error.printed = run.printed
        raise
    except RecursionError:
        raise HogRecursionError("Runtime error: Maximum call stack depth exceeded", run.printed) from None
    except MemoryError:  # a backstop: the budget is meant to stop a program long before Python runs out
        raise HogMemoryError("Memory limit exceeded", run.printed) from None
    except Exception as unexpected:  # a bug of ours, not the program's: said so, never a bare traceback upward
        message = f"Runtime error: {type(unexpected).__name__}: {unexpected}"
        raise HogInternalError(message, run.printed) from unexpected
    value = result.value if type(result) is Return else None
    return value, run.printed
