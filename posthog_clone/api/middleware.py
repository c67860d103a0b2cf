"""Checks every request passes before any view, and answers for the failures views outside DRF cannot render
themselves — all in PostHog's error body."""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse

from posthog_clone.api.exceptions import (
    database_unavailable_response,
    error_body,
    is_database_unavailable,
)
from posthog_clone.api.validators import NUL_NOT_ALLOWED

logger = structlog.get_logger(__name__)
NUL = "\x00"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def _error(status: int, *, type: str, code: str, detail: str, attr: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(type=type, code=code, detail=detail, attr=attr), status=status)


class RequestIdMiddleware:
    """Every request gets an id, on every log line written while it is served and in the response's
    `X-Request-ID`: the one the client (or a proxy) sent, when it is a plausible id, else a new one."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        # Replaced, not cleared after: Django logs a 4xx/5xx once every middleware has returned, and that line
        # belongs to this request too. The next request on this thread starts from a clean context.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class RequestChecksMiddleware:
    """Refuses, for every route: U+0000 in the path or a query parameter (PostgreSQL cannot store or compare it, so
    any query using it would fail), more query parameters than Django parses, and chunked bodies without a length
    (WSGI hands Django none of their bytes, so they would be read as empty)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.refusal(request) or self.get_response(request)

    @staticmethod
    def refusal(request: HttpRequest) -> JsonResponse | None:
        if NUL in request.path:
            return _error(400, type="validation_error", code="null_characters_not_allowed",
                          detail="The character U+0000 is not allowed in the path.")  # fmt: skip
        try:
            parameters = list(request.GET.lists())
        except TooManyFieldsSent:
            return _error(400, type="validation_error", code="too_many_fields", detail="Too many query parameters.")
        for name, values in parameters:
            if NUL in name or any(NUL in value for value in values):
                return _error(400, type="validation_error", code="null_characters_not_allowed",
                              detail=NUL_NOT_ALLOWED, attr=name.replace(NUL, ""))  # fmt: skip
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return _error(411, type="invalid_request", code="length_required",
                          detail="Send the body with a Content-Length; chunked bodies are not accepted.")  # fmt: skip
        return None


class ErrorResponseMiddleware:
    """For views outside DRF (capture, object storage): a lost database answers 503, as the API's views do."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            logger.warning("database_unavailable", path=request.path, error=str(exception).strip()[:200])
            return database_unavailable_response()
        return None
