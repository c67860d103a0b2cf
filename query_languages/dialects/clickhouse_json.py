r"""ClickHouse reading a JSON value as text, as PostgreSQL's jsonb prints it (and `json_text.json_as_text` in Python).

ClickHouse keeps an event's properties as the JSON text it was sent. `JSONExtractString(document, key)`, one parse,
gives the *reading*: a string's value, and any other value's raw text as ClickHouse re-prints it; `JSONType` gives
its *kind*. The emulation turns the two into the *text* every engine agrees on (`JsonText`):

    property (JSON)                     reading                       kind     text
    {"a": "say \"hi\""}                 say "hi"                      String   say "hi"
    {"a": "5.0"}                        5.0                           String   5.0
    {"a": true}                         true                          Bool     true
    {"a": 5}                            5                             Int64    5
    {"a": 1.0}                          1                             Double   1.0
    {"a": -0.0}                         -0                            Double   0.0
    {"a": 1e21}                         1e21                          Double   1000000000000000000000
    {"a": 1.5e-7}                       1.5e-7                        Double   0.00000015
    {"a": {"b": [1, 2.5], "d": "x"}}    {"b":[1,2.5],"d":"x"}         Object   {"b": [1, 2.5], "d": "x"}
    {"a": null}                         (empty)                       Null     NULL
    {} (no `a`)                         (empty)                       Null     NULL

A string's or a boolean's reading is its text, so most values need no second parse (see `JsonText.known`). The
events table may hold a property's reading and kind in columns of their own, computed at insert
(`materialized_columns`), so that the text needs no parse at all. Filters that mean the same on the reading as on the
text (`contains_alike`, `is_surely_string`) compare the reading directly.

Where one value is read several times, it is bound once with a lambda over a one-element array (`let`), so the SQL
stays linear in the size of the query.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from query_languages.sql import Sql, clickhouse_inline, sql

# A decimal number's sign, integer digits, fraction digits and exponent.
DECIMAL_PARTS = r"^(-?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?[0-9]+))?$"
# The tokens of compact JSON: strings, runs without separators, and the separators (to space as jsonb does).
JSON_TOKENS = r'"(?:[^"\\]|\\.)*"|[^",:]+|[,:]'
# How `JSONExtractString`'s reading of what is not a string starts (see `JsonText`): `-` or a digit for a number, `[`
# or `{` for a container, nothing (NUL, the first byte `reinterpretAsUInt8` reads of '') for JSON null or a missing
# value; a boolean's reading is its text.
NUMBER_STARTS = "-0123456789"
OTHER_STARTS = "\0" + NUMBER_STARTS + "[{"
# The readings starting like a number whose text may not be the reading: a whole number (a float's text ends in
# `.0`), an exponent (a number's text is plain), `-0` (a number's text has no negative zero).
NUMBER_NOT_ITS_TEXT = r"^-0|^-?[0-9]+(?:(?:\.[0-9]+)?[eE][-+]?[0-9]+)?$"
NUMBER_CHARACTERS = "0123456789.eE+-"  # all a number's reading or text is made of
VALUE_STARTS = '"' + NUMBER_STARTS + "[{tfn"  # how a JSON value (or an object's key) starts
# A property that may have materialised columns: its key is written into their (backquoted) names.
MATERIALIZABLE_KEY = re.compile(r"[A-Za-z0-9_$.-]{1,100}")
# What JSONType answers (the type of a materialised property's kind column).
JSON_TYPE = (
    "Enum8('Null' = 0, 'String' = 34, 'Array' = 91, 'Bool' = 98, 'Double' = 100, 'Int64' = 105, "
    "'UInt64' = 117, 'Object' = 123)"
)


def let(value: Sql, name: str, body: Sql) -> Sql:
    """`body` with `name` bound to `value`, which is evaluated once however often `body` reads it."""
    return sql(f"arrayMap({name} -> {{}}, [{{}}])[1]", body, value)


def of_text(text: Sql, test: Callable[[Sql], Sql]) -> Sql:
    """`test` of a text, on a JSON value's reading where that is its text (see `JsonText`). `test` reads its argument
    once (`let` binds it otherwise) and writes nothing long twice."""
    return text.each(test) if isinstance(text, JsonText) else test(text)


def reading_of(text: Sql) -> Sql:
    """A JSON value's reading (see `JsonText`); any other text itself."""
    return text.reading if isinstance(text, JsonText) else text


