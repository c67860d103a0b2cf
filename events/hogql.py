"""HogQL statements run on the events store: parsed and printed by `query_languages`, executed read-only under a
statement timeout, limited as PostHog limits them, and every failure a domain error (never a bare 500)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from environments.models import Team
from events.selectors import postgres_regex_problem
from posthog_clone.errors import DomainError, Timeout
from query_languages import (
    Context,
    HogQLError,
    PostgresDialect,
    constant_int,
    parse_select,
    print_select,
    team_timezone,
)

DEFAULT_ROWS = 100
MAX_ROWS = 50_000


@dataclass(frozen=True)
class HogQLResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    # Set when this server chose the limit (none given, or one above MAX_ROWS): whether rows were left out.
    has_more: bool | None
    limit: int | None
    offset: int | None


def hogql_error(error: HogQLError) -> DomainError:
    return DomainError(str(error), code=error.code)


def query_timeout() -> DomainError:
    return Timeout(
        f"Query has hit the max execution time ({settings.QUERY_TIMEOUT_SECONDS:g} s) before completing.",
        code="query_timeout",
    )


def hogql_select(*, team: Team, query: str, values: Mapping[str, Any] | None, now: datetime) -> HogQLResult:
    """Run one HogQL SELECT for `team`. Without a LIMIT it returns DEFAULT_ROWS rows and says whether there were
    more; a LIMIT above MAX_ROWS is capped, and the result says so."""
    try:
        parsed = parse_select(query, values=values)
        asked = constant_int(parsed.limit, what="LIMIT")
        offset = constant_int(parsed.offset, what="OFFSET") or 0
        limit = DEFAULT_ROWS if asked is None else min(asked, MAX_ROWS)
        context = Context(team_id=team.id, timezone=team.timezone, tz=team_timezone(team.timezone), now=now,
                          regex_problem=postgres_regex_problem)  # fmt: skip
        printed = print_select(parsed, dialect=PostgresDialect(), context=context, text=query, limit=limit + 1,
                               offset=offset)  # fmt: skip
    except HogQLError as error:
        raise hogql_error(error) from None
    rows = _execute(printed.sql.text, printed.sql.params)
    chosen_by_us = asked is None or asked > MAX_ROWS
    return HogQLResult(
        columns=[column.name for column in printed.columns],
        types=[column.type for column in printed.columns],
        rows=rows[:limit],
        sql=printed.sql.text,
        has_more=len(rows) > limit if chosen_by_us else None,
        limit=limit if chosen_by_us else None,
        offset=offset if chosen_by_us else None,
    )


def _execute(text: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Read-only, bounded in time; the database's refusals become 400s and its timeout a 504."""
    timeout_ms = int(settings.QUERY_TIMEOUT_SECONDS * 1000)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            cursor.execute(text, params)
            return cursor.fetchall()
    except DatabaseError as error:
        cause = error.__cause__
        if isinstance(cause, psycopg.errors.QueryCanceled):
            raise query_timeout() from None
        if isinstance(cause, psycopg.errors.DataError | psycopg.errors.ProgrammingError):
            message = str(cause).split("\n")[0]
            raise DomainError(f"The query could not run: {message}", code="hogql_query_error") from None
        raise
