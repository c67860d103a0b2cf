"""The records events travel in: `EventInput`, which every writer hands to `events.services.events_capture` (the
capture API after decoding a request, the evaluation worker for its `$ai_evaluation` events), and the rows the
events stores read back. Nothing here knows about HTTP or a database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

Order = Literal["DESC", "ASC"]


@dataclass(frozen=True)
class EventInput:
    """One validated event ready to store. A uuid seen before in the project is stored once."""

    uuid: uuid.UUID
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    elements_chain: str = ""


class PersonStamp(NamedTuple):
    """A person as an event is stamped with at ingestion, for a store that keeps persons on events (ClickHouse).
    A tuple: a batch builds one per person, and a frozen dataclass costs several times as much to make. Its values
    are text PostgreSQL wrote, never parsed here: a batch reads about one person per event."""

    uuid: str  # canonical text
    properties_json: str  # as PostgreSQL writes the jsonb: valid JSON, never decoded on the way
    created_at_json: str  # a JSON string, ISO 8601 in UTC, as PostgreSQL writes the timestamp


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