def first_byte_in(text: Sql, characters: str) -> Sql:
    """Whether `text` starts with one of `characters` (NUL for '')."""
    return sql(f"(reinterpretAsUInt8({{}}) IN ({', '.join(str(ord(c)) for c in characters)}))", text)


def plain_number(raw: Sql) -> Sql:
    """A number's text in plain notation, as PostgreSQL prints a numeric: `1e21` → `1000000000000000000000`,
    `1.5e-7` → `0.00000015`, `-0` → `0` (the fraction keeps the digits the notation implies)."""
    point = Sql("length(__g[2]) + toInt64OrZero(__g[4])")
    digits = Sql("concat(__g[2], __g[3])")
    integer = sql(
        "multiIf(__p <= 0, '', __p >= length(__a), concat(__a, repeat('0', toUInt64(greatest(__p - length(__a), 0)))), "
        "substring(__a, 1, __p))"
    )
    fraction = sql(
        "multiIf(__p <= 0, concat(repeat('0', toUInt64(greatest(-__p, 0))), __a), __p >= length(__a), '', "
        "substring(__a, __p + 1))"
    )
    shaped = sql(
        "arrayMap((__i, __f) -> concat(if(match(__a, {}), '', __g[1]), if(__i = '', '0', __i), "
        "if(__f = '', '', concat('.', __f))), [trimLeft({}, '0')], [{}])[1]",
        "^0*$",
        integer,
        fraction,
    )
    split = sql("arrayMap((__a, __p) -> {}, [{}], [{}])[1]", shaped, digits, point)
    return sql("if(match({}, {}), arrayMap(__g -> {}, [extractGroups({}, {})])[1], {})", raw, "[eE]|^-0", split,
               raw, DECIMAL_PARTS, raw)  # fmt: skip


@dataclass(frozen=True)
class JsonText(Sql):
    """The text of a JSON value (as `json_text.json_as_text` reads it; NULL when missing or JSON null), which keeps
    how it was read, so that what is computed from it can mostly skip the rest.

    `reading` is `JSONExtractString`, one parse of the document: a string's value, '' for a missing value or JSON null,
    and any other value's raw text as ClickHouse re-prints it (`5.0` as `5`, `1e-7` as `1e-7`, containers without
    spaces), which starts with `-`, a digit, `[` or `{`, or is `true` or `false`. So the reading is the text (`known`)
    when its first byte is none of those (a string's, or a boolean's, whose text it is), or when it starts like a
    number but is not one whose text differs from its raw text. Only the rest ask `JSONType` (a second parse) what they
    are (`other`): a number's text is rebuilt in plain notation, with `.0` after a whole float below 1e16 (how orjson
    and Python's repr wrote it and jsonb kept it); a container's is spaced as jsonb prints it.

    The reading is short, so it is written wherever it is read: ClickHouse evaluates it once, except inside what it
    evaluates lazily, where the `if` choosing between reading and `other` parses the document twice (not more)."""

    reading: Sql = field(kw_only=True)
    kind: Sql = field(kw_only=True)  # JSONType
    known: Sql = field(kw_only=True)
    other: Sql = field(kw_only=True)

    def each(self, test: Callable[[Sql], Sql]) -> Sql:
        """`test` of the text, with the reading where it is the text (`test` must read its argument once)."""
        return sql("if({}, {}, {})", self.known, test(self.reading), test(self.other))


def json_text(document: Sql, keys: Sql) -> JsonText:
    return json_text_of(sql("JSONExtractString({}, {})", document, keys), sql("JSONType({}, {})", document, keys))


