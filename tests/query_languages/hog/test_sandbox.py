"""Hostile Hog programs end with a clear error within the sandbox's limits: never a hang, a RecursionError, a
MemoryError or a worker out of memory. Time bounds here are hang guards with room for a slow machine, not
measurements; on a loaded machine any program may reach the time limit before the limit it meets on an idle one,
so a timeout is always an acceptable end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from query_languages.hog import (
    HogCompileError,
    HogMemoryError,
    HogRecursionError,
    HogRuntimeError,
    HogStepLimitError,
    HogTimeoutError,
    Limits,
    compile_program,
    run,
)

DEFAULT = Limits()
SLACK_SECONDS = 3.0  # what a loaded machine may add to the limit before the clock is looked at again


def ended(source: str, limits: Limits = DEFAULT) -> tuple[HogRuntimeError, float]:
    started = time.monotonic()
    with pytest.raises(HogRuntimeError) as caught:
        run(source, {"output": "x"}, limits=limits)
    elapsed = time.monotonic() - started
    assert elapsed < limits.timeout_seconds + SLACK_SECONDS
    assert caught.value.kind != "internal", caught.value
    return caught.value, elapsed


# (name, program, error class, the message it starts with)
HOSTILE = [
    ("empty infinite loop", "while (true) {}", (HogStepLimitError, HogTimeoutError), ""),
    ("infinite for", "for (;;) { }", (HogStepLimitError, HogTimeoutError), ""),
    ("busy infinite loop", "let i := 0; while (true) { i := i + 1 }", (HogStepLimitError, HogTimeoutError), ""),
    (
        "doubling with concat",
        "let s := 'x'; while (true) { s := concat(s, s) }",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    ("doubling with ||", "let s := 'x'; while (true) { s := s || s }", HogMemoryError, "Memory limit exceeded"),
    ("doubling with +", "let s := 'x'; while (true) { s := s + s }", HogMemoryError, "Memory limit exceeded"),
    (
        "doubling kept in an array",
        "let s := 'x'; let a := []; while (true) { s := s || s; a := arrayPushBack(a, s) }",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    (
        "replaceAll bomb",
        "let s := 'aaaaaaaaaa'; while (true) { s := replaceAll(s, 'a', 'aa') }",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    ("f-string doubling", "let s := 'x'; while (true) { s := f'{s}{s}' }", HogMemoryError, "Memory limit exceeded"),
    (
        "array doubling",
        "let a := [1]; while (true) { a := arrayMap(x -> [x, x], a) }",
        (HogMemoryError, HogTimeoutError, HogStepLimitError),
        "",
    ),
    (
        "dict growth",
        "let d := {}; let i := 0; while (true) { d[toString(i)] := i; i := i + 1 }",
        (HogMemoryError, HogTimeoutError, HogStepLimitError),
        "",
    ),
    (
        "split of a growing text",
        "let s := 'ab'; while (true) { s := s || s; let p := splitByString('', s) }",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    (
        "closures holding doubling strings",
        "let fs := []; fun mk(s) { return () -> s } let s := 'x'; while (true) { s := s || s; fs := arrayPushBack(fs, mk(s)) }",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    (
        "copies of an array kept",
        "let all := []; let a := range(1000); while (true) { all := arrayPushBack(all, arrayPushBack(a, 1)) }",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    (
        "printing forever",
        "while (true) { print('spam') }",
        HogRuntimeError,
        "Runtime error: A program may print at most 1,000 lines",
    ),
    (
        "deep recursion",
        "fun f(n) { return f(n + 1) } return f(1)",
        HogRecursionError,
        "Runtime error: Maximum call stack depth exceeded",
    ),
    (
        "deep recursion of a lambda",
        "let f := null; f := (n) -> f(n + 1); return f(1)",
        HogRecursionError,
        "Runtime error: Maximum call stack depth exceeded",
    ),
    (
        "recursion through arrayMap",
        "fun f(x) { return arrayMap(f, [x]) } return f(1)",
        HogRecursionError,
        "Runtime error: Maximum call stack depth exceeded",
    ),
    (
        "mutual recursion",
        "let b := null; fun a(n) { return b(n) } b := (n) -> a(n); return a(1)",
        HogRecursionError,
        "Runtime error: Maximum call stack depth exceeded",
    ),
    (
        "exponential recursion",
        "fun f(n) { if (n = 0) { return 1 } return f(n - 1) + f(n - 1) } return f(60)",
        (HogStepLimitError, HogTimeoutError),
        "",
    ),
    (
        "squaring integers",
        "let x := 2; while (true) { x := x * x }",
        HogRuntimeError,
        "Runtime error: Integer overflow",
    ),
    (
        "JSON of a shared structure",
        "let a := [1]; for (let i := 0; i < 100; i := i + 1) { a := [a, a] } return jsonStringify(a)",
        (HogMemoryError, HogTimeoutError, HogStepLimitError),
        "",
    ),
    (
        "JSON of a deep structure with a wide indent",
        "let a := 1; for (let i := 0; i < 250; i := i + 1) { a := [a] } let b := []; "
        "for (let i := 0; i < 10000; i := i + 1) { b := arrayPushBack(b, a) } return jsonStringify(b, 16)",
        HogMemoryError,
        "Memory limit exceeded",
    ),
    (
        "printing a shared structure",
        "let a := [1]; for (let i := 0; i < 100; i := i + 1) { a := [a, a] } print(a)",
        (HogMemoryError, HogTimeoutError, HogStepLimitError),
        "",
    ),
    (
        "comparing shared structures",
        "let a := [1]; let b := [1]; for (let i := 0; i < 100; i := i + 1) { a := [a, a]; b := [b, b] } return a = b",
        (HogTimeoutError, HogStepLimitError),
        "",
    ),
    (
        "a shared structure in has()",
        "let a := [1]; let b := [1]; for (let i := 0; i < 100; i := i + 1) { a := [a, a]; b := [b, b] } return has([a], b)",
        (HogTimeoutError, HogStepLimitError),
        "",
    ),
    (
        "values nested 10,000 deep, printed",
        "let a := []; for (let i := 0; i < 10000; i := i + 1) { a := [a] } print(a)",
        HogRuntimeError,
        "Runtime error: Value nests more than 256 levels deep",
    ),
    (
        "values nested 10,000 deep, compared",
        "let a := []; let b := []; for (let i := 0; i < 10000; i := i + 1) { a := [a]; b := [b] } return a = b",
        HogRuntimeError,
        "Runtime error: Value nests more than 256 levels deep",
    ),
    (
        "JSON nested 100,000 deep",
        "let s := ''; for (let i := 0; i < 100000; i := i + 1) { s := s || '[' } return jsonParse(s)",
        HogRuntimeError,
        "Runtime error: jsonParse: invalid JSON",
    ),
    (
        "regex bait on a long text",
        "let s := 'a'; while (length(s) < 100000) { s := s || s } return s =~ '^(a+)+$' and not (s || '!' =~ '^(a+)+$')",
        None,
        "",
    ),
]


@pytest.mark.parametrize(("name", "source", "error", "message"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_programs_end_within_the_limits(
    name: str, source: str, error: type | tuple | None, message: str
) -> None:
    if error is None:  # ends normally (within the time limit on an idle machine)
        run(source, {}, limits=Limits(timeout_seconds=30))
        return
    caught, _ = ended(source)
    if isinstance(caught, HogTimeoutError):
        return
    assert isinstance(caught, error), caught
    assert str(caught).startswith(message)


def test_the_limits_messages() -> None:
    caught, elapsed = ended("while (true) {}", Limits(timeout_seconds=0.2, max_steps=10**12))
    assert str(caught) == "Execution timed out (0.2s limit exceeded)"
    assert isinstance(caught, HogTimeoutError)
    assert elapsed >= 0.2
    caught, _ = ended("while (true) {}", Limits(max_steps=1_000))
    assert str(caught) == "Execution exceeded the step limit (1,000 steps)"
    caught, _ = ended("let s := 'x'; while (true) { s := s || s }", Limits(max_memory_bytes=2**20))
    assert str(caught) == "Memory limit exceeded"
    caught, _ = ended("fun f(n) { return f(n + 1) } return f(1)", Limits(max_call_depth=5))
    assert str(caught) == "Runtime error: Maximum call stack depth exceeded (5)"


def test_building_values_a_piece_at_a_time_is_charged_their_size() -> None:
    # charged the square of their size, these would need 1.25 GB and 200 MB
    limits = Limits(max_memory_bytes=2**20, timeout_seconds=60)  # the time is Python's copying, not the point
    assert (
        run(
            "let s := ''; for (let i := 0; i < 50000; i := i + 1) { s := s || 'x' } return length(s)", limits=limits
        ).value
        == 50_000
    )
    assert (
        run(
            "let a := []; for (let i := 0; i < 5000; i := i + 1) { a := arrayPushBack(a, i) } return length(a)",
            limits=limits,
        ).value
        == 5_000
    )


NESTED = {
    "parentheses": "return " + "(" * 1000 + "1" + ")" * 1000,
    "arrays": "return " + "[" * 1000 + "]" * 1000,
    "dicts": "return " + "{'a': " * 1000 + "1" + "}" * 1000,
    "calls": "return " + "lower(" * 1000 + "'a'" + ")" * 1000,
    "blocks": "{" * 1000 + "}" * 1000,
    "ifs": "if (true) " * 1000 + "return 1",
    "whiles": "while (false) " * 1000 + "{}",
    "nots": "return " + "not " * 1000 + "true",
    "negations": "return " + "- " * 1000 + "1",
    "ternaries": "return " + "true ? 1 : " * 1000 + "2",
    "fields": "let a := {}; return a" + ".b" * 1000,
    "indexes": "let a := []; return a" + "[1]" * 1000,
    "lambdas": "return " + "x -> " * 1000 + "1",
    "functions": "fun f() { " * 1000 + "}" * 1000,
    "f-strings": "return " + "f'{" * 1000 + "1" + "}'" * 1000,
    "additions": "return " + " + ".join(["1"] * 1000),
    "concatenations": "return " + " || ".join(["'a'"] * 1000),
    "coalescing": "return " + " ?? ".join(["null"] * 1000),
}


@pytest.mark.parametrize("source", NESTED.values(), ids=NESTED.keys())
def test_deep_nesting_is_a_compile_error(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(HogCompileError) as caught:
        compile_program(source)
    assert "the program nests more than 128 levels deep" in str(caught.value)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("return '" + "x" * 200_000 + "'", "longer than 100,000 characters"),
        ("return [" + ", ".join(["1"] * 60_000) + "]", "longer than 100,000 characters"),
        ("return [" + ",".join(["1"] * 19_000) + "]", ""),  # within the size: it compiles and runs
        ("return " + "9" * 5_000, "out of the 64-bit range"),
        ("return 1" + "0" * 500 + ".5", "out of range"),
        ("return [" + ",".join(["1"] * 30_000) + "]", "larger than 20,000 nodes"),
    ],
)
def test_huge_literals(source: str, message: str) -> None:
    if not message:
        assert len(run(source).value) == 19_000
        return
    with pytest.raises(HogCompileError) as caught:
        compile_program(source)
    assert message in str(caught.value)


def test_deep_calls_of_deep_expressions_stay_within_pythons_stack() -> None:
    # 60 calls deep, each evaluating an expression nested 120 levels: no RecursionError escapes
    body = "(" * 120 + "n" + ")" * 120
    source = f"fun f(n) {{ if (n = 0) {{ return 0 }} return f({body} - 1) + 1 }} return f(60)"
    assert run(source).value == 60


def test_the_program_reaches_nothing_but_its_globals() -> None:
    source = """
    return (output.__class__, properties.__class__, properties.__init__, output.upper, event.keys, typeof(print), __builtins__ ?? 'none')
    """
    with pytest.raises(HogRuntimeError) as caught:
        run(source, {"output": "x", "properties": {}, "event": {}})
    assert str(caught.value) == "Runtime error: Global variable not found: __builtins__"
    value = run(source.replace(", __builtins__ ?? 'none'", ""), {"output": "x", "properties": {}, "event": {}}).value
    assert value == (None, None, None, None, None, "function")


def test_a_hostile_run_does_not_stop_other_runs_in_the_process() -> None:
    outcome: list[str] = []

    def hostile() -> None:
        try:
            run("while (true) { let s := 'x' || 'y' }", limits=Limits(timeout_seconds=3.0, max_steps=10**12))
        except HogTimeoutError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=hostile)
    thread.start()
    results = [run("return length(output) > 0", {"output": "hello"}).value for _ in range(20)]
    assert results == [True] * 20
    assert thread.is_alive()  # done while the hostile run is still going
    thread.join(timeout=10)
    assert outcome == ["Execution timed out (3s limit exceeded)"]


MEMORY_PROBE = """
import json, resource, sys
from query_languages.hog import HogError, run
programs = json.loads(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
errors = []
for source in programs:
    try:
        run(source, {})
        errors.append(None)
    except HogError as error:
        errors.append(type(error).__name__)
print(json.dumps({"grew_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, "errors": errors}))
"""


def test_memory_hostile_programs_stay_near_the_budget() -> None:
    """The process that runs them grows by a small multiple of the 64 MiB budget at most (Python's own overhead
    per object is estimated, not measured)."""
    programs = [source for name, source, error, _ in HOSTILE if error is HogMemoryError]
    probe = subprocess.run([sys.executable, "-c", MEMORY_PROBE, json.dumps(programs)], capture_output=True,
                           text=True, timeout=120, check=True)  # fmt: skip
    report = json.loads(probe.stdout)
    assert set(report["errors"]) <= {"HogMemoryError", "HogTimeoutError"}  # a timeout on a loaded machine
    assert report["grew_kib"] < 256 * 1024
