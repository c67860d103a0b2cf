"""The loop, in the worker process, that starts the workflows of online runs recorded at ingestion. While Temporal
is unreachable the runs wait in the database and the loop backs off; once it is back, each starts exactly once."""

from __future__ import annotations

import threading

import structlog
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from evaluations import scheduling

logger = structlog.get_logger(__name__)
MAX_BACKOFF_SECONDS = 30.0


def dispatch_until_stopped(stop: threading.Event) -> None:
    interval = settings.EVALUATION_DISPATCH_INTERVAL_SECONDS
    backoff = interval
    while not stop.is_set():
        close_old_connections()
        try:
            result = scheduling.evaluation_runs_dispatch()
        except DatabaseError:
            logger.warning("evaluation_dispatch_database_error", exc_info=True)
            result = None
        if result is None or result.temporal_unavailable:
            if result is not None:
                logger.warning("evaluation_dispatch_waiting_for_temporal", waiting=result.claimed - result.started)
            wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
        else:
            backoff = interval
            # A full batch suggests more are waiting: go again at once.
            wait = 0.0 if result.claimed >= scheduling.DISPATCH_BATCH else interval
        stop.wait(wait)
    connection.close()
