"""JSON responses: orjson (fast), and DRF's own encoder for the rare value orjson cannot write — an integer past
64 bits, which a JSON field can hold once PostgreSQL has normalised a number such as 1e22 — so every value the
server accepted renders on every later read."""

from __future__ import annotations

from typing import Any

import orjson
from drf_orjson_renderer.renderers import ORJSONRenderer
from rest_framework.renderers import JSONRenderer as ExactJSONRenderer


class JSONRenderer(ORJSONRenderer):
    def render(self, data: Any, media_type: str | None = None, renderer_context: Any = None) -> bytes:
        try:
            return super().render(data, media_type, renderer_context)
        except orjson.JSONEncodeError:
            return ExactJSONRenderer().render(data, media_type, renderer_context)
