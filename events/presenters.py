"""How events and query results are shown in PostHog's wire shapes: a result cell (`render_value`, in the time zone
of its column), an event of the events list (`event_to_dict`). Shared by the events list and `/query/`."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from events import selectors
from query_languages import parse_elements_chain, team_timezone

DATETIME_ZONE = re.compile(r"DateTime64\(\d+, '([^']+)'\)")


def column_zones(types: list[str], default: tzinfo) -> list[tzinfo]:
    """The time zone each column's date-times render in: the one its type names (toTimeZone), else the project's."""
    zones = []
    for type_ in types:
        match = DATETIME_ZONE.search(type_)
        zones.append(team_timezone(match.group(1)) if match else default)
    return zones


def render_value(value: Any, tz: tzinfo) -> Any:
    """A result cell as PostHog renders it: date-times in the project's time zone (`Z` for UTC, microseconds only
    when there are some), UUIDs as strings, whole decimals as integers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {key: render_value(item, tz) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, tz) for item in value]
    if isinstance(value, datetime):
        local = value.astimezone(tz)
        text = local.isoformat(timespec="microseconds" if local.microsecond else "seconds")
        return text.removesuffix("+00:00") + "Z" if local.utcoffset() == timedelta(0) else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_rows(rows: Sequence[Sequence[Any]], types: list[str], tz: tzinfo) -> list[list[Any]]:
    """Result rows, each cell rendered in its column's time zone (`tz`, the project's, unless the type names one)."""
    zones = column_zones(types, tz)
    return [[render_value(cell, zone) for cell, zone in zip(row, zones, strict=True)] for row in rows]


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _person_dict(person: selectors.PersonSummary | None) -> dict[str, Any] | None:
    if person is None:
        return None
    shown = {k: person.properties[k] for k in selectors.PERSON_DISPLAY_PROPERTIES if k in person.properties}
    return {"is_identified": person.is_identified, "distinct_ids": [person.first_distinct_id], "properties": shown}


def event_to_dict(row: selectors.EventRow, person: selectors.PersonSummary | None) -> dict[str, Any]:
    return {
        "id": str(row.uuid),
        "distinct_id": row.distinct_id,
        "properties": row.properties,
        "event": row.event,
        "timestamp": utc_iso(row.timestamp),
        "person": _person_dict(person),
        "elements": parse_elements_chain(row.elements_chain),
        "elements_chain": row.elements_chain,
    }
