"""HogQL's types: ClickHouse's type names for what the printer decides each expression is, and `Typed`, a printed
expression with its type."""

from __future__ import annotations

from dataclasses import dataclass

from query_languages.sql import Sql

STRING, NULLABLE_STRING, UUID, BOOL, UINT8 = "String", "Nullable(String)", "UUID", "Bool", "UInt8"
UINT64, INT64, FLOAT64, DATE, NOTHING = "UInt64", "Int64", "Float64", "Date", "Nullable(Nothing)"
NUMBERS = frozenset({UINT8, UINT64, INT64, FLOAT64, BOOL})
INTEGERS = frozenset({UINT8, UINT64, INT64, BOOL})


def datetime_type(timezone: str) -> str:
    return f"DateTime64(6, '{timezone}')"


def base_type(type_: str) -> str:
    return type_.removeprefix("Nullable(").removesuffix(")") if type_.startswith("Nullable(") else type_


def is_datetime(type_: str) -> bool:
    return type_.removeprefix("Nullable(").startswith("DateTime")


def is_string(type_: str) -> bool:
    return type_ in (STRING, NULLABLE_STRING)


@dataclass(frozen=True)
class Typed:
    """A printed expression: its SQL, its ClickHouse type, whether the SQL is a boolean (a condition) rather than
    a value, and whether it aggregates."""

    sql: Sql
    type: str
    condition: bool = False
    aggregate: bool = False
    document: Sql | None = None  # for a whole properties column: the JSON it reads (JSONExtractString's source)
    # for one property (`properties.tags`): the JSON document and the path it reads (has/indexOf read it as an array)
    property: tuple[Sql, tuple[str, ...]] | None = None
    # False only where the value is surely never NULL (a constant, a column, a null-safe comparison): such a side
    # needs no NULL handling in a comparison.
    nullable: bool = True
