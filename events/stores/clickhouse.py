"""Events in ClickHouse. Persons stay in PostgreSQL: the write path resolves them there (in the caller's
transaction) and stamps each event with its person as of ingestion (`person_id`, `person_properties`,
`person_created_at`, PostHog's persons-on-events), so reads never join back to PostgreSQL.

Nothing lost, nothing doubled: the batch is written to ClickHouse inside the PostgreSQL transaction, after the
persons and before the commit, so a failure of either store fails the request (503) and the client retries. A retry
finds the uuids ClickHouse already holds and stores only the rest; writers of the same uuids take the same
PostgreSQL advisory locks first, so two of them never both see a uuid as new. So a uuid has one row, and reads
count it once without FINAL (which merges parts on every read: 7-12x slower at 1M events here); an insert the
transport sends twice is dropped by ClickHouse's insert deduplication.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import orjson
import psycopg
import structlog
from django.conf import settings

from events.errors import events_store_unavailable, query_refused, query_timeout
from events.records import EventInput, EventRow, Order, PersonStamp
from events.sql_schema import clickhouse_dialect
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
from events.stores.clickhouse_client import ClickHouseClient, ClickHouseError, ClickHouseUnavailable, client_for_url
from events.stores.clickhouse_schema import EVENTS_TABLE
from query_languages import Sql, clickhouse_bind, join, materialized_columns, sql

# Writers lock the buckets their uuids fall in (at most this many locks per batch, in bucket order).
LOCK_BUCKETS = 64
LOCK_NAMESPACE = 0x65766E74  # "evnt": keeps these advisory locks apart from any other use
# A retry is recognised if its events' times are within this of the first attempt's. SDKs stamp events themselves
# and the server corrects them by `sent_at`, so a retry moves them by the network's jitter only; an event sent
# without a time is stamped on arrival, so its retry must come within the window. Wider costs every batch more:
# the check reads the uuids of this much of the project's events.
RETRY_WINDOW = timedelta(hours=1)
TIMEOUT_EXCEEDED = 159
INSERT_COLUMNS = ["team_id", "uuid", "event", "distinct_id", "properties", "timestamp", "created_at",
                  "elements_chain", "person_id", "person_properties", "person_created_at"]  # fmt: skip
# Rows travel as JSONCompactEachRow with orjson's RFC 3339 times, and properties as JSON objects that ClickHouse
# keeps as their text (serialising them once, not once more as an escaped string).
INSERT_SETTINGS = {"date_time_input_format": "best_effort", "input_format_json_read_objects_as_strings": 1}

# An event without a person: person_id, person_properties, person_created_at.
NO_PERSON = b'null,"{}",null'
# Threads that run the exactly-once check of a batch beside its PostgreSQL work (one per concurrent batch).
_CHECKS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="clickhouse-check")

T = TypeVar("T")
logger = structlog.get_logger(__name__)


class _ClickHouseStatsSql:
    """A property with materialised columns (CLICKHOUSE_MATERIALIZED_PROPERTIES) is read from them, as the dialect
    reads it: its reading (JSONExtractString's) and its kind (JSONType's) were computed at insert, so the evaluation's
    properties need no parse of each event's JSON when they are listed there."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect

    def _columns(self, key: str) -> tuple[Sql, Sql] | None:
        if key not in self.dialect.materialized:
            return None
        (reading, _, _), (kind, _, _) = materialized_columns(key)
        return Sql(f"e.`{reading}`"), Sql(f"e.`{kind}`")

    def is_json(self, key: str, literal: str) -> Sql:
        columns = self._columns(key)
        if columns is None:
            return sql(f"JSONExtractRaw(e.properties, {{}}) = '{literal}'", key)
        return sql(f"({{}} = 'Bool' AND {{}} = '{literal}')", columns[1], columns[0])

    def text(self, key: str) -> Sql:
        columns = self._columns(key)
        return columns[0] if columns is not None else sql("JSONExtractString(e.properties, {})", key)

    def has(self, key: str) -> Sql:
        columns = self._columns(key)
        return sql("{} != 'Null'", columns[1]) if columns is not None else sql("JSONHas(e.properties, {})", key)

    def number(self, key: str) -> Sql:
        columns = self._columns(key)
        if columns is not None:
            return sql("if({} IN ('Int64', 'UInt64', 'Double'), toFloat64OrNull({}), NULL)", columns[1], columns[0])
        return sql("if(JSONType(e.properties, {}) IN ('Int64', 'UInt64', 'Double'), "
                   "toNullable(JSONExtractFloat(e.properties, {})), NULL)", key, key)  # fmt: skip

    def strings(self, key: str) -> Sql:
        columns = self._columns(key)
        if columns is not None:
            return sql("if({} = 'Array', JSONExtract({}, 'Array(String)'), [])", columns[1], columns[0])
        return sql("JSONExtract(e.properties, {}, 'Array(String)')", key)

    def null_text(self) -> Sql:
        return Sql("CAST(NULL AS Nullable(String))")

    def in_list(self, value: Sql, values: list[str]) -> Sql:
        return sql("{} IN {}", value, values)

    def bucket(self, unit: str, timezone: str) -> Sql:
        # ClickHouse's own functions, in the zone (the dialect's `start_of` also reaches before 1970, which results
        # never are, at the cost of an array per row); weeks from Sunday (mode 0), as PostgreSQL's are here.
        start = {"hour": "toStartOfHour(e.timestamp, {})", "day": "toStartOfDay(e.timestamp, {})",
                 "week": "toDateTime(toStartOfWeek(e.timestamp, 0, {}), {})",
                 "month": "toDateTime(toStartOfMonth(e.timestamp, {}), {})"}[unit]  # fmt: skip
        return sql(f"toInt64(toUnixTimestamp({start}))", *[timezone] * start.count("{}"))

    def count_if(self, condition: Sql) -> Sql:
        return sql("countIf({})", condition)

    def quantile(self, level: float, value: Sql) -> Sql:
        # Linear interpolation between the closest ranks: PostgreSQL's percentile_cont.
        return sql(f"quantileExactInclusive({level})({{}})", value)

    def text_order(self, value: Sql) -> Sql:
        return value  # ClickHouse compares strings by their bytes

    def unnest(self, relation: str, array: str, alias: str) -> Sql:
        return Sql(f"{relation} ARRAY JOIN {array} AS {alias}")


