"""The one interface to wherever events are stored (`EventsStore`), and the SQL both stores share. The
implementations (`events.stores.postgres`, `events.stores.clickhouse`) import this module, never the other way;
`events.stores.events_store` chooses one.

A store answers in plain records (`events.records`) and takes conditions already printed for its `dialect`, so
the filters' meaning is decided once, in `query_languages`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
import psycopg

from events.records import Cursor, EventInput, EventRow, Order, PersonStamp
from query_languages import Dialect, Sql, join, sql

# What both SQL stores select for an `EventRow` (`event_row` reads it back).
ROW_COLUMNS = "e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, e.elements_chain"


@dataclass(frozen=True)
class StagedCapture:
    """What a batch will store, told before the store writes it (`PendingCapture.stage`)."""

    stored: int  # how many events the batch stores (a uuid already stored, or repeated, is stored once)
    # The uuids the caller's after-insert hooks must see, when `report_new` was asked (else empty): the ones the
    # batch stores; a second store (which cannot tell an earlier attempt that committed from one that rolled back
    # after writing there) names the ones it already held too, so what the hooks record must be idempotent per event.
    new: set[uuid.UUID]


class PendingCapture(Protocol):
    """A batch a store has begun to write (`EventsStore.begin_capture`), in two phases: `stage` tells what is new,
    the caller runs its after-insert hooks, then `write`. Nothing is stored if the transaction rolls back, except
    what a second store already holds, which a retry recognises."""

    needs_persons: bool  # whether `stage` wants each distinct id's person (PersonUpdater's stamps)

    def stage(self, *, created_at: datetime, persons: Mapping[str, PersonStamp]) -> StagedCapture:
        """Settle which of the batch's events are new; PostgreSQL's rows are written here, inside the transaction
        (its unique index is what tells, and no one else sees them before the commit)."""

    def write(self) -> None:
        """Write what the store keeps outside the PostgreSQL transaction (ClickHouse's rows): after the hooks, so that
        a hook that fails leaves nothing there."""


class EventsStore(Protocol):
    name: str
    dialect: Dialect

    def regex_problem(self, pattern: str) -> str | None:
        """Why this store cannot run `pattern` as a regular expression, or None."""

    def begin_capture(self, cursor: psycopg.Cursor[Any], *, team_id: int, events: Sequence[EventInput],
                      report_new: bool) -> PendingCapture:  # fmt: skip
        """Start storing `events` (sorted by uuid; a uuid already stored, or repeated, is stored once) as part of the
        PostgreSQL transaction `cursor` is in; the caller resolves the batch's persons, then calls `stage`. A store
        may take locks and start work of its own here, so that it overlaps the persons step."""

    def one_of(self, column: str, values: list[str]) -> Sql:
        """`column` (text) is one of `values`."""

    def page(self, *, team_id: int, conditions: list[Sql], needs_person: bool, order: Order, limit: int,
             offset: int, user_written: bool) -> list[EventRow]:  # fmt: skip
        """Events matching `conditions`, newest (or oldest) first, ties by uuid. `user_written`: the conditions
        hold HogQL a user wrote, which the database may still refuse (a DomainError, never a 500)."""

    def by_uuid(self, *, team_id: int, uuids: Collection[uuid.UUID]) -> list[tuple[EventRow, datetime]]:
        """Events by uuid, each with the time it was stored."""

    def event_names(self, *, team_id: int, limit: int) -> list[str]:
        """Distinct event names, in name order."""

    def recent_values(self, *, team_id: int, key: str, since: datetime, event_names: list[str] | None,
                      scan_limit: int) -> list[Any]:  # fmt: skip
        """The distinct JSON values of property `key` (list items one by one, nulls left out) over the newest
        `scan_limit` events since `since` that have it."""

    def run_query(self, statement: Sql, *, seconds: float) -> list[tuple[Any, ...]]:
        """A printed HogQL statement, read-only and stopped after `seconds` (what QUERY_TIMEOUT_SECONDS leaves once
        the query was parsed and printed): Timeout / DomainError."""


def event_row(values: tuple[Any, ...]) -> EventRow:
    """An `EventRow` from the ROW_COLUMNS of a row (properties as JSON text)."""
    event_uuid, event, distinct_id, properties, timestamp, chain = values
    return EventRow(event_uuid, event, distinct_id, orjson.loads(properties), timestamp, chain)


def window_conditions(store: EventsStore, *, events: list[str] | None, distinct_ids: list[str] | None,
                      before: Cursor | None, after: Cursor | None) -> list[Sql]:  # fmt: skip
    """Conditions on `e` for event names, distinct ids and exclusive bounds (a uuid breaks timestamp ties)."""
    conditions = []
    if events is not None:
        conditions.append(store.one_of("e.event", events))
    if distinct_ids is not None:
        conditions.append(store.one_of("e.distinct_id", distinct_ids))
    for bound, comparison in ((before, "<"), (after, ">")):
        if bound is None:
            continue
        if bound.uuid is None:
            conditions.append(sql(f"e.timestamp {comparison} {{}}", bound.timestamp))
        else:
            conditions.append(sql(f"(e.timestamp, e.uuid) {comparison} ({{}}, {{}})", bound.timestamp, bound.uuid))
    return conditions


def page_statement(*, source: str, team_id: int, conditions: list[Sql], order: Order, limit: int,
                   offset: int) -> Sql:  # fmt: skip
    """One page of events from `source` (a FROM clause reading the events as `e`), newest or oldest first, ties
    broken by uuid in the same direction."""
    direction = "DESC" if order == "DESC" else "ASC"
    return sql(
        f"SELECT {ROW_COLUMNS} FROM {source} WHERE {{}} "
        f"ORDER BY e.timestamp {direction}, e.uuid {direction} LIMIT {{}} OFFSET {{}}",
        join(" AND ", [sql("e.team_id = {}", team_id), *conditions]),
        limit,
        offset,
    )
