from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_orjson_renderer.parsers import ORJSONParser
from rest_framework import exceptions, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"
    default_type = "invalid_request"


class _BoundedStream:
    """Reads at most the configured body size: DRF parsers read `request.stream` directly, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE would otherwise not bound JSON bodies."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def read(self) -> bytes:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = self.stream.read(limit + 1) if self.stream is not None else b""
        if len(data) > limit:
            raise PayloadTooLarge()
        return data


class JSONParser(ORJSONParser):
    """orjson, with the body size bounded."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return super().parse(_BoundedStream(stream), media_type, parser_context)