class ClickHouseStore:
    name = "clickhouse"

    def __init__(self, client: ClickHouseClient) -> None:
        self.client = client
        self.table = f"{client.database}.{EVENTS_TABLE}"
        # The columns `clickhouse_migrate` (run by `serve`) gives these properties.
        self.dialect = clickhouse_dialect(client.database, materialized=settings.CLICKHOUSE_MATERIALIZED_PROPERTIES)

    def _call(self, call: Callable[[], T], *, user_written: bool = False) -> T:
        """A refusal of a statement holding what a user wrote is theirs (the caller answers 400); a refusal of one of
        ours (a write, an internal read) means ClickHouse cannot serve now, as when it is down: 503, never a 500."""
        try:
            return call()
        except ClickHouseUnavailable:
            raise events_store_unavailable() from None
        except ClickHouseError as error:
            if user_written:
                raise
            logger.warning("clickhouse_refused", error=str(error))
            raise events_store_unavailable() from None

    def _query(self, statement: Sql, settings: Mapping[str, Any] | None = None, *,
               user_written: bool = False) -> list[tuple[Any, ...]]:  # fmt: skip
        text, params = clickhouse_bind(statement)
        return self._call(lambda: self.client.query(text, params, settings), user_written=user_written).rows

    def regex_problem(self, pattern: str) -> str | None:
        # The dialect's RE2 check, in Python: no round trip, and the same answer HogQL gets on this store.
        return self.dialect.regex_problem(pattern)

    # --- writes ------------------------------------------------------------------------------------------
    def begin_capture(self, cursor: psycopg.Cursor[Any], *, team_id: int, events: Sequence[EventInput],
                      report_new: bool) -> _ClickHouseWrite:  # fmt: skip
        first_of: dict[uuid.UUID, EventInput] = {}
        for event in events:
            first_of.setdefault(event.uuid, event)
        unique = list(first_of.values())
        # The locks come first in the transaction, before any person's row lock: every writer takes them in that
        # order, so two batches wait for each other, never deadlock. Scoped by project, as uuids are.
        keys = sorted({(team_id % 2**25) * LOCK_BUCKETS + e.uuid.int % LOCK_BUCKETS for e in unique})
        cursor.execute("SELECT pg_advisory_xact_lock(%b, k) FROM unnest(%b::int[]) AS k", (LOCK_NAMESPACE, keys))
        # The check runs in ClickHouse while PostgreSQL resolves and stamps the persons (chdb and the HTTP client
        # both release the GIL); the rows of uuids already stored are dropped when writing.
        return _ClickHouseWrite(self, team_id, unique, _CHECKS.submit(self._stored, team_id, unique))

    def _insert(self, body: bytes) -> None:
        self._call(lambda: self.client.insert(self.table, INSERT_COLUMNS, body, INSERT_SETTINGS))

    def _stored(self, team_id: int, events: Sequence[EventInput]) -> set[uuid.UUID]:
        """Which of `events` ClickHouse already holds (looked for within RETRY_WINDOW of their times)."""
        times = [e.timestamp for e in events]
        # PREWHERE: the uuids are read first, the times of the few that match only.
        rows = self._query(sql(f"SELECT e.uuid FROM {self.table} AS e PREWHERE e.uuid IN {{}} WHERE e.team_id = {{}} "
                               "AND e.timestamp >= {} AND e.timestamp <= {}", [e.uuid for e in events], team_id,
                               min(times) - RETRY_WINDOW, max(times) + RETRY_WINDOW))  # fmt: skip
        return {event_uuid for (event_uuid,) in rows}

    # --- reads -------------------------------------------------------------------------------------------
    def one_of(self, column: str, values: list[str]) -> Sql:
        return sql(f"{column} IN {{}}", values)

    def page(self, *, team_id: int, conditions: list[Sql], needs_person: bool, order: Order, limit: int,
             offset: int, user_written: bool) -> list[EventRow]:  # fmt: skip
        statement = page_statement(source=f"{self.table} AS e", team_id=team_id, conditions=conditions,
                                   order=order, limit=limit, offset=offset)  # fmt: skip
        try:
            return [event_row(values) for values in self._query(statement, user_written=user_written)]
        except ClickHouseError as error:
            raise query_refused(str(error)) from None

    def by_uuid(self, *, team_id: int, uuids: Collection[uuid.UUID]) -> list[tuple[EventRow, datetime]]:
        rows = self._query(sql(f"SELECT {ROW_COLUMNS}, e.created_at FROM {self.table} AS e "
                               "WHERE e.team_id = {} AND e.uuid IN {}", team_id, sorted(uuids)))  # fmt: skip
        return [(event_row(row[:6]), row[6]) for row in rows]

    def event_names(self, *, team_id: int, limit: int) -> list[str]:
        rows = self._query(sql(f"SELECT DISTINCT e.event FROM {self.table} AS e WHERE e.team_id = {{}} "
                               "ORDER BY e.event LIMIT {}", team_id, limit))  # fmt: skip
        return [name for (name,) in rows]

    def recent_values(self, *, team_id: int, key: str, since: datetime, event_names: list[str] | None,
                      scan_limit: int) -> list[Any]:  # fmt: skip
        conditions = [sql("e.team_id = {}", team_id), sql("e.timestamp >= {}", since),
                      sql("JSONHas(e.properties, {})", key)]  # fmt: skip
        if event_names:
            conditions.append(sql("e.event IN {}", event_names))
        rows = self._query(
            sql(
                f"SELECT DISTINCT item FROM (SELECT JSONExtractRaw(e.properties, {{}}) AS raw FROM {self.table} AS e "
                "WHERE {} ORDER BY e.timestamp DESC LIMIT {}) "
                "ARRAY JOIN if(JSONType(raw) = 'Array', JSONExtractArrayRaw(raw), [raw]) AS item WHERE item != 'null'",
                key,
                join(" AND ", conditions),
                scan_limit,
            )
        )
        return [orjson.loads(item) for (item,) in rows]

    def evaluation_stats(self, query: EvaluationStatsQuery) -> EvaluationStats:
        main, categories = evaluation_stats_statements(_ClickHouseStatsSql(self.dialect), source=f"{self.table} AS e",
                                                       query=query)  # fmt: skip
        # As HogQL runs: read-only and bounded in time, and a breakdown ClickHouse refuses is a 400.
        seconds = settings.QUERY_TIMEOUT_SECONDS
        rows = self.run_query(main, seconds=seconds)
        return evaluation_stats_rows(rows, self.run_query(categories, seconds=seconds) if categories else None)

    def run_query(self, statement: Sql, *, seconds: float) -> list[tuple[Any, ...]]:
        if seconds <= 0:
            raise query_timeout()
        # readonly = 2: nothing may be written, but the query may still carry its own settings.
        limits = {"readonly": 2, "max_execution_time": max(0.001, seconds)}
        try:
            return self._query(statement, limits, user_written=True)
        except ClickHouseError as error:
            if error.code == TIMEOUT_EXCEEDED:
                raise query_timeout() from None
            raise query_refused(str(error)) from None


