"""What other apps may run as events are captured: an `EventsInsertedHook` sees the newly stored events of the names
it was registered for (`register_events_inserted_hook`, from the app's `AppConfig.ready`), inside the capture's
transaction, so what it records is kept if and only if the events are (online evaluation schedules its runs so)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import psycopg

from events.records import EventInput


class CaptureTransaction(Protocol):
    """The capture's PostgreSQL transaction, as a hook sees it. A hook must write in that transaction (a run
    recorded for an event that then rolled back would point at nothing; one recorded after the commit would be
    lost if the process stopped in between), so it is handed this, not a connection of its own; and it opens a
    cursor of its own there, leaving the capture's cursor to the capture."""

    def cursor(self) -> psycopg.Cursor[Any]:
        """A new cursor in the transaction, binding parameters server-side (`%b` placeholders); the hook closes it."""


class EventsInsertedHook(Protocol):
    def __call__(self, *, team_id: int, events: Sequence[EventInput], capture: CaptureTransaction) -> None:
        """`events`: the newly stored events of the watched names (each uuid once), in uuid order. On ClickHouse a
        retried batch's events count as new again (see `events.stores.base.PendingCapture`): what a hook records
        must be idempotent per event."""


_HOOKS: dict[str, list[EventsInsertedHook]] = {}


def register_events_inserted_hook(event_names: Iterable[str], hook: EventsInsertedHook) -> None:
    """Run `hook` on the new events of `event_names`. Registering the same hook again changes nothing (an app's
    `ready` may run more than once)."""
    for name in event_names:
        hooks = _HOOKS.setdefault(name, [])
        if hook not in hooks:
            hooks.append(hook)


def events_inserted_hooks() -> Mapping[str, Sequence[EventsInsertedHook]]:
    """The registered hooks by the event name they watch."""
    return _HOOKS
