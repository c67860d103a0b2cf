"""Reads of events: the list (keyset pages over `(timestamp, uuid)`), one event, and property value suggestions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from events.records import Cursor, EventRow, Order, StoredEvent
from events.stores import events_store
from events.stores.base import window_conditions
from events.stores.postgres import run_statement  # persons are in PostgreSQL, whichever store keeps events
from query_languages import MATCH_EVERYTHING, Extra, PropertyGroup, compile_filters, json_as_text, sql

__all__ = ["Cursor", "EventRow", "Order", "StoredEvent"]  # the records callers read, re-exported
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
class PersonSummary:
    id: int
    uuid: uuid.UUID
    is_identified: bool
    first_distinct_id: str
    properties: dict[str, Any]


def regex_problem(pattern: str) -> str | None:
    """Why the events store cannot run `pattern` as a regular expression, or None (filters are checked up front)."""
    return events_store().regex_problem(pattern)


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
    store = events_store()
    # Events more than a few seconds in the future stay hidden unless asked for, as in PostHog.
    upper = before or Cursor(now + timedelta(seconds=5))
    conditions = window_conditions(store, events=[event] if event is not None else None,
                                   distinct_ids=distinct_ids, before=upper, after=after)  # fmt: skip
    compiled = compile_filters(properties, tz=tz, now=now, dialect=store.dialect)
    conditions.append(compiled.where)
    needs_person = compiled.needs_person
    if where is not None:  # HogQL `where` expressions, printed by the caller for this store
        conditions.append(where.condition)
        needs_person = needs_person or where.needs_person
    rows = store.page(team_id=team_id, conditions=conditions, needs_person=needs_person, order=order,
                      limit=limit + 1, offset=offset, user_written=where is not None or compiled.has_hogql)  # fmt: skip
    return rows[:limit], len(rows) > limit


def event_get(*, team_id: int, event_uuid: uuid.UUID) -> EventRow | None:
    found = events_store().by_uuid(team_id=team_id, uuids=[event_uuid])
    return found[0][0] if found else None


def events_by_uuid(*, team_id: int, uuids: Collection[uuid.UUID]) -> dict[uuid.UUID, StoredEvent]:
    """Events of one project by uuid, with their person's uuid as resolved now."""
    if not uuids:
        return {}
    found = events_store().by_uuid(team_id=team_id, uuids=set(uuids))
    persons = persons_by_distinct_id(team_id=team_id, distinct_ids=[row.distinct_id for row, _ in found])
    return {
        row.uuid: StoredEvent(**vars(row), created_at=created_at,
                              person_uuid=persons[row.distinct_id].uuid if row.distinct_id in persons else None)
        for row, created_at in found
    }  # fmt: skip


def persons_by_distinct_id(*, team_id: int, distinct_ids: list[str]) -> dict[str, PersonSummary]:
    if not distinct_ids:
        return {}
    rows = run_statement(
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
    rows = run_statement(
        sql(
            "SELECT pdi.distinct_id FROM events_persondistinctid AS pdi JOIN events_person AS p "
            "ON p.id = pdi.person_id WHERE p.team_id = {} AND {}",
            team_id,
            match,
        )
    )
    return [distinct_id for (distinct_id,) in rows]


def event_names(*, team_id: int) -> list[str]:
    """The team's distinct event names without PostHog's core events."""
    names = events_store().event_names(team_id=team_id, limit=EVENT_NAMES_LIMIT)
    return [name for name in names if name not in CORE_EVENTS]


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
    by item; `search` keeps those whose text contains it, ignoring case."""
    values = events_store().recent_values(team_id=team_id, key=key, since=now - VALUES_WINDOW,
                                          event_names=event_names, scan_limit=VALUES_SCAN_LIMIT)  # fmt: skip
    texts = {json_as_text(value) or "": value for value in values}
    if search:
        texts = {text: value for text, value in texts.items() if search.casefold() in text.casefold()}
    shortest = sorted(texts, key=lambda text: (len(text), text))[:10]
    return [_suggestion_text(texts[text]) for text in shortest]
