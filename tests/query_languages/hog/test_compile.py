"""Compiling Hog: syntax errors name their line and column, mistakes found before a run are compile errors, the
compiled form is plain JSON that loads back without parsing, and both are cached."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from query_languages.hog import HogCompileError, compile_program, load_program, run
from query_languages.hog import parser as hog_parser


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        ("return (", 1, 9, "unexpected end of input"),
        ("let x := 1\nlet y := ", 2, 10, "unexpected end of input"),
        ("let x := 1\nlet x = 2", 2, 7, "use ':=' to assign"),
        ("let x = 2", 1, 7, "use ':=' to assign"),
        ("if (true) {\n  return 1\n", 3, 1, "expected '}'"),
        ("return 'abc", 1, 8, "unterminated string"),
        ("return 1 # 2", 1, 10, "unexpected character '#'"),
        ("/* open", 1, 1, "unterminated comment"),
        ("return f'{1 + }'", 1, 15, "unexpected '}'"),
        ("return 99999999999999999999", 1, 8, "out of the 64-bit range"),
        ("return 1e999", 1, 8, "out of range"),
        ("1 := 2", 1, 1, "only a variable, a field or an index can be assigned to"),
        ("a?.b := 2", 1, 1, "'?.' cannot be assigned to"),
        ("try { } catch { }", 1, 1, "'try' is not supported"),
        ("fun f(a, a) { }", 1, 10, "named twice"),
        ("return [1, 2", 1, 13, "expected ','"),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int, message: str) -> None:
    with pytest.raises(HogCompileError) as caught:
        compile_program(source)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert message in str(caught.value)
    assert str(caught.value).endswith(f"(line {line}, column {column})")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "Source code cannot be empty"),
        ("   \n ", "Source code cannot be empty"),
        ("return nope(1)", "Hog function `nope` is not implemented"),
        ("return open('/etc/passwd')", "Hog function `open` is not implemented"),
        ("return __import__('os')", "Hog function `__import__` is not implemented"),
        ("return length(1, 2)", "Function `length` takes 1 argument, got 2"),
        ("return concat()", "Function `concat` takes at least 1 argument, got 0"),
        ("return substring('a')", "Function `substring` takes 2 to 3 arguments, got 1"),
        ("let x := 1; let x := 2", "Variable `x` already declared in this scope"),
        ("y := 1", "Variable `y` is not declared"),
        ("break", "`break` outside a loop"),
        ("fun f() { continue }", "`continue` outside a loop"),
        ("while (true) { fun f() { break } }", "`break` outside a loop"),
        ("return 'a' =~ '('", "Invalid regex pattern"),
    ],
)
def test_mistakes_found_before_running_are_compile_errors(source: str, message: str) -> None:
    with pytest.raises(HogCompileError) as caught:
        compile_program(source)
    assert message in str(caught.value)


def test_the_compiled_form_is_json_and_loads_without_parsing() -> None:
    source = "fun double(x) { return x * 2 } let r := arrayMap(double, [1, 2]); print(f'{r}'); return r[2] = 4"
    stored = json.loads(json.dumps(compile_program(source).to_json()))  # through a JSON column and back
    assert stored["format"] == "hog-tree" and stored["version"] == 1
    with mock.patch.object(hog_parser, "parse_program", side_effect=AssertionError("parsed again")):
        program = load_program(stored)
        assert load_program(stored) is program  # cached by the stored text
        assert load_program(json.dumps(stored)).tree == program.tree
    result = run(program, {})
    assert (result.value, result.printed) == (True, ["[2, 4]"])


def test_compiling_is_cached_by_source() -> None:
    assert compile_program("return 41 + 1") is compile_program("return 41 + 1")
    assert compile_program("return 41 + 1") is not compile_program("return 42")


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "not json",
        [],
        {"format": "hog-tree", "version": 99, "tree": ["block", []]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["expr", ["call", ["var", "__import__"], []]]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["exec", "print(1)"]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["expr", ["const", {"a": 1}]]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["expr", ["bin", "**", ["const", 1], ["const", 2]]]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["expr"]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["let", 1, None]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", "x"]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["expr", ["dict", [["a"]]]]]]},
        {"format": "hog-tree", "version": 1, "tree": ["block", [["expr", ["lambda", [1], ["return", None]]]]]},
    ],
)
def test_a_stored_form_that_is_not_a_compiled_program_is_refused(stored: object) -> None:
    with pytest.raises(HogCompileError):
        load_program(stored)


def test_a_deeply_nested_stored_tree_is_refused() -> None:
    tree: list = ["const", 1]
    for _ in range(5_000):
        tree = ["not", tree]
    with pytest.raises(HogCompileError):
        load_program({"format": "hog-tree", "version": 1, "tree": ["block", [["return", tree]]]})
