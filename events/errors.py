"""The domain errors every events store raises the same way."""

from __future__ import annotations

from django.conf import settings

from posthog_clone.errors import DomainError, Timeout, Unavailable


def query_timeout() -> DomainError:
    return Timeout(
        f"Query has hit the max execution time ({settings.QUERY_TIMEOUT_SECONDS:g} s) before completing.",
        code="query_timeout",
    )


def query_refused(message: str) -> DomainError:
    """A statement holding what a user wrote that the database still refused: a 400, never a 500."""
    return DomainError(f"The query could not run: {message.split(chr(10))[0]}", code="hogql_query_error")


def events_store_unavailable() -> DomainError:
    return Unavailable("The events store (ClickHouse) is unavailable; try again shortly.",
                       code="clickhouse_unavailable")  # fmt: skip
