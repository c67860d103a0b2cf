"""Reads of events: the list (keyset pages over `(timestamp, uuid)`), one event, and property value suggestions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
import psycopg
from django.db import DataError, ProgrammingError, connection, transaction

from posthog_clone.errors import DomainError
from query_languages import (
    MATCH_EVERYTHING,
    PERSON_JOIN,
    Extra,
    PropertyGroup,
    Sql,
    compile_filters,
    join,
    like_pattern,
    sql,
)

Order = Literal["DESC", "ASC"]
PERSON_DISPLAY_PROPERTIES = ("email", "name", "username")
# Values suggestions read at most this many recent events, so a popular key cannot turn into a full scan.
VALUES_SCAN_LIMIT = 10_000
VALUES_WINDOW = timedelta(days=7)
EVENT_NAMES_LIMIT = 10_000
# PostHog's own events, left out of `key=custom_event` suggestions.
CORE_EVENTS = frozenset(
    {
        "$pageview", "$pageleave", "$autocapture", "$identify", "$create_alias", "$merge_dangerously", "$screen",
        "$set", "$groupidentify", "$feature_flag_called", "$feature_view", "$feature_interaction", "$exception",
        "$rageclick", "$dead_click", "$snapshot", "$web_vitals", "$opt_in", "$survey_shown", "$survey_sent",
        "$survey_dismissed", "$copy_autocapture", "$ai_generation", "$ai_span", "$ai_trace", "$ai_embedding",
        "$ai_evaluation", "$ai_metric", "$ai_feedback", "$heatmap", "$session_start", "$session_end",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Cursor:
    """A position in the list: events strictly past `(timestamp, uuid)` in the page order."""

    timestamp: datetime
    uuid: uuid.UUID | None = None


@dataclass(frozen=True)
class EventRow:
    uuid: uuid.UUID
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    elements_chain: str


@dataclass(frozen=True)
class StoredEvent(EventRow):
    """An event with what is kept about its ingestion and its person (None without a person profile)."""

    created_at: datetime
    person_uuid: uuid.UUID | None


@dataclass(frozen=True)
class PersonSummary:
    id: int
    uuid: uuid.UUID
    is_identified: bool
    first_distinct_id: str
    properties: dict[str, Any]


def _run(statement: Sql) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement.text, statement.params)
        return cursor.fetchall()


def _run_user_query(statement: Sql) -> list[tuple[Any, ...]]:
    """A statement holding conditions a user wrote (HogQL filters): should the database still refuse it, the
    caller gets a 400 and the connection stays usable."""
    try:
        with transaction.atomic():
            return _run(statement)
    except (DataError, ProgrammingError) as error:
        message = str(error.__cause__ or error).split("\n")[0]
        raise DomainError(f"The query could not run: {message}", code="hogql_query_error") from None


def postgres_regex_problem(pattern: str) -> str | None:
    """Why PostgreSQL cannot compile `pattern`, or None. Filters are checked up front because PostgreSQL only
    compiles a regex once a row reaches it, so a bad pattern would otherwise fail some queries and not others."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [pattern])
    except DataError as error:  # Django's wrapper of psycopg's InvalidRegularExpression
        if not isinstance(error.__cause__, psycopg.errors.InvalidRegularExpression):
            raise
        return str(error.__cause__).split("\n")[0].removeprefix("invalid regular expression: ")
    return None


def _row(values: tuple[Any, ...]) -> EventRow:
    event_uuid, event, distinct_id, properties, timestamp, chain = values
    return EventRow(event_uuid, event, distinct_id, orjson.loads(properties), timestamp, chain)


def events_list(
    *,
    team_id: int,
    tz: Any,
    now: datetime,
    event: str | None = None,
    distinct_ids: list[str] | None = None,
    before: Cursor | None = None,
    after: Cursor | None = None,
    properties: PropertyGroup = MATCH_EVERYTHING,
    where: Extra | None = None,
    order: Order = "DESC",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[EventRow], bool]:
    """One page of events and whether more follow. Bounds are exclusive; with a uuid they break timestamp ties
    in the page order, so events sharing a timestamp are neither skipped nor repeated across pages."""
    conditions = [sql("e.team_id = {}", team_id)]
    if event is not None:
        conditions.append(sql("e.event = {}", event))
    if distinct_ids is not None:
        conditions.append(sql("e.distinct_id = ANY({}::text[])", distinct_ids))
    # Events more than a few seconds in the future stay hidden unless asked for, as in PostHog.
    upper = before or Cursor(now + timedelta(seconds=5))
    conditions.append(_bound(upper, "<"))
    if after is not None:
        conditions.append(_bound(after, ">"))
    compiled = compile_filters(properties, tz=tz, now=now)
    conditions.append(compiled.where)
    needs_person = compiled.needs_person
    if where is not None:  # HogQL `where` expressions, printed by the caller
        conditions.append(where.condition)
        needs_person = needs_person or where.needs_person
    direction = "DESC" if order == "DESC" else "ASC"
    statement = sql(
        "SELECT e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, e.elements_chain "
        f"FROM events_event AS e {PERSON_JOIN if needs_person else ''} WHERE {{}} "
        f"ORDER BY e.timestamp {direction}, e.uuid {direction} LIMIT {{}} OFFSET {{}}",
        join(" AND ", conditions),
        limit + 1,
        offset,
    )
    # Only a page filtered by HogQL pays for the savepoint that keeps a refused statement from breaking the request.
    run = _run_user_query if where is not None or compiled.has_hogql else _run
    rows = [_row(values) for values in run(statement)]
    return rows[:limit], len(rows) > limit


