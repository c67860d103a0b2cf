"""`/_health` (the process answers; nothing else is touched) and `/_readyz` (PostgreSQL, Temporal, object storage and
what the apps register, ClickHouse when events are stored there, each answer, within a short timeout).
Unauthenticated, outside the API (no throttling, no sessions), for load balancers, orchestrators and
`docker-compose.yml`. Anyone may ask, so the answer names each dependency and says ok or not; why one failed (which
can name hosts, users and paths) goes to the log."""

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

# Checks the apps add from their AppConfig.ready: name -> (why it fails or None, whether it applies). Whether a check
# applies is asked on each request, as settings decide it.
_APP_CHECKS: dict[str, tuple[Callable[[], str | None], Callable[[], bool]]] = {}


def register_readiness_check(name: str, check: Callable[[], str | None], *, applies: Callable[[], bool]) -> None:
    _APP_CHECKS[name] = (check, applies)


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
    for name, (check, applies) in _APP_CHECKS.items():
        if applies():
            checks[name] = _checked(name, check)
    ready = all(check["status"] != "unavailable" for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
