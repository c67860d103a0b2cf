"""Hog programs and what they return and print: statements, values, operators and the standard library, with
PostHog's documented semantics (arrays and tuples indexed from 1, `:=` assigns and `=` compares, `||` concatenates,
`toInt('x')` is null, `print` writes strings inside values quoted)."""

from __future__ import annotations

from typing import Any

import pytest

from query_languages.hog import HogCompileError, HogRuntimeError, run


def value(source: str, **globals_: Any) -> Any:
    return run(source, globals_).value


def printed(source: str, **globals_: Any) -> list[str]:
    return run(source, globals_).printed


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # statements
        ("let x := 12; x := 13; x := x + 1; return x", 14),
        ("let x; return x", None),
        ("return", None),
        ("1 + 1", None),  # a program that returns nothing returns null
        ("let a := 3; if (a > 0) { return 'yes' } else { return 'no' }", "yes"),
        ("let a := 0; if (a > 0) return 'yes'; else if (a = 0) return 'zero'; return 'no'", "zero"),
        ("let i := 0; let s := 0; while (i < 5) { s := s + i; i := i + 1 } return s", 10),
        ("let s := 0; for (let i := 0; i < 3; i := i + 1) { s := s + i } return s", 3),
        (
            "let s := 0; for (let i := 0; i < 10; i := i + 1) { if (i = 5) { break } if (i % 2 = 0) { continue } s := s + i } return s",
            4,
        ),
        ("let r := []; for (let v in ['a', 'b']) { r := arrayPushBack(r, v) } return r", ["a", "b"]),
        (
            "let r := []; for (k, v in {'a': 1, 'b': 2}) { r := arrayPushBack(r, (k, v)) } return r",
            [("a", 1), ("b", 2)],
        ),
        ("let r := []; for (i, v in ['x', 'y']) { r := arrayPushBack(r, i) } return r", [0, 1]),  # keys() from 0
        ("let r := 0; for (v in null) { r := 1 } return r", 0),
        ("fun add(a, b) { let c := a + b; return c } return add(1, 2)", 3),
        ("fun fib(n) { if (n < 2) { return n } return fib(n - 1) + fib(n - 2) } return fib(12)", 144),
        ("fun noReturn() { let x := 1 } return noReturn()", None),
        ("let square := (a) -> a * a; return square(4)", 16),
        ("let add := (a, b) -> a + b; return add(2, 3)", 5),
        ("let one := () -> 1; return one()", 1),
        ("let inc := x -> x + 1; return inc(1)", 2),
        ("let f := (x) -> { let y := x + 1; return y * 2 }; return f(1)", 4),
        (
            "fun counter() { let n := 0; return () -> { n := n + 1; return n } } let c := counter(); c(); c(); return c()",
            3,
        ),
        ("let x := 1; { let x := 2 } return x", 1),
        ("let x := 1; { x := 2 } return x", 2),
        ("let a := {'b': {'c': 1}}; a.b.c := 2; a['b']['d'] := 3; return a", {"b": {"c": 2, "d": 3}}),
        ("let a := [1, 2, 3]; a[2] := 20; a[-1] := 30; return a", [1, 20, 30]),
        ("// a comment\n-- another\n/* and\n a block */ return 1", 1),
        ("let x := 1;;; return x;", 1),
        # values and indexing
        ("return [1, 2, 3][1]", 1),
        ("let a := [1, 2, 3]; return (a[1], a.2, a[-1], a[-4], a[4])", (1, 2, 3, None, None)),
        ("let t := (1, 2, 3); return t.2 + t[3]", 5),
        ("let t := (1, (2, 3)); return t.2.1", 2),
        ("let o := {'key': 'value'}; return (o.key, o['key'], o.missing)", ("value", "value", None)),
        ("let o := {'key': 'value'}; return o?.this?.is?.not?.found", None),
        ("let o := {'a': [10, 20]}; return o?.['a']?.[2]", 20),
        ("return null.a", None),
        (
            "return ([1, [2, [3, 4]], 5].2.2.2, [1, [2, [3, 4]], 5]?.2?.2?.2, [1, [2, [3, 4]], 5]?.7?.4?.2)",
            (4, 4, None),
        ),
        ("let b := [1, 2, [1, 2, 3]]; b[2] := 4; b[3][3] := 8; return b", [1, 4, [1, 2, 8]]),
        ("let a := [1, 2]; arrayPushBack(a, 3); return a", [1, 2]),  # the array functions copy
        (
            "return (has('banananas', 'banana'), has(['1', '2'], '1'), 'a' in [], [1, 2, 3][2], )",
            (False, True, False, 2),
        ),
        ("return {'a': 1, 'b': [true, false, null], 'c': 1.5}", {"a": 1, "b": [True, False, None], "c": 1.5}),
        ("return {}", {}),
        ("return []", []),
        ("return ('a', 1)", ("a", 1)),
        ("return typeof((1, 2))", "tuple"),
        ("return ([1], {'a': 1}, 'x', 1, 1.5, true, null, x -> x).map", None),
        # operators
        ("return 7 / 2", 3.5),
        ("return 7 % 3", 1),
        ("return -(2 * 3) + 10 - 1", 3),
        ("return 1 + 2 * 3", 7),
        ("return (1 + 2) * 3", 9),
        ("return 'a' || 'b' || 1 || null", "ab1"),
        ("return 'a' + 'b'", "ab"),
        ("return 1 + null", None),
        ("return 1 = 1.0 and 1 == 1 and 1 != 2 and 1 <> 2", True),
        ("return [1, [2]] = [1, [2]] and {'a': 1} = {'a': 1} and (1, 2) != [1, 2]", True),
        (
            "return (true = 1, 1 == true, 0 == true, 2 == true, 1 != false, 'true' = true, 'FALSE' = false)",
            (True, True, False, False, True, True, True),
        ),
        (
            "return ('1' = 1, 1 = '1', 1 = '2', 1 < '2', '1' < 2, 1 >= '2', 'a' = 1)",
            (True, True, False, True, True, False, False),
        ),
        ("return (-7 % 3, 7 % -3, -7.5 % 2)", (-1, 1, -1.5)),
        ("return ('a' in 'car', 'a' in 'foo', 'a' not in 'car')", (True, False, False)),
        ("return ('test' ~* 'EST', 'test' ~ 'es', 'test' !~* 'EST')", (True, True, False)),
        ("return null = null and not (null = 0)", True),
        ("return 2 < 3 and 3 <= 3 and 4 > 3 and 4 >= 5", False),
        ("return 'a' < 'b'", True),
        ("return (null < 3, null > 3, null < -1, null <= null, null < 'a')", (True, False, False, True, False)),
        ("return true and 1 and 'x'", True),
        ("return false or 0 or '' or null", False),
        ("return [] and {}", True),  # empty containers are true
        ("return not 0 and not null and not ''", True),
        ("let a := null; return a ?? 'is null'", "is null"),
        ("return 0 ?? 1", 0),
        ("return 1 < 2 ? 'small' : 'big'", "small"),
        ("return null ? 1 : 2", 2),
        (
            "return 'mystring' ilike '%STR%' and 'mystring' like 'my%' and 'a_c' like 'a_c' and 'abc' not like 'x%'",
            True,
        ),
        ("return 'abc' not ilike 'A%'", False),
        ("return 'string' =~ 'i.g$'", True),
        ("return ('' =~ '', match('', '.*'), match('a', ''), '' !~ 'a')", (False, False, False, True)),
        ("return 'string' !~ 'i.g$'", False),
        ("return 'string' =~* 'I.G$'", True),
        ("return 'string' !~* 'I.G$'", False),
        ("return 2 in [1, 2] and 'a' in ('a', 'b') and 'k' in {'k': 1} and 3 not in [1, 2]", True),
        ("return x is null and 1 is not null", True),
        ("return f'hello {1 + 1} {null} {[1, 'a']}'", "hello 2  [1, 'a']"),
        ("let str := 'string'; return f'hello {f'{str} world'}'", "hello string world"),
        ("return 'it''s' || 'a\\'b' || '\\n'", "it'sa'b\n"),
        ("return 9223372036854775807", 2**63 - 1),
        ("return 1e3 + .5", 1000.5),
        ("return TRUE AND NOT FALSE", True),
        # standard library
        ("return (length('abc'), length([1, 2]), length({'a': 1}), length((1,)), length(null))", (3, 2, 1, 1, None)),
        (
            "return (empty(''), empty([]), empty({}), empty(null), empty(0), empty('x'))",
            (True, True, True, True, False, False),
        ),
        ("return (notEmpty('x'), notEmpty([]))", (True, False)),
        ("return (lower('AbC'), upper('aBc'), lower(null))", ("abc", "ABC", None)),
        ("return (trim('  a b  '), trim('xxaxx', 'x'), trimLeft('  a '), trimRight(' a  '))", ("a b", "a", "a ", " a")),
        ("return concat('a', 1, null, true, [1, 'b'], 2.5)", "a1true[1, 'b']2.5"),
        ("return substring('hello world', 1, 5)", "hello"),
        (
            "return (substring('hello', 2), substring('hello', -3), substring('hello', 0), substring('hello', 2, 100))",
            ("ello", "llo", "", "ello"),
        ),
        ("return (position('hello', 'l'), position('hello', 'z'), positionCaseInsensitive('HeLLo', 'll'))", (3, 0, 3)),
        ("return (like('abc', 'a%'), ilike('ABC', 'a%'), like(null, '%'))", (True, True, False)),
        # LIKE finds the pattern anywhere in the text, as PostHog's VMs do
        (
            "return (like('banana', 'n'), like('banana', 'N'), ilike('banana', 'N'), like('banana', 'naan'), 'baax' like 'b%x', 'baax' like 'b_x')",
            (True, False, True, False, True, False),
        ),
        (
            "return (notLike('banana', 'N'), notILike('banana', 'NO'), position('abc', 'c'), positionCaseInsensitive('AbC', 'b'))",
            (True, True, 3, 2),
        ),
        (
            "return (trim('xxxx  hello  world  xx', 'x'), splitByString(' ', 'hello world and more', 2))",
            ("  hello  world  ", ["hello", "world"]),
        ),
        ("return (match('order 66', '\\\\d+'), match('abc', '^b'), match(null, 'a'))", (True, False, False)),
        (
            "return (replaceAll('a-b-c', '-', '+'), replaceOne('a-b-c', '-', '+'), replaceAll('abc', '', 'x'))",
            ("a+b+c", "a+b-c", "abc"),
        ),
        (
            "return (splitByString(',', 'a,b,c'), splitByString(',', 'a,b,c', 2), splitByString('', 'ab'))",
            (["a", "b", "c"], ["a", "b"], ["a", "b"]),
        ),
        (
            "return (toString(1), toString(1.5), toString(true), toString(null), toString('s'), toString([1, 's']))",
            ("1", "1.5", "true", "null", "s", "[1, 's']"),
        ),
        (
            "return (toInt('12'), toInt('x'), toInt('1.5'), toInt(3.9), toInt(null), toInt(true))",
            (12, None, None, 3, None, 1),
        ),
        (
            "return (toInt('99999999999999999999'), toInt('123456789012345678901234567890123456789012345'))",
            (None, None),
        ),
        ("return (toFloat('1.5'), toFloat('x'), toFloat(2), toFloat(null))", (1.5, None, 2.0, None)),
        ('return jsonParse(\'{"a": [1, 2.5, "x", null, true]}\')', {"a": [1, 2.5, "x", None, True]}),
        (
            "return jsonStringify({'a': [1, 2.5, 'x', null, true], 'b': (1, 2)})",
            '{"a": [1, 2.5, "x", null, true], "b": [1, 2]}',
        ),
        ("return jsonStringify({'a': 1}, 2)", '{\n  "a": 1\n}'),
        ("return jsonStringify('é')", '"\\u00e9"'),
        ("return (isValidJSON('{}'), isValidJSON('{'), isValidJSON(null))", (True, False, False)),
        ("return (has([1, 2], 2), has([1, 2], 3), has(['a'], 'a'), has(null, 1))", (True, False, True, False)),
        (
            "return (keys({'a': 1, 'b': 2}), values({'a': 1, 'b': 2}), keys(['x', 'y']), values((1, 2)), keys(null))",
            (["a", "b"], [1, 2], [0, 1], [1, 2], []),
        ),
        ("return arrayMap(x -> x * 2, [1, 2, 3])", [2, 4, 6]),
        ("return arrayFilter((x) -> x > 1, [1, 2, 3])", [2, 3]),
        ("return arrayMap(toString, [1, 2])", ["1", "2"]),
        ("return (arrayExists(x -> x = 2, [1, 2]), arrayCount(x -> x > 0, [-1, 1, 2]))", (True, 2)),
        (
            "return (arrayPushBack([1], 2), arrayPushFront([1], 0), arrayPopBack([1, 2]), arrayPopFront([1, 2]), arrayReverse([1, 2]))",
            ([1, 2], [0, 1], [1], [2], [2, 1]),
        ),
        ("return (arrayStringConcat(['a', 'b'], '-'), indexOf(['a', 'b'], 'b'), indexOf([], 1))", ("a-b", 2, 0)),
        ("return (round(2.567, 2), round(2.5), round(3), round(null))", (2.57, 2.0, 3, None)),
        ("return (min2(1, 2), max2(1, 2.5), min2('a', 'b'), min2(null, 1))", (1, 2.5, "a", None)),
        ("return (ifNull(null, 1), coalesce(null, null, 2), isNull(null), isNotNull(1))", (1, 2, True, True)),
        (
            "return (typeof(1), typeof(1.0), typeof('a'), typeof([]), typeof({}), typeof(null), typeof(true), typeof(x -> x))",
            ("integer", "float", "string", "array", "object", "null", "boolean", "function"),
        ),
        (
            "return (startsWith('abc', 'ab'), endsWith('abc', 'bc'), reverse('abc'), range(3), range(1, 3))",
            (True, True, "cba", [0, 1, 2], [1, 2]),
        ),
        ("return (floor(1.7), abs(-2), tuple(1, 2))", (1.0, 2, (1, 2))),
    ],
)
def test_program_value(source: str, expected: Any) -> None:
    result = value(source, x=None)
    assert result == expected
    assert type(result) is type(expected)


