"""`/_health` (the process answers; nothing else is touched) and `/_readyz` (PostgreSQL, Temporal, object storage and,
when events are stored there, ClickHouse each answer, within a short timeout). Unauthenticated, outside the API (no
throttling, no sessions), for load balancers, orchestrators and `docker-compose.yml`. Anyone may ask, so the answer
names each dependency and says ok or not; why one failed (which can name hosts, users and paths) goes to the log."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from posthog_clone.object_storage import ObjectStorageError, get_object_storage
from posthog_clone.temporal.client import temporal_problem

logger = structlog.get_logger(__name__)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _postgres() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def _object_storage() -> str | None:
    try:
        get_object_storage().check()
    except ObjectStorageError as error:
        return str(error)
    return None


def _checked(name: str, check: Callable[[], str | None]) -> dict[str, str]:
    if (problem := check()) is None:
        return {"status": "ok"}
    logger.warning("readiness_check_failed", check=name, error=problem[:1000])
    return {"status": "unavailable"}


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"postgres": _checked("postgres", _postgres), "temporal": _checked("temporal", temporal_problem)}
    checks["object_storage"] = (
        _checked("object_storage", _object_storage) if settings.OBJECT_STORAGE_ENABLED else {"status": "disabled"}
    )
    if settings.CLICKHOUSE_URL:
        from events.clickhouse.store import clickhouse_problem

        checks["clickhouse"] = _checked("clickhouse", clickhouse_problem)
    ready = all(check["status"] != "unavailable" for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
