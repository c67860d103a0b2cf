"""PostHog's own parser (the `hogql-parser` wheel) as the oracle of HogQL's grammar.

For every statement of a corpus — PostHog's parser test strings, hand cases for lexing and edge values
(`data/grammar_corpus.jsonl`) and a seeded generator over literals, fields, operators and every function we
support, at every argument count — PostHog accepts it ⇔ we accept it, except that we may refuse what PostHog reads
and we do not run (joins, subqueries, unions, window functions, lambdas, …) with a 400 that names it. What we accept
also prints for both databases and compiles for the interpreter, or is refused with a 400: never an exception of
another kind (a 500).

CI runs the corpus and a fixed, derandomized slice of the generator (the `ci` hypothesis profile: 90 expressions
and 48 statements, PostHog's parser taking milliseconds each); the `explore` profile runs five times as many, random,
and `GRAMMAR_ORACLE_EXAMPLES` sets how many of each (thousands take a few minutes):
`GRAMMAR_ORACLE_EXAMPLES=5000 ./dev test --hypothesis-profile=explore tests/query_languages/test_grammar_oracle.py -n 0`.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from events.sql_schema import clickhouse_dialect, postgres_dialect
from query_languages.hogql import ast
from query_languages.hogql.context import Context
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.functions import AGGREGATES, SUPPORTED_FUNCTIONS
from query_languages.hogql.interpreter import compile_condition
from query_languages.hogql.parser import SYNTAX, parse_expr, parse_select
from query_languages.hogql.printer import print_select
from tests.support.hogql_trees import our_shape, posthog_shape
from tests.support.posthog_parser import posthog_parse
from tests.support.profiles import examples

Kind = Literal["expr", "select"]
CORPUS = Path(__file__).parent / "data" / "grammar_corpus.jsonl"
# What a refusal of syntax PostHog reads may say: it names what is not supported (or, as PostHog's own resolver
# would, a table that does not exist or a placeholder without a value).
NAMED_REFUSAL = re.compile(r"not supported|Unknown table|Unresolved placeholder", re.IGNORECASE)
# Where we still differ from PostHog's parser: each a syntax error on something PostHog reads, and each listed in the
# README. Each is checked to still differ, so that fixing one (or PostHog changing) fails until it is taken off.
KNOWN_DIFFERENCES: dict[tuple[Kind, str], str] = {}
FULL = int(os.environ.get("GRAMMAR_ORACLE_EXAMPLES") or 0)  # examples of each generator; 0: the profile's share
CONTEXT = Context(team_id=1, timezone="UTC", tz=UTC, now=datetime(2026, 11, 20, tzinfo=UTC))
DIALECTS = (postgres_dialect(), clickhouse_dialect("posthog"))


@dataclass(frozen=True)
class Ours:
    accepted: bool
    error: HogQLError | None = None

    @property
    def named_refusal(self) -> bool:
        return self.error is not None and self.error.code != SYNTAX and bool(NAMED_REFUSAL.search(self.error.message))


def ours(kind: Kind, text: str) -> tuple[Ours, ast.Select | ast.Expr | None]:
    try:
        tree = parse_expr(text) if kind == "expr" else parse_select(text)
    except HogQLError as error:
        return Ours(False, error), None
    return Ours(True), tree


def agree(kind: Kind, text: str) -> None:
    """The oracle's check of one statement (an AssertionError naming the difference)."""
    theirs = posthog_parse(kind, text)
    verdict, tree = ours(kind, text)
    if theirs.accepted:
        assert verdict.accepted or verdict.named_refusal, (
            f"PostHog reads {kind} {text!r}; we refuse it: {verdict.error}"
        )
    else:
        assert not verdict.accepted, f"PostHog refuses {kind} {text!r} ({theirs.message}); we accept it"
    if kind == "expr" and tree is not None and theirs.tree is not None:  # and we read it as PostHog does
        assert our_shape(tree) == posthog_shape(theirs.tree), f"We read {text!r} otherwise than PostHog"
    if tree is not None:
        check_printing(tree)


