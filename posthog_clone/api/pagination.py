from __future__ import annotations

from typing import Any

from rest_framework import exceptions, pagination
from rest_framework.request import Request

# Anything near the bigint range would reach PostgreSQL as an invalid LIMIT/OFFSET and fail the query.
MAX_OFFSET = 2**62


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset pages (`{count, next, previous, results}`, 100 a page). `limit` and `offset` must be whole
    numbers (at least 1 and 0): anything else is a 400 rather than silently ignored. Limits above 1000 are capped,
    as on the events list, and huge offsets clamped, so no value can break the query."""

    max_limit = 1000

    def _whole_number(self, request: Request, name: str, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        text = raw.strip()
        try:
            value = int(text) if text.isascii() and text.lstrip("-").isdigit() else None
        except ValueError:  # more digits than Python converts; no client means that
            value = None
        if value is None or value < minimum:
            raise exceptions.ValidationError({name: [f"A whole number of at least {minimum} is required."]})
        return value

    def get_limit(self, request: Request) -> int | None:
        limit = self._whole_number(request, self.limit_query_param, 1)
        return self.default_limit if limit is None else min(limit, self.max_limit or limit)

    def get_offset(self, request: Request) -> int:
        offset = self._whole_number(request, self.offset_query_param, 0)
        return min(offset or 0, MAX_OFFSET)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1 if parameter["name"] == self.limit_query_param else 0
        return parameters
