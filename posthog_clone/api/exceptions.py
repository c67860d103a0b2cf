"""Every error leaves as PostHog's flat body: `{"type", "code", "detail", "attr"}`.

drf-exceptions-hog (PostHog's own formatter) does the formatting; this module feeds it what it cannot read on its
own — errors inside lists, Django model validation errors — and logs crashes before they become a bare 500.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from exceptions_hog import exception_handler as hog_exception_handler
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings

from posthog_clone.errors import DomainError, ErrorKind, Unavailable
from posthog_clone.object_storage import ObjectStorageError
from posthog_clone.rate_limits import retry_after

logger = structlog.get_logger(__name__)


def error_body(*, type: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    return {"type": type, "code": code, "detail": detail, "attr": attr}


class APIError(exceptions.ValidationError):
    """An error with an explicit status, code and attr, for the product-specific codes clients branch on. (A
    ValidationError subclass because that is how drf-exceptions-hog reads an `attr`.)"""

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        attr: str | None = None,
        error_type: str = "validation_error",
    ) -> None:
        super().__init__(detail=detail if attr is None else {attr: [detail]}, code=code)
        self.status_code = status_code
        self.exception_type = error_type


# What a 503 tells clients (PostHog's SDKs retry on 5xx): the outages it reports are usually brief.
RETRY_AFTER_SECONDS = "1"
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


def is_database_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection, a server shutting down, a cancelled statement: retrying can succeed, and
    nothing of the request was committed unless its answer said so."""
    return isinstance(exc, OperationalError | InterfaceError)


def database_unavailable_response() -> JsonResponse:
    """For views outside DRF (capture, object storage); DRF views get the same through `exception_handler`."""
    response = JsonResponse(
        error_body(type="server_error", code="database_unavailable", detail=DATABASE_UNAVAILABLE), status=503
    )
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


# How each kind of domain error answers: (HTTP status, PostHog error type).
DOMAIN_ERROR_RESPONSES: dict[ErrorKind, tuple[int, str]] = {
    "invalid": (status.HTTP_400_BAD_REQUEST, "validation_error"),
    "not_found": (status.HTTP_404_NOT_FOUND, "invalid_request"),
    "conflict": (status.HTTP_409_CONFLICT, "validation_error"),
    "unavailable": (status.HTTP_503_SERVICE_UNAVAILABLE, "server_error"),
    "timeout": (status.HTTP_504_GATEWAY_TIMEOUT, "server_error"),
}


def _index_lists(detail: Any, *, nested: bool = False) -> Any:
    """Turn errors of list items into dicts keyed by index, so `attr` reads `conditions__0__rollout_percentage`;
    an item's own (non-field) error is attributed to the item: `conditions__0`."""
    if isinstance(detail, dict):
        if nested and set(detail) == {api_settings.NON_FIELD_ERRORS_KEY}:
            return detail[api_settings.NON_FIELD_ERRORS_KEY]
        return {key: _index_lists(value, nested=True) for key, value in detail.items()}
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        return {index: _index_lists(item, nested=True) for index, item in enumerate(detail) if item}
    return detail


SEND_JSON = "Send a JSON body with Content-Type: application/json (curl: -H 'Content-Type: application/json' -d '{…}')."


def exception_handler(exc: BaseException, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if is_database_unavailable(exc):
        logger.warning("database_unavailable", error=str(exc).strip()[:200])
        exc = APIError(DATABASE_UNAVAILABLE, code="database_unavailable", status_code=503, error_type="server_error")
    if isinstance(exc, ObjectStorageError):
        logger.warning("object_storage_error", error=str(exc))
        exc = APIError(
            "Object storage is unavailable; try again later.",
            code="object_storage_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            error_type="server_error",
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        # The seed's curl examples (`-d name=…`) send a form: say what to send instead.
        exc = exceptions.UnsupportedMediaType(None, detail=f"{exc.detail} {SEND_JSON}")
    if type(exc) is exceptions.ValidationError and isinstance(exc.detail, dict | list):
        exc = exceptions.ValidationError(_index_lists(exc.detail))
    retryable = not isinstance(exc, Unavailable) or exc.retryable
    if isinstance(exc, DomainError):
        status_code, error_type = DOMAIN_ERROR_RESPONSES[exc.kind]
        exc = APIError(exc.detail, code=exc.code, status_code=status_code, attr=exc.attr, error_type=error_type)
    if not isinstance(exc, exceptions.APIException | Http404 | DjangoPermissionDenied):  # those two: hog's 404/403
        view = context.get("view")
        logger.exception("unhandled_api_error", view=type(view).__name__ if view else None, exc_info=exc)
    response = hog_exception_handler(exc, context)
    auth_header = getattr(exc, "auth_header", None)
    if response is not None and auth_header:
        response["WWW-Authenticate"] = auth_header  # what makes a client retry with credentials (DRF sets it)
    if response is not None and response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE and retryable:
        response["Retry-After"] = RETRY_AFTER_SECONDS
    if response is not None and isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = retry_after(exc.wait)
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django-level 404 (a URL no route matches), in the same shape as the API's."""
    return JsonResponse(error_body(type="invalid_request", code="not_found", detail="Not found."), status=404)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django-level 400 (a disallowed Host header, a malformed request Django refuses before any view)."""
    return JsonResponse(error_body(type="invalid_request", code="bad_request", detail="Bad request."), status=400)


def json_csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    detail = f"CSRF Failed: {reason}" if reason else "CSRF Failed."
    return JsonResponse(error_body(type="authentication_error", code="csrf_failed", detail=detail), status=403)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body(type="server_error", code="error", detail="A server error occurred."), status=500)