def test_print_formats_values_as_hog_does() -> None:
    assert printed(
        "print('Request', 1, 1.5, true, null, [1, 'a'], {'k': 'v'}, (1, 2), tuple(1), 'it\\'s'); print()"
    ) == ["Request 1 1.5 true null [1, 'a'] {'k': 'v'} (1, 2) tuple(1) it's", ""]
    assert printed("print(['a\\nb'], x -> x, length)") == ["['a\\nb'] fn<lambda(1)> fn<length(1)>"]
    assert printed("let d := {}; d.self := d; print(d)") == ["{'self': null}"]


def test_globals_are_read_and_copied() -> None:
    event = {"uuid": "u-1", "event": "$ai_generation", "distinct_id": "user"}
    properties = {"$ai_model": "gpt", "tokens": [1, 2]}
    source = "properties.tokens[1] := 99; event.event := 'changed'; return (input, output, properties.$ai_model, event.distinct_id, properties.tokens)"
    assert value(source, input="q", output="a", properties=properties, event=event) == (
        "q",
        "a",
        "gpt",
        "user",
        [99, 2],
    )
    assert properties == {"$ai_model": "gpt", "tokens": [1, 2]}  # the caller's data is unchanged
    assert event["event"] == "$ai_generation"


def test_a_global_that_is_not_data_is_refused() -> None:
    with pytest.raises(ValueError):
        run("return 1", {"x": object()})


