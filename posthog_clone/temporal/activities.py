"""What every activity that touches the database needs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import close_old_connections, connections

# The connections activity threads opened, so the worker can close them when it stops (its threads end, but a
# connection left to the garbage collector can outlive them).
_opened: set[Any] = set()
_opened_lock = threading.Lock()


@contextmanager
def database_connection() -> Iterator[None]:
    """Activities run on pooled threads, each with its own Django connection: drop one that broke (a database
    restart) or outlived CONN_MAX_AGE, before and after the activity, as Django does around each request."""
    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()
        with _opened_lock:
            _opened.update(connections.all(initialized_only=True))


def close_activity_connections() -> None:
    """Close what activity threads left open; called once no activity runs any more."""
    with _opened_lock:
        opened = list(_opened)
        _opened.clear()
    for wrapper in opened:
        wrapper.inc_thread_sharing()
        try:
            wrapper.close()
        finally:
            wrapper.dec_thread_sharing()
