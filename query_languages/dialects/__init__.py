"""The SQL databases HogQL and property filters are printed for: what every one must say (`base.Dialect`), what
they all say alike (`base.BaseDialect`), and PostgreSQL's and ClickHouse's own writing, each given the physical
schema (tables, SQL functions) its caller keeps events in."""

from query_languages.dialects.base import BaseDialect, Dialect
from query_languages.dialects.clickhouse import ClickHouseDialect, ClickHouseSchema
from query_languages.dialects.clickhouse_json import materialized_columns
from query_languages.dialects.postgres import PostgresDialect, PostgresSchema

__all__ = [
    "BaseDialect",
    "ClickHouseDialect",
    "ClickHouseSchema",
    "Dialect",
    "PostgresDialect",
    "PostgresSchema",
    "materialized_columns",
]