@dataclass
class _ClickHouseWrite:
    store: ClickHouseStore
    team_id: int
    unique: list[EventInput]  # the batch, each uuid once
    checking: Future[set[uuid.UUID]]
    needs_persons = True

    rows: bytes = b""  # what `write` inserts, made by `stage`

    def stage(self, *, created_at: datetime, persons: Mapping[str, PersonStamp]) -> StagedCapture:
        stored = self.checking.result()
        fresh = [e for e in self.unique if e.uuid not in stored]
        self.rows = b"\n".join(_row(self.team_id, e, created_at, persons.get(e.distinct_id)) for e in fresh)
        # Every uuid of the batch, the ones already held too: a batch whose insert was stored but whose answer was
        # lost rolled back its PostgreSQL side, and its retry must record that side again.
        return StagedCapture(len(fresh), {e.uuid for e in self.unique})

    def write(self) -> None:
        if self.rows:
            self.store._insert(self.rows)


def _row(team_id: int, e: EventInput, created_at: datetime, person: PersonStamp | None) -> bytes:
    """The event's JSONCompactEachRow line, stamped with its person as it is now (the person's properties are
    written as PostgreSQL wrote them, never decoded here)."""
    event = orjson.dumps([team_id, e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, created_at,
                          e.elements_chain])  # fmt: skip
    if person is None:
        return b"%b,%b]" % (event[:-1], NO_PERSON)
    return b'%b,"%b",%b,%b]' % (event[:-1], person.uuid.encode(), person.properties_json.encode(),
                                person.created_at_json.encode())  # fmt: skip


@cache
def clickhouse_store(url: str) -> ClickHouseStore:
    """One store (and client) per URL and process."""
    return ClickHouseStore(client_for_url(url, timeout_seconds=settings.CLICKHOUSE_TIMEOUT_SECONDS))


def clickhouse_problem() -> str | None:
    """Why ClickHouse cannot serve events now (for `/_readyz`), or None."""
    try:
        clickhouse_store(settings.CLICKHOUSE_URL).client.query("SELECT 1")
    except (ClickHouseUnavailable, ClickHouseError) as error:
        return str(error) or type(error).__name__
    return None