def check_printing(tree: ast.Select | ast.Expr) -> None:
    """What parses prints for both databases (and a condition compiles for the interpreter), or is a 400."""
    select = tree if isinstance(tree, ast.Select) else ast.Select(columns=(tree,), table="events")
    for dialect in DIALECTS:
        with suppress(HogQLError):
            print_select(select, dialect=dialect, context=CONTEXT, text=lambda node: "column", limit=10)
    if not isinstance(tree, ast.Select):
        with suppress(HogQLError):
            compile_condition(tree, tz=UTC, now=CONTEXT.now)


def corpus() -> list[tuple[Kind, str]]:
    lines = (json.loads(line) for line in CORPUS.read_text().splitlines())
    return [(kind, text) for kind, text in lines if kind != "#"]  # "#": a heading


def test_the_corpus_reads_as_posthog_reads_it() -> None:
    """One test for the whole corpus (PostHog's parser takes milliseconds a statement; a test each would take the
    run's overhead 500 times): every difference is listed at once."""
    differences, fixed = [], []
    for kind, text in corpus():
        try:
            agree(kind, text)
        except AssertionError as error:
            if (kind, text) not in KNOWN_DIFFERENCES:
                differences.append(str(error))
        else:
            if (kind, text) in KNOWN_DIFFERENCES:
                fixed.append(f"{kind} {text!r} now reads as PostHog reads it: take it off KNOWN_DIFFERENCES")
    assert not differences + fixed, "\n".join(differences + fixed)


def test_every_known_difference_is_in_the_corpus() -> None:
    assert set(KNOWN_DIFFERENCES) <= set(corpus())


# --- the generator ------------------------------------------------------------------------------------------------
def _cased(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word.lower(), word.upper(), word.capitalize()])


SPACE = st.sampled_from([" ", " ", " ", "  ", "\n", "\t", " /* c */ "])
STRING_CHARACTERS = st.sampled_from([*"ab Z%_$.,;()[]{}\"`😀", "''", "\\\\", "\\'", "\\n", "\\t", "\\0", "\\a",
                                                                      "\\x41", "\\N", "\\q", "\\%", "\\.", "\\"])  # fmt: skip
NAMES = ["event", "timestamp", "distinct_id", "uuid", "elements_chain", "created_at", "person_id", "properties",
         "person.properties.email", "person.id", "properties.$browser", "properties.n", "properties.`a b`",
         "properties['a b']", "properties.a.b", "events.event", "e.event", "x", "team_id", "$x", "`true`", "inf",
         "nan", "null", "properties.select", "properties.1", "properties.null"]  # fmt: skip
UNITS = ["second", "minute", "hour", "day", "week", "month", "quarter", "year", "days", "months", "fortnight"]
FUNCTIONS = [*SUPPORTED_FUNCTIONS, "unknownFunction", "toStartOfYear", "cast"]
BINARY = ["+", "-", "*", "/", "%", "||", "=", "==", "!=", "<>", "<", "<=", ">", ">=", "like", "ilike", "not like",
          "not ilike", "in", "not in", "=~", "!~", "=~*", "!~*", "??", "and", "or", "<=>", "->", "**", "?"]  # fmt: skip

NUMBERS = ["0", "1", "255", "256", "9223372036854775807", "9223372036854775808", "0x1F", "0XfF", "0b101", "017",
           ".5", "1e3", "1E-3", "2.34e+20", "1e309", "+1", "+0.5", "-1", "- 1"]  # fmt: skip
literals = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.sampled_from(NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "INF", "NaN", "true", "FALSE", "null", "NULL"]),
    st.lists(STRING_CHARACTERS, max_size=6).map(lambda parts: "'" + "".join(parts) + "'"),
)
fields = st.sampled_from(NAMES)


