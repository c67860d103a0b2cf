"""Hog source to a checked tree of plain lists (JSON as it is), by a hand-written tokenizer and recursive-descent
parser with precedence climbing.

Why not the HogQL lark grammar: in Hog `{` opens a block at the start of a statement and a dict anywhere else,
`(a, b) -> …` is a lambda only once `->` is seen past the parenthesis, and f-strings hold expressions inside a
string token. An LALR(1) table cannot take the first two without a second copy of the whole expression grammar,
and the HogQL grammar is being extended for SQL, not for Hog. By hand each of these is one look-ahead, every error
names its line and column, and one depth counter bounds the parser's recursion (1,000 nested brackets are a
compile error, not a RecursionError).

Tree nodes are lists headed by a name (`["bin", "+", a, b]`); `runtime.py` lists them all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from query_languages.hog.errors import HogCompileError

MAX_SOURCE_LENGTH = 100_000
# Nesting of brackets, blocks and operators. The tree is walked recursively when it is built into closures and
# when it runs, so this bounds Python's recursion too; real evaluators nest a handful of levels.
MAX_DEPTH = 128
MAX_NODES = 20_000
MAX_STRING_LITERAL = 100_000

KEYWORDS = frozenset(
    {"let", "if", "else", "while", "for", "fun", "return", "break", "continue", "in", "and", "or", "not",
     "like", "ilike", "is", "null", "true", "false", "try", "catch", "throw", "finally"}
)  # fmt: skip
# SQL's words are case-insensitive, as in HogQL; Hog's statement words are not.
CASELESS = frozenset({"and", "or", "not", "like", "ilike", "in", "is", "null", "true", "false"})

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+|//[^\n]*|--[^\n]*|/\*.*?\*/)
  | (?P<number>(?:\d+\.\d+|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<fstring>f')
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<quoted>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
  | (?P<op>:=|->|=~\*|!~\*|=~|!~|~\*|==|!=|<>|<=|>=|\|\||\?\?|\?\.|[-+*/%<>=?:()\[\]{},;.~])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "a": "\a", "v": "\v"}


@dataclass(slots=True)
class Token:
    kind: str  # number, string, fstring, name, keyword, op, end
    value: Any
    line: int
    column: int


_LITERAL_WORDS = frozenset({"true", "false", "null"})
_STATEMENT_WORDS = frozenset({"let", "return", "if", "while", "for", "fun"})


def _ends_operand(token: Token, before: Token | None) -> bool:
    if token.kind in ("name", "string", "fstring") or (token.kind == "keyword" and token.value in _LITERAL_WORDS):
        return True
    if token.kind == "number":  # the key of `t.2` in `t.2.1`
        return before is not None and before.kind == "op" and before.value in (".", "?.")
    return token.kind == "op" and token.value in (")", "]", "}")


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def where(self, position: int) -> tuple[int, int]:
        low, high = 0, len(self.line_starts) - 1
        while low < high:  # binary search for the line holding `position`
            middle = (low + high + 1) // 2
            if self.line_starts[middle] <= position:
                low = middle
            else:
                high = middle - 1
        return low + 1, position - self.line_starts[low] + 1

    def error(self, message: str, position: int) -> HogCompileError:
        line, column = self.where(position)
        return HogCompileError(f"Syntax error: {message}", line, column)

    def tokens(self, position: int = 0, *, until_brace: bool = False, depth: int = 0) -> tuple[list[Token], int]:
        """Tokens from `position`; with `until_brace`, up to the `}` closing an f-string's `{` (returned position
        just past it)."""
        if depth > MAX_DEPTH:
            raise self.error(f"the program nests more than {MAX_DEPTH} levels deep", position)
        text, out, braces = self.text, [], 0
        while position < len(text):
            if text[position] == "." and out and _ends_operand(out[-1], out[-2] if len(out) > 1 else None):
                # `a.2` and `t.1.2` are field accesses, not the number .2
                line, column = self.where(position)
                out.append(Token("op", ".", line, column))
                position += 1
                continue
            if text.startswith("/*", position) and text.find("*/", position + 2) < 0:
                raise self.error("unterminated comment", position)
            match = _TOKEN.match(text, position)
            if match is None:
                if text[position] == "'":
                    raise self.error("unterminated string", position)
                raise self.error(f"unexpected character {text[position]!r}", position)
            kind = match.lastgroup
            line, column = self.where(position)
            token_text = match.group()
            if kind == "ws":
                position = match.end()
                continue
            if kind == "fstring":
                parts, position = self._fstring(match.end(), depth)
                out.append(Token("fstring", parts, line, column))
                continue
            position = match.end()
            if kind == "number":
                out.append(Token("number", self._number(token_text, match.start()), line, column))
            elif kind == "string":
                out.append(Token("string", self._unescape(token_text[1:-1], position), line, column))
            elif kind == "name":
                lowered = token_text.lower()
                if token_text in KEYWORDS or (lowered in CASELESS):
                    out.append(Token("keyword", lowered if lowered in CASELESS else token_text, line, column))
                else:
                    out.append(Token("name", token_text, line, column))
            elif kind == "quoted":
                out.append(Token("name", self._unescape(token_text[1:-1], position), line, column))
            else:
                if until_brace:
                    if token_text == "{":
                        braces += 1
                    elif token_text == "}":
                        if braces == 0:
                            out.append(Token("end", "}", line, column))
                            return out, position
                        braces -= 1
                out.append(Token("op", token_text, line, column))
        if until_brace:
            raise self.error("unterminated f-string", len(text))
        line, column = self.where(len(text))
        out.append(Token("end", None, line, column))
        return out, position

    def _number(self, text: str, position: int) -> int | float:
        if any(character in text for character in ".eE"):
            value = float(text) if len(text) <= 400 else math.inf
            if not math.isfinite(value):
                raise self.error("a number is out of range", position)
            return value
        if len(text) > 19 or int(text) > 2**63 - 1:  # Hog's integers are 64-bit
            raise self.error("an integer is out of the 64-bit range", position)
        return int(text)

    def _fstring(self, position: int, depth: int) -> tuple[list[Any], int]:
        """The parts of f'…' starting after the quote: strings, and token lists for each `{expression}`."""
        text, parts, chunk = self.text, [], []
        start = position
        while True:
            if position >= len(text):
                raise self.error("unterminated f-string", start)
            character = text[position]
            if character == "\\" and position + 1 < len(text):
                chunk.append(_ESCAPES.get(text[position + 1], text[position + 1]))
                position += 2
            elif character == "'":
                if text.startswith("''", position):
                    chunk.append("'")
                    position += 2
                    continue
                if chunk:
                    parts.append("".join(chunk))
                return parts, position + 1
            elif character == "{":
                if chunk:
                    parts.append("".join(chunk))
                    chunk = []
                tokens, position = self.tokens(position + 1, until_brace=True, depth=depth + 1)
                parts.append(tokens)
            else:
                chunk.append(character)
                position += 1

    def _unescape(self, body: str, position: int) -> str:
        if len(body) > MAX_STRING_LITERAL:
            raise self.error(f"a string literal is longer than {MAX_STRING_LITERAL:,} characters", position)
        if "\\" not in body and "''" not in body:
            return body
        out, index = [], 0
        while index < len(body):
            character = body[index]
            if character == "\\" and index + 1 < len(body):
                out.append(_ESCAPES.get(body[index + 1], body[index + 1]))
                index += 2
            elif character == "'" and body.startswith("''", index):
                out.append("'")
                index += 2
            else:
                out.append(character)
                index += 1
        return "".join(out)


# Binary operators by precedence, lowest first (all left-associative). `not` sits between `and` and comparisons.
_COMPARISON = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
               "=~": "=~", "!~": "!~", "=~*": "=~*", "!~*": "!~*", "~": "=~", "~*": "=~*"}  # fmt: skip
_ADDITIVE = {"+": "+", "-": "-", "||": "||"}
_MULTIPLICATIVE = {"*": "*", "/": "/", "%": "%"}


class _Parser:
    def __init__(self, lexer: _Lexer, tokens: list[Token]) -> None:
        self.lexer = lexer
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.nodes = 0

    # -- helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def error(self, message: str, token: Token | None = None) -> HogCompileError:
        token = token or self.current
        return HogCompileError(f"Syntax error: {message}", token.line, token.column)

    def unexpected(self) -> HogCompileError:
        token = self.current
        if token.kind == "end":
            # the end of an f-string's `{…}` is its closing brace
            return self.error("unexpected '}'" if token.value == "}" else "unexpected end of input")
        shown = token.value if token.kind in ("op", "keyword", "name") else token.kind
        return self.error(f"unexpected {shown!r}" if token.kind != "fstring" else "unexpected f-string")

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.current
        return token.kind == kind and (value is None or token.value == value)

    def at_op(self, *values: str) -> bool:
        token = self.current
        return token.kind == "op" and token.value in values

    def at_keyword(self, *values: str) -> bool:
        token = self.current
        return token.kind == "keyword" and token.value in values

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect_op(self, value: str) -> Token:
        if not self.at_op(value):
            if self.current.kind == "end":
                raise self.error(f"expected {value!r} before the end of input")
            raise self.error(f"expected {value!r}, got {self.current.value!r}")
        return self.take()

    def expect_name(self) -> str:
        if not self.at("name"):
            raise self.error("expected a name") if self.current.kind != "end" else self.unexpected()
        return self.take().value

    def node(self, *parts: Any) -> list[Any]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"the program is larger than {MAX_NODES:,} nodes")
        return list(parts)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the program nests more than {MAX_DEPTH} levels deep")

    # -- statements
    def program(self) -> list[Any]:
        body = []
        while not self.at("end"):
            if self.at_op(";"):  # a separator between statements, not a statement
                self.take()
                continue
            body.append(self.statement())
        return self.node("block", body)

    def statement(self) -> list[Any]:
        self.enter()
        try:
            return self._statement()
        finally:
            self.depth -= 1

    def _statement(self) -> list[Any]:
        token = self.current
        if token.kind == "keyword":
            word = token.value
            if word == "let":
                return self.end_statement(self.let())
            if word == "if":
                self.take()
                self.expect_op("(")
                condition = self.expression()
                self.expect_op(")")
                then = self.statement()
                otherwise = None
                if self.at_keyword("else"):
                    self.take()
                    otherwise = self.statement()
                return self.node("if", condition, then, otherwise)
            if word == "while":
                self.take()
                self.expect_op("(")
                condition = self.expression()
                self.expect_op(")")
                return self.node("while", condition, self.statement())
            if word == "for":
                return self.for_statement()
            if word == "fun" and self.peek().kind == "name":
                self.take()
                name = self.expect_name()
                params = self.parameters()
                if not self.at_op("{"):
                    raise self.error("expected '{' to start the function's body")
                return self.node("fun", name, params, self.block())
            if word == "return":
                self.take()
                value = None
                if not self.at_op(";", "}") and not self.at("end") and not self.at_keyword("else"):
                    value = self.expression()
                return self.end_statement(self.node("return", value))
            if word in ("break", "continue"):
                self.take()
                return self.end_statement(self.node(word))
            if word in ("try", "catch", "throw", "finally"):
                raise self.error(f"'{word}' is not supported")
        if token.kind == "op":
            if token.value == "{":
                return self.block()
            if token.value == ";":
                self.take()
                return self.node("block", [])
        return self.end_statement(self.simple_statement())

    def end_statement(self, statement: list[Any]) -> list[Any]:
        if self.at_op(";"):
            self.take()
        return statement

    def simple_statement(self) -> list[Any]:
        """An expression, or an assignment to a name, field or index."""
        start = self.current
        target = self.expression()
        if self.at_op(":="):
            self.take()
            if target[0] not in ("var", "get"):
                raise self.error("only a variable, a field or an index can be assigned to", start)
            if target[0] == "get" and target[3]:
                raise self.error("'?.' cannot be assigned to", start)
            return self.node("assign", target, self.expression())
        if self.at_op("="):
            raise self.error("use ':=' to assign ('=' compares)")
        return self.node("expr", target)

    def let(self) -> list[Any]:
        self.take()
        name = self.expect_name()
        value = None
        if self.at_op(":="):
            self.take()
            value = self.expression()
        elif self.at_op("="):
            raise self.error("use ':=' to assign ('=' compares)")
        return self.node("let", name, value)

    def block(self) -> list[Any]:
        self.expect_op("{")
        body = []
        while not self.at_op("}"):
            if self.at("end"):
                raise self.error("expected '}' before the end of input")
            if self.at_op(";"):
                self.take()
                continue
            body.append(self.statement())
        self.take()
        return self.node("block", body)

    def parameters(self) -> list[str]:
        self.expect_op("(")
        names: list[str] = []
        while not self.at_op(")"):
            if names:
                self.expect_op(",")
            token = self.current
            name = self.expect_name()
            if name in names:
                raise self.error(f"the parameter {name!r} is named twice", token)
            names.append(name)
        self.take()
        return names

    def for_statement(self) -> list[Any]:
        self.take()
        self.expect_op("(")
        # for (k, v in x) / for (let v in x): names followed by `in`
        look = self.index + (1 if self.at_keyword("let") else 0)
        names_end = look
        while (
            self.tokens[names_end].kind == "name"
            and self.tokens[names_end + 1].kind == "op"
            and (self.tokens[names_end + 1].value == ",")
        ):
            names_end += 2
        if (
            self.tokens[names_end].kind == "name"
            and self.tokens[names_end + 1].kind == "keyword"
            and (self.tokens[names_end + 1].value == "in")
        ):
            if self.at_keyword("let"):
                self.take()
            first = self.expect_name()
            second = None
            if self.at_op(","):
                self.take()
                second = self.expect_name()
            if not self.at_keyword("in"):
                raise self.error("expected 'in'")
            self.take()
            iterable = self.expression()
            self.expect_op(")")
            key, value = (first, second) if second is not None else (None, first)
            return self.node("forin", key, value, iterable, self.statement())
        init = None
        if not self.at_op(";"):
            init = self.let() if self.at_keyword("let") else self.simple_statement()
        self.expect_op(";")
        condition = None if self.at_op(";") else self.expression()
        self.expect_op(";")
        step = None if self.at_op(")") else self.simple_statement()
        self.expect_op(")")
        return self.node("for", init, condition, step, self.statement())

    # -- expressions
    def expression(self) -> list[Any]:
        self.enter()
        try:
            return self.ternary()
        finally:
            self.depth -= 1

    def ternary(self) -> list[Any]:
        condition = self.or_()
        if self.at_op("?"):
            self.take()
            then = self.expression()
            self.expect_op(":")
            otherwise = self.expression()
            return self.node("if_expr", condition, then, otherwise)
        return condition

    def chained(self, links: int) -> None:
        """A left-associative chain (`a + b + c`) is a tree as deep as it is long: counted as nesting."""
        if self.depth + links > MAX_DEPTH:
            raise self.error(f"the program nests more than {MAX_DEPTH} levels deep")

    def nullish(self) -> list[Any]:
        """`??` binds looser than comparisons and tighter than `not` (as PostHog's grammar has it)."""
        left = self.comparison()
        links = 0
        while self.at_op("??"):
            self.take()
            links += 1
            self.chained(links)
            left = self.node("coalesce", left, self.comparison())
        return left

    def or_(self) -> list[Any]:
        items = [self.and_()]
        while self.at_keyword("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else self.node("or", items)

    def and_(self) -> list[Any]:
        items = [self.not_()]
        while self.at_keyword("and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else self.node("and", items)

    def not_(self) -> list[Any]:
        if self.at_keyword("not"):
            self.take()
            self.enter()
            try:
                return self.node("not", self.not_())
            finally:
                self.depth -= 1
        return self.nullish()

    def comparison(self) -> list[Any]:
        left = self.additive()
        token = self.current
        if token.kind == "op" and token.value in _COMPARISON:
            self.take()
            return self.node("bin", _COMPARISON[token.value], left, self.additive())
        negated = False
        if self.at_keyword("not") and self.peek().kind == "keyword" and self.peek().value in ("like", "ilike", "in"):
            self.take()
            negated = True
        if self.at_keyword("like", "ilike", "in"):
            word = self.take().value
            operator = ("not " if negated else "") + word
            return self.node("bin", operator, left, self.additive())
        if negated:
            raise self.unexpected()
        if self.at_keyword("is"):
            self.take()
            is_not = False
            if self.at_keyword("not"):
                self.take()
                is_not = True
            if not self.at_keyword("null"):
                raise self.error("expected 'null' after 'is'")
            self.take()
            return self.node("bin", "!=" if is_not else "==", left, self.node("const", None))
        return left

    def additive(self) -> list[Any]:
        left = self.multiplicative()
        links = 0
        while self.current.kind == "op" and self.current.value in _ADDITIVE:
            operator = self.take().value
            links += 1
            self.chained(links)
            left = self.node("bin", operator, left, self.multiplicative())
        return left

    def multiplicative(self) -> list[Any]:
        left = self.unary()
        links = 0
        while self.current.kind == "op" and self.current.value in _MULTIPLICATIVE:
            operator = self.take().value
            links += 1
            self.chained(links)
            left = self.node("bin", operator, left, self.unary())
        return left

    def unary(self) -> list[Any]:
        if self.at_op("-") and self.peek().kind == "number":
            # `-7` is one literal, as in PostHog's grammar: `-7[1]` indexes -7
            self.take()
            literal = self.take()
            return self.postfix(self.node("const", -literal.value))
        if self.at_op("-", "+"):
            sign = self.take().value
            self.enter()
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if sign == "+":
                return operand
            return self.node("neg", operand)
        return self.postfix()

    def postfix(self, value: list[Any] | None = None) -> list[Any]:
        value = self.primary() if value is None else value
        chain = 0
        while True:
            token = self.current
            if token.kind != "op" or token.value not in (".", "?.", "[", "("):
                return value
            chain += 1
            self.chained(chain)
            self.take()
            if token.value == "(":
                value = self.node("call", value, self.arguments(")"))
                continue
            nullish = token.value == "?."
            if token.value == "[" or (nullish and self.at_op("[")):
                if nullish:
                    self.take()
                key = self.expression()
                self.expect_op("]")
            elif self.at("name") or self.at("keyword") or (self.at("number") and type(self.current.value) is int):
                key = self.node("const", self.take().value)
            elif self.at("number"):
                # `t.1.2` lexes its keys as the number 1.2
                text = repr(self.take().value)
                first, _, second = text.partition(".")
                value = self.node("get", value, self.node("const", int(first)), nullish)
                key = self.node("const", int(second))
            else:
                raise self.error("expected a name or a number after '.'")
            value = self.node("get", value, key, nullish)

    def arguments(self, closing: str) -> list[Any]:
        items: list[Any] = []
        while not self.at_op(closing):
            if items:
                self.expect_op(",")
                if self.at_op(closing):  # a trailing comma
                    break
            items.append(self.expression())
        self.take()
        return items

    def primary(self) -> list[Any]:
        token = self.current
        kind = token.kind
        if kind == "number":
            self.take()
            return self.node("const", token.value)
        if kind == "string":
            self.take()
            return self.node("const", token.value)
        if kind == "fstring":
            self.take()
            return self.fstring(token)
        if kind == "keyword":
            if token.value in ("true", "false", "null"):
                self.take()
                return self.node("const", {"true": True, "false": False, "null": None}[token.value])
            if token.value in ("like", "ilike") and self.peek().kind == "op" and self.peek().value == "(":
                self.take()  # like(a, b): the function, not the operator
                return self.node("var", token.value)
            raise self.unexpected()
        if kind == "name":
            if self.peek().kind == "op" and self.peek().value == "->":
                self.take()
                self.take()
                return self.lambda_body([token.value])
            self.take()
            return self.node("var", token.value)
        if kind == "op":
            if token.value == "(":
                if self.is_lambda():
                    return self.lambda_body(self.parameters(), arrow=True)
                self.take()
                items = self.arguments(")")
                if not items:
                    raise self.error("expected an expression inside '()'", token)
                # `(a)` is a, `(a, b)` and `(a,)`-less tuples need a comma
                before_closing = self.tokens[self.index - 2]
                if len(items) == 1 and not (before_closing.kind == "op" and before_closing.value == ","):
                    return items[0]
                return self.node("tuple", items)
            if token.value == "[":
                self.take()
                return self.node("array", self.arguments("]"))
            if token.value == "{":
                return self.dict_literal()
        raise self.unexpected()

    def is_lambda(self) -> bool:
        """At `(`: names separated by commas, `)`, then `->`."""
        index = self.index + 1
        expect_name = True
        while True:
            token = self.tokens[index]
            if token.kind == "op" and token.value == ")":
                after = self.tokens[index + 1]
                return after.kind == "op" and after.value == "->"
            if expect_name and token.kind != "name":
                return False
            if not expect_name and not (token.kind == "op" and token.value == ","):
                return False
            expect_name = not expect_name
            index += 1

    def lambda_body(self, params: list[str], *, arrow: bool = False) -> list[Any]:
        if arrow:
            self.expect_op("->")
        if self.at_op("{") and not self.dict_ahead():
            return self.node("lambda", params, self.block())
        return self.node("lambda", params, self.node("return", self.expression()))

    def dict_ahead(self) -> bool:
        """At `{` after `->`: a dict (`x -> {'k': x}`) rather than a block? A dict's first entry is an expression
        followed by `:` at the same bracket depth (a `?` there takes its own `:`); a block's statements never
        are."""
        index, depth, questions = self.index + 1, 0, 0
        if self.tokens[index].kind == "op" and self.tokens[index].value == "}":
            return True  # `x -> {}` is an empty dict, as in PostHog's grammar
        while True:
            token = self.tokens[index]
            if token.kind == "end":
                return False
            if token.kind == "op":
                value = token.value
                if value in ("(", "[", "{"):
                    depth += 1
                elif value in (")", "]", "}"):
                    if depth == 0:
                        return False
                    depth -= 1
                elif depth == 0 and value == "?":
                    questions += 1
                elif depth == 0 and value == ":":
                    if not questions:
                        return True
                    questions -= 1
                elif depth == 0 and value in (";", ":="):
                    return False
            elif depth == 0 and token.kind == "keyword" and token.value in _STATEMENT_WORDS:
                return False
            index += 1

    def dict_literal(self) -> list[Any]:
        self.take()
        pairs: list[Any] = []
        while not self.at_op("}"):
            if pairs:
                self.expect_op(",")
                if self.at_op("}"):
                    break
            key = self.expression()
            self.expect_op(":")
            pairs.append([key, self.expression()])
        self.take()
        return self.node("dict", pairs)

    def fstring(self, token: Token) -> list[Any]:
        parts: list[Any] = []
        for part in token.value:
            if isinstance(part, str):
                parts.append(self.node("const", part))
                continue
            inner = _Parser(self.lexer, part)
            inner.depth, inner.nodes = self.depth + 1, self.nodes
            if inner.at("end"):
                raise self.error("an f-string holds an empty '{}'", token)
            parts.append(inner.expression())
            if not inner.at("end"):
                raise inner.unexpected()
            self.nodes = inner.nodes
        return self.node("call", self.node("var", "concat"), parts or [self.node("const", "")])


def parse_program(source: str) -> list[Any]:
    """The tree of a Hog program; HogCompileError (with line and column) when it does not parse."""
    if not isinstance(source, str):
        raise HogCompileError("The source must be a string.")
    if not source.strip():
        raise HogCompileError("Source code cannot be empty")
    if len(source) > MAX_SOURCE_LENGTH:
        raise HogCompileError(f"The source is longer than {MAX_SOURCE_LENGTH:,} characters.")
    lexer = _Lexer(source)
    tokens, _ = lexer.tokens()
    parser = _Parser(lexer, tokens)
    try:
        return parser.program()
    except RecursionError:  # a backstop: MAX_DEPTH is meant to stop well before Python's own limit
        raise HogCompileError(f"Syntax error: the program nests more than {MAX_DEPTH} levels deep") from None
