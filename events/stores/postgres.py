"""Events in PostgreSQL's `events_event`, in the transaction of the caller. The person of an event is resolved
when read, through `events_persondistinctid`, so a merge shows on every past event at once."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, DataError, ProgrammingError, connection, transaction

from events.errors import query_refused, query_timeout
from events.records import EventInput, EventRow, Order, PersonStamp
from events.sql_schema import PERSON_JOIN, postgres_dialect
from events.stores.base import (
    ROW_COLUMNS,
    EvaluationStats,
    EvaluationStatsQuery,
    StagedCapture,
    evaluation_stats_rows,
    evaluation_stats_statements,
    event_row,
    page_statement,
)
from query_languages import Sql, join, sql

# One statement per batch, the columns as binary arrays. (Sending the batch as one JSON document for
# jsonb_to_recordset was measured too: it moves parsing into PostgreSQL, which shares the same CPUs, and
# ingestion got 20% slower.)
INSERT_EVENTS = """
INSERT INTO events_event (team_id, uuid, event, distinct_id, properties, timestamp, created_at, elements_chain)
SELECT %(team_id)b, x.uuid, x.event, x.distinct_id, x.properties::jsonb, x.timestamp, %(created_at)b, x.chain
FROM unnest(%(uuids)b::uuid[], %(names)b::text[], %(distinct_ids)b::text[], %(properties)b::text[],
            %(timestamps)b::timestamptz[], %(chains)b::text[])
     AS x(uuid, event, distinct_id, properties, timestamp, chain)
ON CONFLICT DO NOTHING
"""
# When someone watches new events, the statement says which rows it inserted: a duplicate uuid is not new.
RETURNING_NEW = " RETURNING uuid"


def run_statement(statement: Sql) -> list[tuple[Any, ...]]:
    """`statement`'s rows, on Django's connection to PostgreSQL (events here; persons in any store)."""
    with connection.cursor() as cursor:
        cursor.execute(statement.text, statement.params)
        return cursor.fetchall()


@dataclass
class _PostgresWrite:
    """The batch is one statement, run after the persons step; the unique index says which uuids are new."""

    cursor: psycopg.Cursor[Any]
    team_id: int
    events: Sequence[EventInput]
    report_new: bool
    needs_persons = False  # the person of an event is resolved when read

    def stage(self, *, created_at: datetime, persons: Mapping[str, PersonStamp]) -> StagedCapture:
        self.cursor.execute(
            INSERT_EVENTS + RETURNING_NEW if self.report_new else INSERT_EVENTS,
            {
                "team_id": self.team_id,
                "created_at": created_at,
                "uuids": [e.uuid for e in self.events],
                "names": [e.event for e in self.events],
                "distinct_ids": [e.distinct_id for e in self.events],
                "properties": [orjson.dumps(e.properties).decode() for e in self.events],
                "timestamps": [e.timestamp for e in self.events],
                "chains": [e.elements_chain for e in self.events],
            },
        )
        inserted = self.cursor.rowcount
        return StagedCapture(inserted, {row[0] for row in self.cursor.fetchall()} if self.report_new else set())

    def write(self) -> None:
        """Nothing left: the rows were written by `stage`, and are stored when the transaction commits."""


def postgres_regex_problem(pattern: str) -> str | None:
    """Why PostgreSQL refuses `pattern`, or None: it compiles a regex only once a row reaches it, so a bad pattern
    would fail some queries and not others."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [pattern])
    except DataError as error:  # Django's wrapper of psycopg's InvalidRegularExpression
        if not isinstance(error.__cause__, psycopg.errors.InvalidRegularExpression):
            raise
        return str(error.__cause__).split("\n")[0].removeprefix("invalid regular expression: ")
    return None


class _PostgresStatsSql:
    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect

    def is_json(self, key: str, literal: str) -> Sql:
        return sql(f"(e.properties -> {{}}) = '{literal}'::jsonb", key)

    def text(self, key: str) -> Sql:
        return sql("(e.properties ->> {})", key)

    def has(self, key: str) -> Sql:
        return sql("(e.properties ? {})", key)

    def number(self, key: str) -> Sql:
        return sql("CASE WHEN jsonb_typeof(e.properties -> {}) = 'number' THEN (e.properties ->> {})::float8 END",
                   key, key)  # fmt: skip

    def strings(self, key: str) -> Sql:
        return sql("CASE WHEN jsonb_typeof(e.properties -> {}) = 'array' THEN e.properties -> {} ELSE '[]'::jsonb END",
                   key, key)  # fmt: skip

    def null_text(self) -> Sql:
        return Sql("NULL::text")

    def in_list(self, value: Sql, values: list[str]) -> Sql:
        return sql("{} = ANY({}::text[])", value, values)

    def bucket(self, unit: str, timezone: str) -> Sql:
        return sql("extract(epoch FROM {})::bigint", self.dialect.start_of(unit, Sql("e.timestamp"), timezone))

    def count_if(self, condition: Sql) -> Sql:
        return sql("count(*) FILTER (WHERE {})", condition)

    def quantile(self, level: float, value: Sql) -> Sql:
        return sql(f"percentile_cont({level}) WITHIN GROUP (ORDER BY {{}})", value)

    def text_order(self, value: Sql) -> Sql:
        return sql('{} COLLATE "C"', value)

    def unnest(self, relation: str, array: str, alias: str) -> Sql:
        return Sql(f"{relation} CROSS JOIN LATERAL jsonb_array_elements_text({relation}.{array}) AS items({alias})")


