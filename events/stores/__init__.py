"""Where events are stored, chosen by the settings: PostgreSQL (`events_event`, the default) or ClickHouse (when
CLICKHOUSE_URL is set). Selectors, HogQL and the write path reach events only through `events_store()`; persons
stay in PostgreSQL either way (`persons_store()`).

The interface and the SQL both stores share are in `base`; this module is the only one that chooses an
implementation, and loads it when first asked: importing it is free (the events app's `ready` does), and
ClickHouse's (with clickhouse-connect) is loaded only where events are stored there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from events.stores.base import EventsStore


def events_store() -> EventsStore:
    if settings.CLICKHOUSE_URL:
        from events.stores.clickhouse import clickhouse_store

        return clickhouse_store(settings.CLICKHOUSE_URL)
    return persons_store()


def persons_store() -> EventsStore:
    """The store HogQL reads persons from: PostgreSQL, whichever store keeps the events."""
    from events.stores.postgres import POSTGRES_STORE

    return POSTGRES_STORE


def clickhouse_problem() -> str | None:
    """Why ClickHouse cannot serve events now (for `/_readyz`), or None."""
    from events.stores.clickhouse import clickhouse_problem

    return clickhouse_problem()
