"""Raw-SQL reads that build model instances, for the few lookups on every request's hot path (authentication,
project resolution), where compiling an ORM query costs several times the database round trip."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

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
