"""HogQL: parsed into an immutable tree, resolved against the tables it may read, printed as parameterised SQL
for one dialect (`query_languages.dialects`: PostgreSQL or ClickHouse; the semantics live above the dialect, in
`printer`)."""

from query_languages.hogql.context import Context
from query_languages.hogql.errors import HogQLError
from query_languages.hogql.parser import parse_column, parse_expr, parse_order, parse_select
from query_languages.hogql.printer import (
    Extra,
    PrintedColumn,
    PrintedSelect,
    check_condition,
    constant_int,
    has_aggregate,
    print_condition,
    print_select,
    print_text,
)

__all__ = [
    "Context",
    "Extra",
    "HogQLError",
    "PrintedColumn",
    "PrintedSelect",
    "check_condition",
    "constant_int",
    "has_aggregate",
    "parse_column",
    "parse_expr",
    "parse_order",
    "parse_select",
    "print_condition",
    "print_select",
    "print_text",
]