def json_text_of(reading: Sql, kind: Sql, *, kind_is_stored: bool = False) -> JsonText:
    """The text of a JSON value from its reading (`JSONExtractString`) and its kind (`JSONType`). A stored kind
    (a column) says at once that the reading is the text, a string's or a boolean's (`other` gives every other
    value's); a computed one is a second parse, so the reading's first byte and shape are asked first."""
    if kind_is_stored:
        known = sql("({} IN ('String', 'Bool'))", kind)
    else:
        known = sql("(NOT {} OR ({} AND NOT match({}, {})))", first_byte_in(reading, OTHER_STARTS),
                    first_byte_in(reading, NUMBER_STARTS), reading, NUMBER_NOT_ITS_TEXT)  # fmt: skip
    spaced = sql("arrayStringConcat(arrayMap(__t -> if(__t IN (',', ':'), concat(__t, ' '), __t), "
                 "extractAll({}, {})))", reading, JSON_TOKENS)  # fmt: skip
    whole = sql("if({} = 'Double' AND abs(toFloat64OrZero({})) < 1e16, concat(if({} = '-0', '0', {}), '.0'), {})",
                kind, reading, reading, reading, reading)  # fmt: skip
    other = sql("multiIf({} = 'String', {}, ifNull({} = '', TRUE), NULL, {} IN ('Array', 'Object'), {}, "
                "match({}, {}), {}, {})", kind, reading, reading, kind, spaced, reading, r"^-?[0-9]+$", whole,
                plain_number(reading))  # fmt: skip
    text = sql("if({}, {}, {})", known, reading, other)
    return JsonText(text.text, text.params, reading=reading, kind=kind, known=known, other=other)


def materialized_columns(key: str) -> list[tuple[str, str, str]]:
    """The columns (name, type, expression) that hold the event property `key`'s reading and kind, computed at insert
    from `properties` by the very functions `json_text` applies to it, so that its text computed from them is the
    same. (The text itself is a long expression: ClickHouse analyses it again for every insert, 25 ms a column.)"""
    if not MATERIALIZABLE_KEY.fullmatch(key):
        raise ValueError(f"not a property key that can be materialised: {key!r}")
    return [(f"mat_{key}", "String", clickhouse_inline(sql("JSONExtractString(properties, {})", key))),
            (f"mattype_{key}", JSON_TYPE, clickhouse_inline(sql("JSONType(properties, {})", key)))]  # fmt: skip


def json_number(text: JsonText) -> Sql:
    """The JSON number whose text this is (NULL for anything else, a numeric string included): its reading is its raw
    text."""
    return sql("if(match({}, {}) AND {} != 'String', toFloat64OrNull({}) + 0, NULL)", text.reading, "^-?[0-9]",
               text.kind, text.reading)  # fmt: skip


def contains_alike(pattern: str) -> bool:
    """Whether the ILIKE `pattern` is `%text%` (`like_pattern`'s) for a `text` that a JSON value's reading contains
    exactly when its text does (see `JsonText`). A missing value's reading '' contains no text (and its NULL text
    nothing). No number's reading or text has a character outside `0-9.eE+-`. A container's text is its reading with
    a space after each `,` and `:` that separates items, which is always followed by a value or a key: a text without
    spaces is found across none of them unless one of its own `,` or `:` is followed by what may start a value or a
    key. Strings and booleans read as their text."""
    found = re.fullmatch(r"%((?:[^\\%_]|\\[\\%_])+)%", pattern, re.DOTALL)
    if found is None:
        return False
    text = re.sub(r"\\(.)", r"\1", found.group(1), flags=re.DOTALL)
    separated = any(a in ",:" and b.lower() in VALUE_STARTS for a, b in itertools.pairwise(text))
    return not set(text) <= set(NUMBER_CHARACTERS) and " " not in text and not separated


def is_surely_string(text: str) -> bool:
    """Whether `text` can only be a JSON string's text, and so is its reading: no other value's text is '' or
    starts with `-`, a digit, `[` or `{` or is `true` or `false`."""
    return text != "" and text[0] not in OTHER_STARTS and text not in ("true", "false")