class PostgresStore:
    name = "postgres"
    dialect = postgres_dialect(regex_check=postgres_regex_problem)

    def regex_problem(self, pattern: str) -> str | None:
        """A pattern must be one RE2 runs (what filters mean on ClickHouse, and without back-references, which make
        PostgreSQL's matcher backtrack for minutes) and one PostgreSQL compiles: the dialect checks both."""
        return self.dialect.regex_problem(pattern)

    def begin_capture(self, cursor: psycopg.Cursor[Any], *, team_id: int, events: Sequence[EventInput],
                      report_new: bool) -> _PostgresWrite:  # fmt: skip
        return _PostgresWrite(cursor, team_id, events, report_new)

    def one_of(self, column: str, values: list[str]) -> Sql:
        return sql(f"{column} = ANY({{}}::text[])", values)

    def page(self, *, team_id: int, conditions: list[Sql], needs_person: bool, order: Order, limit: int,
             offset: int, user_written: bool) -> list[EventRow]:  # fmt: skip
        source = f"events_event AS e {PERSON_JOIN if needs_person else ''}"
        statement = page_statement(source=source, team_id=team_id, conditions=conditions, order=order, limit=limit,
                                   offset=offset)  # fmt: skip
        if not user_written:
            return [event_row(values) for values in run_statement(statement)]
        # Only a page filtered by HogQL pays for the savepoint that keeps a refused statement from breaking the
        # request's transaction.
        try:
            with transaction.atomic():
                return [event_row(values) for values in run_statement(statement)]
        except (DataError, ProgrammingError) as error:
            raise query_refused(str(error.__cause__ or error)) from None

    def by_uuid(self, *, team_id: int, uuids: Collection[uuid.UUID]) -> list[tuple[EventRow, datetime]]:
        rows = run_statement(sql(f"SELECT {ROW_COLUMNS}, e.created_at FROM events_event AS e "
                        "WHERE e.team_id = {} AND e.uuid = ANY({}::uuid[])", team_id, sorted(uuids)))  # fmt: skip
        return [(event_row(row[:6]), row[6]) for row in rows]

    def event_names(self, *, team_id: int, limit: int) -> list[str]:
        """Walks the (team, event) index one name at a time instead of reading every event."""
        rows = run_statement(
            sql(
                "WITH RECURSIVE names(event) AS ("
                " (SELECT e.event FROM events_event AS e WHERE e.team_id = {} ORDER BY e.event LIMIT 1)"
                " UNION ALL"
                " SELECT (SELECT e.event FROM events_event AS e WHERE e.team_id = {} AND e.event > names.event"
                " ORDER BY e.event LIMIT 1) FROM names WHERE names.event IS NOT NULL"
                ") SELECT event FROM names WHERE event IS NOT NULL LIMIT {}",
                team_id,
                team_id,
                limit,
            )
        )
        return [name for (name,) in rows]

    def recent_values(self, *, team_id: int, key: str, since: datetime, event_names: list[str] | None,
                      scan_limit: int) -> list[Any]:  # fmt: skip
        conditions = [sql("e.team_id = {}", team_id), sql("e.timestamp >= {}", since), sql("e.properties ? {}", key)]
        if event_names:
            conditions.append(sql("e.event = ANY({}::text[])", event_names))
        rows = run_statement(
            sql(
                "WITH recent AS (SELECT e.properties -> {} AS value FROM events_event AS e WHERE {} "
                "ORDER BY e.timestamp DESC LIMIT {}) "
                "SELECT DISTINCT item FROM recent, LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(value) = "
                "'array' THEN value ELSE jsonb_build_array(value) END) AS item WHERE jsonb_typeof(item) <> 'null'",
                key,
                join(" AND ", conditions),
                scan_limit,
            )
        )
        return [orjson.loads(value) for (value,) in rows]

    def evaluation_stats(self, query: EvaluationStatsQuery) -> EvaluationStats:
        source = f"events_event AS e {PERSON_JOIN}" if query.group_reads_person else "events_event AS e"
        main, categories = evaluation_stats_statements(_PostgresStatsSql(self.dialect), source=source, query=query)
        # As HogQL runs: read-only and bounded in time, and a breakdown PostgreSQL refuses is a 400.
        seconds = settings.QUERY_TIMEOUT_SECONDS
        rows = self.run_query(main, seconds=seconds)
        return evaluation_stats_rows(rows, self.run_query(categories, seconds=seconds) if categories else None)

    def run_query(self, statement: Sql, *, seconds: float) -> list[tuple[Any, ...]]:
        """Read-only, bounded in time; the database's refusals become 400s and its timeout a 504."""
        if seconds <= 0:
            raise query_timeout()
        timeout_ms = max(1, int(seconds * 1000))
        # Both settings last until the transaction ends: inside a caller's transaction, leave it as it was found.
        inside_another = connection.in_atomic_block
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if not inside_another:
                    cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute("SELECT current_setting('statement_timeout')")
                previous = cursor.fetchone()[0]
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
                cursor.execute(statement.text, statement.params)
                rows = cursor.fetchall()
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
                return rows
        except DatabaseError as error:
            cause = error.__cause__
            if isinstance(cause, psycopg.errors.QueryCanceled):
                raise query_timeout() from None
            if isinstance(cause, psycopg.errors.DataError | psycopg.errors.ProgrammingError):
                raise query_refused(str(cause)) from None
            raise


POSTGRES_STORE = PostgresStore()
