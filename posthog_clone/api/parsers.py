from __future__ import annotations

import re
from typing import Any

import orjson
from django.conf import settings
from drf_orjson_renderer.parsers import ORJSONParser
from rest_framework import exceptions, status

from posthog_clone import json_limits


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


class NestedTooDeeply(exceptions.ParseError):
    """The client's body, refused: `invalid_request` like any body that does not parse (not a server error)."""

    default_detail = json_limits.NESTED_TOO_DEEPLY
    default_code = "nested_too_deeply"


# `name="string",` or `a=1&b=2`: a body written as a form (as curl's `-d` examples often are) sent as JSON.
FORM_ENCODED = re.compile(rb"\s*[A-Za-z_][\w.\-\[\]]*\s*=")
FORM_ENCODED_HINT = 'The body looks form-encoded (name=value); send a JSON object instead, e.g. {"name": "string"}.'


class JSONParser(ORJSONParser):
    """orjson, with the body's size and nesting bounded."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = _BoundedStream(stream).read()
        try:
            return json_limits.loads(data)
        except json_limits.NestedTooDeeply:
            raise NestedTooDeeply() from None
        except orjson.JSONDecodeError as error:
            hint = f". {FORM_ENCODED_HINT}" if FORM_ENCODED.match(data) else ""
            raise exceptions.ParseError(f"JSON parse error - {error}{hint}") from None