def test_the_printed_lines_before_an_error_are_kept() -> None:
    with pytest.raises(HogRuntimeError) as caught:
        run("print('before'); return 1 / 0")
    assert caught.value.printed == ["before"]
    assert str(caught.value) == "Runtime error: Division by zero"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("return missing", "Runtime error: Global variable not found: missing"),
        ("return jsonParse('{')", "Runtime error: jsonParse: invalid JSON"),
        ("return 1 / 0", "Runtime error: Division by zero"),
        ("return 1 % 0", "Runtime error: Division by zero"),
        ("return 'a' + 1", "Runtime error: Cannot apply + to string and integer"),
        ("return 'a' < 1", "Runtime error: Cannot compare string and integer"),
        ("return 9223372036854775807 + 1", "Runtime error: Integer overflow"),
        ("let f := 1; return f(2)", "Runtime error: Cannot call a value of type integer"),
        ("let f := (a) -> a; return f(1, 2)", "Runtime error: Function lambda takes 1 arguments, got 2"),
        ("let a := [1]; a[5] := 1", "Runtime error: Index 5 out of range for array of length 1"),
        ("let a := [1]; return a[0]", "Runtime error: Hog arrays start from index 1"),
        ("let a := [1]; a[0] := 1", "Runtime error: Hog arrays start from index 1"),
        ("let t := (1, 2); t[1] := 1", "Runtime error: Can not set property '1' on a value of type tuple"),
        ("return match('a', '(')", "Runtime error: Invalid regex pattern"),
        ("return match('a', '(?=a)')", "Runtime error: Invalid regex pattern"),  # RE2 has no look-ahead
        ("return lower(1)", "Runtime error: lower: the argument must be a string"),
        ("return arrayMap(1, [1])", "Runtime error: arrayMap: the first argument must be a function"),
        ("return {[1]: 2}", "Runtime error: Object keys must be strings or numbers"),
        ("for (x in 'abc') { }", "Runtime error: Cannot iterate over a value of type string"),
    ],
)
def test_runtime_errors(source: str, message: str) -> None:
    with pytest.raises(HogRuntimeError) as caught:
        run(source)
    assert str(caught.value).startswith(message)
    assert caught.value.kind == "runtime_error"


def test_compile_errors_are_not_runtime_errors() -> None:
    with pytest.raises(HogCompileError):
        run("return (")


def test_string_and_array_functions_read_null_as_posthog_does() -> None:
    source = """
    print(length(null), upper(null), reverse(null), replaceOne(null, 'a', 'b'), replaceAll(null, 'a', 'b'))
    print(trim(null), trimLeft(null), trimRight(null), keys(null), values(null))
    print(arrayExists(x -> x = 'a', null), arrayMap(x -> x, null), arrayFilter(x -> x = 'a', null))
    print(arrayCount(x -> x = 'a', null), arrayReduce((acc, x) -> acc + x, null, 0), splitByString(' ', null))
    print(arrayStringConcat(arrayPopFront(splitByString(' ', null)), ' '), length(null) > 3, length(null) < 3)
    print(match(null, 'u'), match('uu', null), null =~ 'u', 'uu' =~ null)
    """
    assert printed(source) == [
        "null null null null null",
        "null null null [] []",
        "false [] []",
        "0 0 null",
        " false true",
        "false false false false",
    ]


def test_array_reduce() -> None:
    assert value("return arrayReduce((acc, x) -> acc + x, [1, 2, 3], 10)") == 16
