"""The query languages, with no Django in them: PostHog's property filters (their grammar and value semantics),
the SQL they compile to, and the interpreter that matches one event in Python; HogQL (`hogql`: parser, tree,
printer); Hog (`hog`: the scripting language of code evaluators, parsed and run in a sandbox, exported with `hog` in
its names); the SQL dialects both are printed for (`dialects`: PostgreSQL and ClickHouse, each given the caller's
physical schema); and the SQL builder and the date and element-chain readings they share. Every other app imports
this surface only.

The engines answer the same question (does this event match? what does this expression select?) and must agree: the
tests run PostgreSQL, ClickHouse and the interpreter on the same events.
"""

from query_languages.dates import from_unix, parse_filter_datetime, parse_iso, team_timezone
from query_languages.dialects import (
    ClickHouseDialect,
    ClickHouseSchema,
    Dialect,
    PostgresDialect,
    PostgresSchema,
    materialized_columns,
)
from query_languages.elements import elements_to_chain, parse_elements_chain
from query_languages.hog import MAX_SOURCE_LENGTH as HOG_MAX_SOURCE_LENGTH
from query_languages.hog import CompiledProgram as HogProgram
from query_languages.hog import HogCompileError, HogInternalError, HogRuntimeError
from query_languages.hog import compile_program as compile_hog
from query_languages.hog import load_program as load_hog
from query_languages.hog import run as run_hog
from query_languages.hogql import (
    Context,
    Extra,
    HogQLError,
    constant_int,
    has_aggregate,
    parse_column,
    parse_expr,
    parse_order,
    parse_select,
    print_condition,
    print_select,
    print_text,
)
from query_languages.hogql import ast as hogql_ast
from query_languages.json_text import json_as_text
from query_languages.property_filters import (
    MATCH_EVERYTHING,
    PROPERTY_FILTER_SCHEMA,
    PropertyFilterError,
    PropertyGroup,
    parse_property_filters,
)
from query_languages.property_matching import EventView, Matcher, compile_matcher, matches
from query_languages.property_sql import CompiledFilter, compile_filters
from query_languages.regex import pattern_problem
from query_languages.sql import Sql, clickhouse_bind, join, like_pattern, sql

__all__ = [
    "HOG_MAX_SOURCE_LENGTH",
    "MATCH_EVERYTHING",
    "PROPERTY_FILTER_SCHEMA",
    "ClickHouseDialect",
    "ClickHouseSchema",
    "CompiledFilter",
    "Context",
    "Dialect",
    "EventView",
    "Extra",
    "HogCompileError",
    "HogInternalError",
    "HogProgram",
    "HogQLError",
    "HogRuntimeError",
    "Matcher",
    "PostgresDialect",
    "PostgresSchema",
    "PropertyFilterError",
    "PropertyGroup",
    "Sql",
    "clickhouse_bind",
    "compile_filters",
    "compile_hog",
    "compile_matcher",
    "constant_int",
    "elements_to_chain",
    "from_unix",
    "has_aggregate",
    "hogql_ast",
    "join",
    "json_as_text",
    "like_pattern",
    "load_hog",
    "matches",
    "materialized_columns",
    "parse_column",
    "parse_elements_chain",
    "parse_expr",
    "parse_filter_datetime",
    "parse_iso",
    "parse_order",
    "parse_property_filters",
    "parse_select",
    "pattern_problem",
    "print_condition",
    "print_select",
    "print_text",
    "run_hog",
    "sql",
    "team_timezone",
]
