from __future__ import annotations

from rest_framework import pagination
from rest_framework.request import Request

# Anything near the bigint range would reach PostgreSQL as an invalid LIMIT/OFFSET and fail the query.
MAX_OFFSET = 2**62


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset pages (`{count, next, previous, results}`, 100 a page), with bounds so that no
    `limit` or `offset` a client sends can break the query: limits above 1000 are capped, as on the events list."""

    max_limit = 1000

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
