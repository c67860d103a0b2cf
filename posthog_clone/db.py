"""Raw-SQL reads for the hot paths: model instances for the lookups on every request (authentication,
project resolution), where compiling an ORM query costs several times the database round trip, and plain rows
for list pages."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from functools import cached_property
from typing import Any, TypeVar

import orjson
from django.db import connection
from django.db.models import Model, QuerySet

ModelT = TypeVar("ModelT", bound=Model)


def select_columns(model: type[Model], alias: str) -> str:
    """`alias.col1, alias.col2, ...` in the order `instance_from_row` expects."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


def instance_from_row(model: type[ModelT], row: tuple[Any, ...], start: int = 0) -> tuple[ModelT, int]:
    """The model instance in `row[start:]` (as laid out by `select_columns`) and the index after it."""
    fields = model._meta.concrete_fields
    values = [field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
              for field, value in zip(fields, row[start : start + len(fields)], strict=True)]  # fmt: skip
    instance = model.from_db(connection.alias, [f.attname for f in fields], values)
    return instance, start + len(fields)


def fetch_one(sql: str, params: list[Any] | tuple[Any, ...]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _parse_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an integer past 64 bits, which only the standard parser reads
        return json.loads(text)


class PlainRows:
    """A filtered queryset read as plain dicts of `columns` without Django's per-value converters (JSON columns,
    named in `json_columns`, are parsed by orjson): for list pages, where those converters cost more than the query.
    Sliced and counted as DRF's paginator slices and counts a queryset."""

    def __init__(self, queryset: QuerySet[Any], *, columns: Sequence[str], json_columns: Collection[str]) -> None:
        self.filtered = queryset
        self.columns = columns
        self.json_columns = json_columns

    @cached_property
    def queryset(self) -> QuerySet[Any, dict[str, Any]]:
        """The rows as `values()`: built only when rows are read (an empty page never needs it)."""
        return self.filtered.values(*self.columns)

    def count(self) -> int:
        # The filtered rows' FROM and WHERE with no columns and no ordering, counted by hand: Django's own count
        # (`get_aggregation`) costs several times this to compile, and is paid on every list request.
        query = self.filtered.query.chain()
        if query.distinct or query.combinator or query.annotations or query.group_by:
            return self.filtered.count()  # shapes whose rows a bare FROM ... WHERE would not count
        query.clear_ordering(force=True)
        query.clear_select_clause()
        sql, params = query.get_compiler(self.filtered.db).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ({sql}) AS filtered", params)
            return cursor.fetchone()[0]

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        window = self.queryset[page]
        names = [*window.query.values_select, *window.query.annotation_select]
        sql, params = window.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        parse = [name in self.json_columns for name in names]
        return [
            {
                name: _parse_json(value) if is_json else value
                for name, value, is_json in zip(names, row, parse, strict=True)
            }
            for row in rows
        ]
