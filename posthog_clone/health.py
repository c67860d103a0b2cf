"""`/_health` (the process answers; nothing else is touched) and `/_readyz` (PostgreSQL, Temporal, object storage and,
when events are stored there, ClickHouse each answer, within a short timeout). Unauthenticated, outside the API (no
throttling, no sessions), for load balancers, orchestrators and `docker-compose.yml`."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from posthog_clone.object_storage import ObjectStorageError, get_object_storage
from posthog_clone.temporal.client import temporal_problem


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


def _timed(check: Callable[[], str | None]) -> dict[str, object]:
    began = time.perf_counter()
    problem = check()
    result: dict[str, object] = {"status": "ok" if problem is None else "unavailable"}
    if problem is not None:
        result["error"] = problem[:300]
    result["ms"] = round((time.perf_counter() - began) * 1000, 1)
    return result


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"postgres": _timed(_postgres), "temporal": _timed(temporal_problem)}
    checks["object_storage"] = _timed(_object_storage) if settings.OBJECT_STORAGE_ENABLED else {"status": "disabled"}
    if settings.CLICKHOUSE_URL:
        from events.clickhouse.store import clickhouse_problem

        checks["clickhouse"] = _timed(clickhouse_problem)
    ready = all(check["status"] != "unavailable" for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