def _bound(cursor: Cursor, comparison: str) -> Sql:
    if cursor.uuid is None:
        return sql(f"e.timestamp {comparison} {{}}", cursor.timestamp)
    return sql(f"(e.timestamp, e.uuid) {comparison} ({{}}, {{}})", cursor.timestamp, cursor.uuid)


def event_get(*, team_id: int, event_uuid: uuid.UUID) -> EventRow | None:
    rows = _run(
        sql(
            "SELECT e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, e.elements_chain "
            "FROM events_event AS e WHERE e.team_id = {} AND e.uuid = {}",
            team_id,
            event_uuid,
        )
    )
    return _row(rows[0]) if rows else None


def events_by_uuid(*, team_id: int, uuids: Collection[uuid.UUID]) -> dict[uuid.UUID, StoredEvent]:
    """Events of one project by uuid, with their person's uuid as resolved now."""
    if not uuids:
        return {}
    rows = _run(
        sql(
            "SELECT e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, e.elements_chain, e.created_at, p.uuid "
            "FROM events_event AS e LEFT JOIN events_persondistinctid AS pdi "
            "ON pdi.team_id = e.team_id AND pdi.distinct_id = e.distinct_id "
            "LEFT JOIN events_person AS p ON p.id = pdi.person_id "
            "WHERE e.team_id = {} AND e.uuid = ANY({}::uuid[])",
            team_id,
            sorted(set(uuids)),
        )
    )
    return {
        row[0]: StoredEvent(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5], row[6], row[7])
        for row in rows
    }


def persons_by_distinct_id(*, team_id: int, distinct_ids: list[str]) -> dict[str, PersonSummary]:
    if not distinct_ids:
        return {}
    rows = _run(
        sql(
            # LIMIT 1 keeps the person a lookup by primary key per distinct id: as a plain join the planner
            # hashes the whole persons table once a project has tens of thousands of them.
            "SELECT pdi.distinct_id, p.id, p.uuid, p.is_identified, p.properties, first.distinct_id "
            "FROM events_persondistinctid AS pdi CROSS JOIN LATERAL (SELECT pp.id, pp.uuid, pp.is_identified, "
            "pp.properties FROM events_person AS pp WHERE pp.id = pdi.person_id LIMIT 1) AS p "
            "CROSS JOIN LATERAL (SELECT f.distinct_id FROM events_persondistinctid AS f "
            "WHERE f.person_id = p.id ORDER BY f.id LIMIT 1) AS first "
            "WHERE pdi.team_id = {} AND pdi.distinct_id = ANY({}::text[])",
            team_id,
            sorted(set(distinct_ids)),
        )
    )
    return {
        distinct_id: PersonSummary(person_id, person_uuid, identified, first, orjson.loads(properties))
        for distinct_id, person_id, person_uuid, identified, properties, first in rows
    }


def person_distinct_ids(*, team_id: int, person_ref: str) -> list[str]:
    """Distinct ids of the person given by integer id or UUID; empty when there is no such person."""
    if person_ref.isascii() and person_ref.isdigit():
        if int(person_ref) > 2**63 - 1:
            return []
        match = sql("p.id = {}", int(person_ref))
    else:
        try:
            match = sql("p.uuid = {}", uuid.UUID(person_ref))
        except ValueError:
            return []
    rows = _run(
        sql(
            "SELECT pdi.distinct_id FROM events_persondistinctid AS pdi JOIN events_person AS p "
            "ON p.id = pdi.person_id WHERE p.team_id = {} AND {}",
            team_id,
            match,
        )
    )
    return [distinct_id for (distinct_id,) in rows]


def event_names(*, team_id: int) -> list[str]:
    """The team's distinct event names without PostHog's core events, walking the (team, event) index one name
    at a time instead of reading every event."""
    rows = _run(
        sql(
            "WITH RECURSIVE names(event) AS ("
            " (SELECT e.event FROM events_event AS e WHERE e.team_id = {} ORDER BY e.event LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT e.event FROM events_event AS e WHERE e.team_id = {} AND e.event > names.event"
            " ORDER BY e.event LIMIT 1) FROM names WHERE names.event IS NOT NULL"
            ") SELECT event FROM names WHERE event IS NOT NULL LIMIT {}",
            team_id,
            team_id,
            EVENT_NAMES_LIMIT,
        )
    )
    return [name for (name,) in rows if name not in CORE_EVENTS]


def _suggestion_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def property_values(
    *, team_id: int, key: str, now: datetime, search: str | None = None, event_names: list[str] | None = None
) -> list[str]:
    """Up to 10 values of event property `key` seen in the last 7 days, shortest first; list values count item
    by item."""
    conditions = [
        sql("e.team_id = {}", team_id),
        sql("e.timestamp >= {}", now - VALUES_WINDOW),
        sql("e.properties ? {}", key),
    ]
    if event_names:
        conditions.append(sql("e.event = ANY({}::text[])", event_names))
    matching = sql("AND (v #>> ARRAY[]::text[]) ILIKE {}", like_pattern(search)) if search else Sql("")
    rows = _run(
        sql(
            "WITH recent AS (SELECT e.properties -> {} AS value FROM events_event AS e WHERE {} "
            "ORDER BY e.timestamp DESC LIMIT {}), "
            "flat AS (SELECT item AS v FROM recent, LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(value) = "
            "'array' THEN value ELSE jsonb_build_array(value) END) AS item) "
            "SELECT v FROM (SELECT DISTINCT v FROM flat WHERE jsonb_typeof(v) <> 'null' {}) AS d "
            "ORDER BY length(v #>> ARRAY[]::text[]), v #>> ARRAY[]::text[] LIMIT 10",
            key,
            join(" AND ", conditions),
            VALUES_SCAN_LIMIT,
            matching,
        )
    )
    return [_suggestion_text(orjson.loads(value)) for (value,) in rows]
