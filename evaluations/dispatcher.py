"""The loops, in the worker process, that record and start the online runs ingestion triggered (while Temporal
is unreachable the runs wait in the database and the loop backs off; once it is back, each starts exactly once),
and that restart the walk of a running backfill whose workflow is gone."""

from __future__ import annotations

import threading

import structlog
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from evaluations import backfills, scheduling

logger = structlog.get_logger(__name__)
MAX_BACKOFF_SECONDS = 30.0


def dispatch_until_stopped(stop: threading.Event) -> None:
    interval = settings.EVALUATION_DISPATCH_INTERVAL_SECONDS
    backoff = interval
    while not stop.is_set():
        close_old_connections()
        try:
            result = scheduling.evaluation_runs_dispatch_online()
        except DatabaseError:
            logger.warning("evaluation_dispatch_database_error", exc_info=True)
            result = None
        if result is None or result.temporal_unavailable:
            if result is not None:
                logger.warning("evaluation_dispatch_waiting_for_temporal", waiting=result.claimed - result.started)
            wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
        else:
            backoff = interval
            wait = 0.0 if result.more_waiting else interval
        stop.wait(wait)
    connection.close()


def resume_backfills_until_stopped(stop: threading.Event) -> None:
    while not stop.wait(settings.BACKFILL_RESUME_SECONDS):
        close_old_connections()
        try:
            backfills.backfills_resume()
        except DatabaseError:
            logger.warning("evaluation_backfill_resume_database_error", exc_info=True)
    connection.close()
