"""Events written through the real write path (`events_capture`), for tests that read them back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from environments.models import Team
from events import selectors
from events.records import Cursor, EventInput, StoredEvent
from events.services import events_capture
from posthog_clone.ids import uuid7
from query_languages import EventView

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_event(
    *,
    event: str = "$pageview",
    distinct_id: str = "user-1",
    properties: dict[str, Any] | None = None,
    timestamp: datetime | None = None,
    elements_chain: str = "",
    event_uuid: uuid.UUID | None = None,
) -> EventInput:
    return EventInput(
        uuid=event_uuid or uuid7(),
        event=event,
        distinct_id=distinct_id,
        properties=properties or {},
        timestamp=timestamp or BASE_TIME,
        elements_chain=elements_chain,
    )


def store(team: Team, *events: EventInput) -> list[EventInput]:
    events_capture(team=team, events=list(events))
    return list(events)


def minutes(n: float) -> datetime:
    return BASE_TIME + timedelta(minutes=n)


def event_view(event: EventInput, person_properties: dict[str, Any] | None = None) -> EventView:
    """What the Python filter engine reads of a stored event, to compare with the SQL engine over the same events."""
    return EventView(properties=event.properties, event=event.event, uuid=str(event.uuid), timestamp=event.timestamp,
                     distinct_id=event.distinct_id, elements_chain=event.elements_chain,
                     person_properties=person_properties or {})  # fmt: skip


def stored_events(team: Team, *, event: str | None = None) -> list[StoredEvent]:
    """Every stored event of `team` (oldest first, ties by uuid), read through the selectors, so on either store."""
    rows, _ = selectors.events_list(team_id=team.id, tz=UTC, now=BASE_TIME, event=event, order="ASC", limit=10_000,
                                    before=Cursor(datetime(9999, 1, 1, tzinfo=UTC)))  # fmt: skip
    found = selectors.events_by_uuid(team_id=team.id, uuids=[row.uuid for row in rows])
    return [found[row.uuid] for row in rows]
