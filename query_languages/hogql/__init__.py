"""HogQL: parsed into an immutable tree, resolved against the tables it may read, printed as parameterised SQL
for one dialect (PostgreSQL or ClickHouse; the semantics live above the dialect, in `printer`)."""

from query_languages.hogql.clickhouse import ClickHouseDialect, materialized_columns
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.parser import parse_column, parse_expr, parse_order, parse_select
from query_languages.hogql.postgres import PostgresDialect
from query_languages.hogql.printer import (
    Context,
    Dialect,
    Extra,
    PrintedColumn,
    PrintedSelect,
    constant_int,
    has_aggregate,
    print_condition,
    print_select,
)

__all__ = [
    "ClickHouseDialect",
    "Context",
    "Dialect",
    "Extra",
    "HogQLError",
    "PostgresDialect",
    "PrintedColumn",
    "PrintedSelect",
    "constant_int",
    "has_aggregate",
    "materialized_columns",
    "parse_column",
    "parse_expr",
    "parse_order",
    "parse_select",
    "print_condition",
    "print_select",
]
