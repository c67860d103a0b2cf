"""PostHog's own HogQL parser (the `hogql-parser` wheel, its C++ ANTLR parser) as a grammar oracle for the tests.

The extension imports `posthog.hogql`, `posthog.hogql.ast` and `posthog.hogql.errors` when it loads, to build
Python trees and raise PostHog's errors. The `*_json` entry points need neither: they answer a JSON tree, or a JSON
object with `"error": true` and a `type` (`SyntaxError`, `NotImplementedError`, `ParsingError`, …) instead of
raising. So empty stand-in modules under those names are enough; they are put in `sys.modules` (not on the path),
because `posthog` is also the name of PostHog's Python SDK, which the tests use.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any, Literal

import orjson

_STUBS = ("posthog.hogql", "posthog.hogql.ast", "posthog.hogql.base", "posthog.hogql.errors")

Kind = Literal["expr", "select", "program", "order"]


def _load() -> Any:
    for name in _STUBS:
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = []  # a package, so that its submodules resolve
            sys.modules[name] = module
    import hogql_parser

    return hogql_parser


hogql_parser = _load()
_ENTRY_POINTS = {
    "expr": hogql_parser.parse_expr_json,
    "select": hogql_parser.parse_select_json,
    "program": hogql_parser.parse_program_json,
    "order": hogql_parser.parse_order_expr_json,
}


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    tree: dict[str, Any] | None  # the JSON tree when accepted
    error_type: str | None  # PostHog's exception class name when refused
    message: str | None


def posthog_parse(kind: Kind, text: str) -> Verdict:
    """What PostHog's parser makes of `text` as an expression, a SELECT statement, a Hog program or an ORDER BY."""
    try:
        answer = orjson.loads(_ENTRY_POINTS[kind](text))
    except Exception as error:  # anything raised (not answered as JSON) is a refusal too
        return Verdict(False, None, type(error).__name__, str(error))
    if isinstance(answer, dict) and answer.get("error"):
        return Verdict(False, None, str(answer.get("type")), str(answer.get("message")))
    return Verdict(True, answer, None, None)
