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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import orjson
import psycopg
import structlog
from django.conf import settings

from events.clickhouse.client import ClickHouseClient, ClickHouseError, ClickHouseUnavailable, client_for_url
from events.clickhouse.schema import EVENTS_TABLE
from events.errors import events_store_unavailable, query_refused, query_timeout
from events.records import EventInput, EventRow, Order
from events.store import ROW_COLUMNS, NewEvents, event_row, page_statement
from query_languages import ClickHouseDialect, Sql, clickhouse_bind, join, sql

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


class ClickHouseStore:
    name = "clickhouse"

    def __init__(self, client: ClickHouseClient) -> None:
        self.client = client
        self.table = f"{client.database}.{EVENTS_TABLE}"
        # The columns `clickhouse_migrate` (run by `serve`) gives these properties.
        self.dialect = ClickHouseDialect(database=client.database,
                                         materialized=settings.CLICKHOUSE_MATERIALIZED_PROPERTIES)  # fmt: skip

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
    def capture(self, cursor: psycopg.Cursor[Any], *, team_id: int, events: Sequence[EventInput], created_at: datetime,
                on_new: NewEvents | None) -> int:  # fmt: skip
        first_of: dict[uuid.UUID, EventInput] = {}
        for event in events:
            first_of.setdefault(event.uuid, event)
        unique = list(first_of.values())
        buckets = sorted({e.uuid.int % LOCK_BUCKETS for e in unique})
        cursor.execute("SELECT pg_advisory_xact_lock(%b, b) FROM unnest(%b::int[]) AS b", (LOCK_NAMESPACE, buckets))
        # The check runs in ClickHouse while PostgreSQL stamps the persons and the rows are written (chdb and the
        # HTTP client both release the GIL); the rows of uuids already stored are then dropped.
        checking = _CHECKS.submit(self._stored, team_id, unique)
        try:
            lines = self._rows(cursor, team_id, unique, created_at)
        finally:
            stored = checking.result()
        fresh = [e for e in unique if e.uuid not in stored]
        if on_new:
            # Every uuid of the batch, the ones already held too: a batch whose insert was stored but whose answer
            # was lost rolled back its PostgreSQL side, and its retry must record that side again (hooks are
            # idempotent per event: online runs are keyed by evaluation and event).
            on_new({e.uuid for e in unique})
        if fresh:
            body = b"\n".join(line for event, line in zip(unique, lines, strict=True) if event.uuid not in stored)
            self._call(lambda: self.client.insert(self.table, INSERT_COLUMNS, body, INSERT_SETTINGS))
        return len(fresh)

    def _stored(self, team_id: int, events: Sequence[EventInput]) -> set[uuid.UUID]:
        """Which of `events` ClickHouse already holds (looked for within RETRY_WINDOW of their times)."""
        times = [e.timestamp for e in events]
        # PREWHERE: the uuids are read first, the times of the few that match only.
        rows = self._query(sql(f"SELECT e.uuid FROM {self.table} AS e PREWHERE e.uuid IN {{}} WHERE e.team_id = {{}} "
                               "AND e.timestamp >= {} AND e.timestamp <= {}", [e.uuid for e in events], team_id,
                               min(times) - RETRY_WINDOW, max(times) + RETRY_WINDOW))  # fmt: skip
        return {event_uuid for (event_uuid,) in rows}

    def _rows(self, cursor: psycopg.Cursor[Any], team_id: int, events: Sequence[EventInput], created_at: datetime
              ) -> list[bytes]:  # fmt: skip
        """Each event's JSONCompactEachRow line, stamped with its person as it is now. PostgreSQL writes each
        person's part of the row (uuid, properties, created_at) as JSON, so no person value is decoded here."""
        cursor.execute(
            "SELECT pdi.distinct_id, concat_ws(',', to_json(p.uuid), p.properties::text, to_json(p.created_at)) "
            "FROM events_persondistinctid AS pdi JOIN events_person AS p ON p.id = pdi.person_id "
            "WHERE pdi.team_id = %b AND pdi.distinct_id = ANY(%b)",
            (team_id, sorted({e.distinct_id for e in events})),
        )
        persons = {distinct_id: person.encode() for distinct_id, person in cursor.fetchall()}
        lines = []
        for e in events:
            event = orjson.dumps([team_id, e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, created_at,
                                  e.elements_chain])  # fmt: skip
            lines.append(b"%b,%b]" % (event[:-1], persons.get(e.distinct_id, NO_PERSON)))
        return lines

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

    def run_query(self, statement: Sql) -> list[tuple[Any, ...]]:
        # readonly = 2: nothing may be written, but the query may still carry its own settings.
        limits = {"readonly": 2, "max_execution_time": settings.QUERY_TIMEOUT_SECONDS}
        try:
            return self._query(statement, limits, user_written=True)
        except ClickHouseError as error:
            if error.code == TIMEOUT_EXCEEDED:
                raise query_timeout() from None
            raise query_refused(str(error)) from None


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
