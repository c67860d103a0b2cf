"""Where events are stored, chosen by the settings: PostgreSQL (`events_event`, the default) or ClickHouse (when
CLICKHOUSE_URL is set). Selectors, HogQL and the write path reach events only through `events_store()`; persons
stay in PostgreSQL either way (`persons_store()`, and `run_statement` for SQL of their own).

The interface and the SQL both stores share are in `base`; this module is the only one that names an
implementation, and it loads ClickHouse's (and clickhouse-connect) only where events are stored there.
"""

from __future__ import annotations

from django.conf import settings

from events.stores.base import EventsStore
from events.stores.postgres import POSTGRES_STORE, run_statement

__all__ = ["EventsStore", "clickhouse_problem", "events_store", "persons_store", "run_statement"]


def events_store() -> EventsStore:
    if settings.CLICKHOUSE_URL:
        from events.stores.clickhouse import clickhouse_store

        return clickhouse_store(settings.CLICKHOUSE_URL)
    return POSTGRES_STORE


def persons_store() -> EventsStore:
    """The store HogQL reads persons from: PostgreSQL, whichever store keeps the events."""
    return POSTGRES_STORE


def clickhouse_problem() -> str | None:
    """Why ClickHouse cannot serve events now (for `/_readyz`), or None."""
    from events.stores.clickhouse import clickhouse_problem

    return clickhouse_problem()
