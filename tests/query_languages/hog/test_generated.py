"""Generated programs never crash the interpreter: any text compiles or is a HogCompileError; any program that
compiles runs to a value or a HogRuntimeError, never another Python exception and never HogInternalError (the
interpreter's name for an exception it did not expect). Runs use small limits so each example is quick."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from query_languages.hog import (
    HogCompileError,
    HogInternalError,
    HogRuntimeError,
    Limits,
    compile_program,
    load_program,
    run,
)
from query_languages.hog.stdlib import BUILTINS
from tests.support.profiles import examples

LIMITS = Limits(timeout_seconds=0.5, max_steps=20_000, max_memory_bytes=4 * 2**20, max_call_depth=16)
GLOBALS = {
    "input": "What is the refund policy?",
    "output": '{"answer": "Within 30 days", "email": "a@b.co"}',
    "properties": {"$ai_model": "gpt", "tokens": [1, 2, 3], "nested": {"a": None}},
    "event": {"uuid": "u", "event": "$ai_generation", "distinct_id": "d"},
}
TOKENS = ["let", "x", "y", "f", ":=", "=", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "||", "??",
          "?.", "?", ":", "(", ")", "[", "]", "{", "}", ",", ";", ".", "->", "if", "else", "while", "for", "in",
          "fun", "return", "break", "continue", "and", "or", "not", "like", "ilike", "is", "null", "true", "false",
          "=~", "!~", "0", "1", "-1", "2.5", "'a'", "''", "'%'", "f'{x}'", "output", "properties", "event", "input",
          "length", "concat", "arrayMap", "jsonParse", "print", "toInt", "substring", "x -> x", "\n", "//c\n"]  # fmt: skip


def run_or_fail(source: str) -> Any:
    """A program's value, or the error it ended with; only the errors a program may end with."""
    try:
        program = compile_program(source)
    except HogCompileError as error:
        return error
    try:
        return run(program, GLOBALS, limits=LIMITS).value
    except HogRuntimeError as error:
        assert not isinstance(error, HogInternalError), f"{error!r} for {source!r}"
        return error


@settings(max_examples=examples())
@given(st.text(max_size=200))
def test_any_text(source: str) -> None:
    run_or_fail(source)


@settings(max_examples=examples())
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup(tokens: list[str]) -> None:
    run_or_fail(" ".join(tokens))


LITERALS = st.sampled_from(["null", "true", "false", "0", "1", "-7", "2.5", "9223372036854775807", "'a'", "''",
                            "'%a_'", "'(['", "'\\\\d+'", "[]", "{}", "[1, 'a']", "{'k': 1}", "(1, 2)", "output",
                            "input", "properties", "event", "properties.tokens", "x", "y"])  # fmt: skip
BINARY = st.sampled_from(["+", "-", "*", "/", "%", "||", "??", "=", "!=", "<", ">=", "and", "or", "like", "ilike",
                          "not like", "in", "not in", "=~", "!~*"])  # fmt: skip
FUNCTIONS = sorted(name for name in BUILTINS if name != "print")


def expressions() -> st.SearchStrategy[str]:
    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, BINARY, children).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
            st.tuples(st.sampled_from(["not ", "-"]), children).map(lambda p: f"({p[0]}{p[1]})"),
            st.tuples(children, children, children).map(lambda p: f"({p[0]} ? {p[1]} : {p[2]})"),
            st.tuples(children, st.sampled_from([".a", ".k", ".1", "[1]", "[-1]", "?.x", "[0]"])).map("".join),
            st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=3)).map(
                lambda p: f"{p[0]}({', '.join(p[1])})"
            ),
            st.tuples(st.sampled_from(["arrayMap", "arrayFilter", "arrayExists"]), children, children).map(
                lambda p: f"{p[0]}(v -> {p[1]}, {p[2]})"
            ),
            st.lists(children, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
            st.lists(children, max_size=2).map(
                lambda items: "{" + ", ".join(f"'k{i}': {v}" for i, v in enumerate(items)) + "}"
            ),
            children.map(lambda item: f"f'<{{{item}}}>'"),
        )

    return st.recursive(LITERALS, extend, max_leaves=12)


def statements() -> st.SearchStrategy[str]:
    expr = expressions()
    simple = st.one_of(
        expr.map(lambda e: f"x := {e}"),
        expr.map(lambda e: f"y := {e}"),
        expr.map(lambda e: f"print({e})"),
        expr.map(lambda e: f"return {e}"),
        st.tuples(expr, expr).map(lambda p: f"x[{p[0]}] := {p[1]}"),
        expr,
    )

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        body = st.lists(children, max_size=3).map(lambda items: "{ " + "; ".join(items) + " }")
        return st.one_of(
            st.tuples(expr, body, body).map(lambda p: f"if ({p[0]}) {p[1]} else {p[2]}"),
            st.tuples(expr, body).map(lambda p: f"while ({p[0]}) {p[1]}"),
            body.map(lambda b: f"for (let i := 0; i < 3; i := i + 1) {b}"),
            st.tuples(expr, body).map(lambda p: f"for (let k, v in {p[0]}) {p[1]}"),
            body.map(lambda b: f"fun g(a) {b}"),
            body,
        )

    return st.recursive(simple, extend, max_leaves=8)


@settings(max_examples=examples(0.5))
@given(st.lists(statements(), min_size=1, max_size=5))
def test_generated_programs(body: list[str]) -> None:
    source = "let x := {}; let y := null; " + "; ".join(body)
    first = run_or_fail(source)
    if isinstance(first, HogCompileError | HogRuntimeError):
        return
    # the stored form runs the same (values compared through JSON: NaN is not equal to itself)
    stored = json.loads(json.dumps(compile_program(source).to_json()))
    again = run(load_program(stored), GLOBALS, limits=LIMITS).value
    assert repr(again) == repr(first)