def _call(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    name = draw(st.sampled_from(FUNCTIONS))
    count = draw(st.integers(min_value=0, max_value=4))  # every function at every argument count
    args = [draw(inner) for _ in range(count)]
    distinct = "distinct " if name in AGGREGATES and draw(st.booleans()) else ""
    trailing = "," if args and draw(st.integers(0, 9)) == 0 else ""
    return f"{name}({distinct}{', '.join(args)}{trailing})"


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> str:
    leaf = st.one_of(literals, fields)
    if depth <= 0:
        return draw(leaf)
    inner = expressions(depth - 1)
    shape = draw(st.integers(min_value=0, max_value=14))
    space = draw(SPACE)
    if shape <= 2:
        return draw(leaf)
    if shape <= 5:  # binary operators, bracketed or not (precedence and chains)
        left, right = draw(inner), draw(inner)
        op = draw(st.sampled_from(BINARY))
        text = f"{left}{space}{op}{draw(SPACE)}{right}"
        return f"({text})" if draw(st.booleans()) else text
    if shape == 6:
        return _call(draw, inner)
    if shape == 7:
        # (A unary plus is part of a number in PostHog's grammar: the literals have it.)
        return f"{draw(st.sampled_from(['not ', '-', 'NOT ', '- ']))}({draw(inner)})"
    if shape == 8:
        condition, then, otherwise = draw(inner), draw(inner), draw(inner)
        return draw(st.sampled_from([
            f"({condition} ? {then} : {otherwise})",
            f"case when {condition} then {then} else {otherwise} end",
            f"CASE WHEN {condition} THEN {then} END",
            f"case {condition} when {then} then {otherwise} end",
            f"if({condition}, {then}, {otherwise})",
        ]))  # fmt: skip
    if shape == 9:
        subject, low, high = draw(inner), draw(inner), draw(inner)
        return f"({subject} {draw(st.sampled_from(['between', 'not between']))} {low} and {high})"
    if shape == 10:
        return f"({draw(inner)} is {draw(st.sampled_from(['', 'not ']))}null)"
    if shape == 11:
        amount = draw(st.one_of(st.integers(-3, 40).map(str), inner))
        return f"(timestamp {draw(st.sampled_from(['+', '-']))} interval {amount} {draw(st.sampled_from(UNITS))})"
    if shape == 12:
        items = [draw(literals) for _ in range(draw(st.integers(0, 3)))]
        return f"({draw(inner)} {draw(st.sampled_from(['in', 'not in']))} ({', '.join(items)}))"
    if shape == 13:
        return f"{draw(inner)}::{draw(st.sampled_from(['String', 'Int64', 'Float', 'Date', 'Array(String)']))}"
    return f"({draw(inner)})"


@st.composite
def selects(draw: st.DrawFn) -> str:
    expression = expressions(2)
    columns = []
    for _ in range(draw(st.integers(1, 3))):
        column = draw(expression)
        alias = draw(st.sampled_from(["", " as c", " c", " AS `c d`", " as team_id", " true", " as 'c'"]))
        columns.append(column + alias)
    parts = [draw(_cased("select")), draw(st.sampled_from(["", " distinct"])), " ", ", ".join(columns)]
    if draw(st.integers(0, 5)):
        # A trailing comma only before FROM: before another clause PostHog reads the keyword as a field's name.
        parts.append("," if draw(st.integers(0, 9)) == 0 else "")
        parts.append(f" from {draw(st.sampled_from(['events', 'persons', 'events e', 'events as e', 'other']))}")
    if draw(st.booleans()):
        parts.append(f" where {draw(expression)}")
    if draw(st.booleans()):
        parts.append(f" group by {draw(expression)}{draw(st.sampled_from(['', ',', ', event']))}")
        if draw(st.booleans()):
            parts.append(f" having {draw(expression)}")
    if draw(st.booleans()):
        direction = draw(st.sampled_from(["", " asc", " desc", " DESC", " ascending"]))
        nulls = draw(st.sampled_from(["", "", " nulls first", " NULLS LAST"]))
        parts.append(f" order by {draw(expression)}{direction}{nulls}")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from([" limit 10", " limit 1, 2", " limit 5 offset 2", " offset 3",
                                           " limit 1 by event", " limit 1 with ties", " limit -1"])))  # fmt: skip
    if draw(st.integers(0, 5)) == 0:
        parts.append(";")
    return "".join(parts)


@settings(max_examples=FULL or examples(0.15))
@given(expressions())
def test_generated_expressions_read_as_posthog_reads_them(text: str) -> None:
    agree("expr", text)


@settings(max_examples=FULL or examples(0.08))
@given(selects())
def test_generated_selects_read_as_posthog_reads_them(text: str) -> None:
    agree("select", text)
