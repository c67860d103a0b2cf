"""The tables HogQL may read, as HogQL names them (a dialect says where each one is)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    alias: str  # the alias the SQL uses for it
    star: tuple[str, ...]  # what `*` selects


EVENT_COLUMNS = ("uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain", "created_at")
TABLES = {
    "events": Table("events", "e", EVENT_COLUMNS),
    "persons": Table("persons", "p", ("id", "created_at", "properties", "is_identified")),
}
