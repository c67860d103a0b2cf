"""Regular expressions from users are matched by RE2 in linear time: a corpus of patterns that make backtracking
engines take exponential (or high polynomial) time, on 10,000-character texts, through every place Python matches
a user's pattern (property filters, HogQL conditions, LIKE). The timeout is a hang guard, not a measurement: with
a backtracking engine each case would run for longer than the universe has existed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from query_languages import EventView, compile_matcher, parse_property_filters, pattern_problem
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.interpreter import compile_condition
from query_languages.hogql.parser import parse_expr

NOW = datetime(2026, 12, 2, tzinfo=UTC)
# (pattern, text it must match, text it must not match)
CATASTROPHIC = [
    ("^(a+)+$", "a" * 10_000, "a" * 10_000 + "!"),
    ("^(a|aa)+$", "a" * 10_000, "a" * 10_000 + "!"),
    ("^(a|a?)+$", "a" * 10_000, "a" * 10_000 + "!"),
    ("^(\\w+\\s?)*$", "word " * 2_000, "word " * 2_000 + "!"),
    ("(.*a){20}", "a" * 10_000, "b" * 10_000),
    ("^([a-z0-9]+([._-]?[a-z0-9]+)*)+@x\\.io$", "a" * 10_000 + "@x.io", "a" * 10_000 + "@y.io"),
]


def matcher(operator: str, value: str) -> object:
    return compile_matcher(parse_property_filters([{"key": "text", "value": value, "operator": operator,
                                                    "type": "event"}]))  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("pattern", "good", "bad"), CATASTROPHIC)
def test_property_filter_regexes_are_linear(pattern: str, good: str, bad: str) -> None:
    regex, not_regex = matcher("regex", pattern), matcher("not_regex", pattern)
    assert regex(EventView({"text": good})) and not regex(EventView({"text": bad}))
    assert not not_regex(EventView({"text": good})) and not_regex(EventView({"text": bad}))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("pattern", "good", "bad"), CATASTROPHIC)
def test_hogql_regexes_are_linear(pattern: str, good: str, bad: str) -> None:
    escaped = pattern.replace("\\", "\\\\")
    for text in (f"properties.text =~ '{escaped}'", f"match(properties.text, '{escaped}')"):
        condition = compile_condition(parse_expr(text), tz=UTC, now=NOW)
        assert [condition(EventView({"text": good})), condition(EventView({"text": bad}))] == [True, False]


@pytest.mark.timeout(60)
def test_like_with_many_wildcards_is_linear() -> None:
    condition = compile_condition(parse_expr("properties.text like '" + "%a" * 30 + "%b'"), tz=UTC, now=NOW)
    assert condition(EventView({"text": "a" * 10_000})) is False
    assert condition(EventView({"text": "a" * 10_000 + "b"})) is True


def test_what_re2_cannot_run_is_refused_with_its_reason() -> None:
    assert pattern_problem("(a)\\1") == "invalid escape sequence: \\1"
    assert pattern_problem("(?<=a)b") == "invalid perl operator: (?<="
    assert pattern_problem("a{2,1001}") == "invalid repetition size: {2,1001}"
    assert pattern_problem("^(a+)+$") is None
    with pytest.raises(HogQLError, match="Invalid regular expression"):
        compile_condition(parse_expr("match(properties.text, '(a)\\\\1')"), tz=UTC, now=NOW)
