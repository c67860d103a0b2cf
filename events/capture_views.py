"""PostHog's capture endpoints (`/batch/`, `/capture/`, `/e/`, `/i/v0/e/`, `/track/`), authenticated by the
project API token in the payload, as the SDKs send it.

A batch is stored minus its invalid events: the good events are kept and the response lists each refused event
(`rejected`: index, attr, detail) next to `"status": 1`. A request whose every event is invalid is a 400.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from environments.models import Team
from events.ingestion import CaptureError, decode_capture_request, normalize_payload
from events.services import events_capture
from posthog_clone import rate_limits
from posthog_clone.api.exceptions import RETRY_AFTER_SECONDS, error_body
from posthog_clone.errors import Unavailable
from posthog_clone.metrics import EVENTS_INGESTED

logger = structlog.get_logger(__name__)

INVALID_TOKEN = "Project API key invalid. You can find your project API key in your PostHog project settings."
MISSING_TOKEN = "API key not provided. You can find your project API key in your PostHog project settings."


def _error(error: CaptureError) -> JsonResponse:
    return JsonResponse(error_body(type=error.error_type, code=error.code, detail=error.detail), status=error.status)


def _throttled(wait: float) -> JsonResponse:
    seconds = rate_limits.retry_after(wait)
    detail = f"Request was throttled. Expected available in {seconds} seconds."
    response = _error(CaptureError(detail, code="throttled", status=429, error_type="throttled_error"))
    response["Retry-After"] = seconds
    return response


@csrf_exempt
def capture(request: HttpRequest) -> JsonResponse:
    if request.method == "OPTIONS":
        return JsonResponse({"status": 1})
    if request.method not in ("GET", "POST"):
        return _error(CaptureError(f'Method "{request.method}" not allowed.', code="method_not_allowed", status=405,
                                   error_type="invalid_request"))  # fmt: skip
    try:
        payload = decode_capture_request(
            body=request.body,
            content_type=request.content_type or "",
            content_encoding=request.headers.get("Content-Encoding", ""),
            query={key: request.GET.getlist(key) for key in request.GET},
        )
        if not payload.token:
            raise CaptureError(MISSING_TOKEN, code="missing_api_key", status=401, error_type="authentication_error")
        team = Team.objects.only("id", "ingested_event").filter(api_token=payload.token).first()
        if team is None:
            raise CaptureError(INVALID_TOKEN, code="invalid_api_key", status=401, error_type="authentication_error")
        if settings.RATE_LIMIT_ENABLED:
            wait = rate_limits.hit(scope="capture", identity=str(team.id), rates=settings.RATE_LIMITS["capture"])
            if wait is not None:
                return _throttled(wait)
    except RequestDataTooBig:
        return _error(CaptureError("The request body is too large.", code="payload_too_large", status=413))
    except CaptureError as error:
        return _error(error)

    normalize_payload(payload, now=timezone.now())
    rejected = [r.as_dict() for r in payload.rejected]
    for item in rejected:
        if payload.batch:
            item["attr"] = "__".join(str(part) for part in ("batch", item["index"], item["attr"]) if part != "")
    if rejected and not payload.events:
        first = rejected[0]
        return JsonResponse(
            error_body(
                type="validation_error", code="invalid_event", detail=first["detail"], attr=first["attr"] or None
            ),
            status=400,
        )
    try:
        result = events_capture(team=team, events=payload.events)
    except Unavailable as error:  # the events store is down: nothing was stored, the SDK retries on a 503
        logger.warning("capture_store_unavailable", team_id=team.id, error=error.detail)
        response = _error(CaptureError(error.detail, code=error.code, status=503, error_type="server_error"))
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    EVENTS_INGESTED.inc(result.inserted)
    if rejected:
        logger.warning("capture_rejected_events", team_id=team.id, rejected=len(rejected), stored=result.inserted)
    body: dict[str, object] = {"status": 1}
    if rejected:
        body["rejected"] = rejected
    return JsonResponse(body)
