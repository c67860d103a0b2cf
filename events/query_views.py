"""`POST …/query/`: HogQL queries over the project's events and persons, answered in the shape PostHog's clients
read (the PostHog CLI, the DuckDB extension, Apache SeaTunnel's source, Grafana)."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

import orjson
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from environments.api.routing import TeamScopedViewSetMixin
from events import hogql
from events.models import Event
from posthog_clone.api.exceptions import APIError
from query_languages import team_timezone

SUPPORTED_KINDS = ("HogQLQuery",)
HOGQL_QUERY_KEYS = frozenset({"kind", "query", "values", "modifiers", "name", "tags", "explain", "filters",
                              "variables"})  # fmt: skip
REFRESH_MODES = frozenset({"blocking", "async", "async_except_on_cache_miss", "lazy_async", "force_blocking",
                           "force_async", "force_cache"})  # fmt: skip


def parse_error(detail: str, attr: str | None = None) -> APIError:
    return APIError(detail, code="parse_error", attr=attr, error_type="invalid_request")


class QueryRequestSerializer(serializers.Serializer):
    query = serializers.DictField(help_text='A query node: `{"kind": "HogQLQuery", "query": "select …"}`.')
    refresh = serializers.JSONField(required=False, help_text="Accepted in every mode; answered synchronously.")
    client_query_id = serializers.CharField(required=False, max_length=200)
    name = serializers.CharField(required=False, max_length=128)


def render_value(value: Any, tz: tzinfo) -> Any:
    """A result cell as PostHog renders it: date-times in the project's time zone (`Z` for UTC, microseconds only
    when there are some), UUIDs as strings, whole decimals as integers, NaN and infinities as null."""
    if isinstance(value, datetime):
        local = value.astimezone(tz)
        text = local.isoformat(timespec="microseconds" if local.microsecond else "seconds")
        return text.removesuffix("+00:00") + "Z" if local.utcoffset() == timedelta(0) else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class QueryViewSet(TeamScopedViewSetMixin, viewsets.GenericViewSet):
    """Run a query. `HogQLQuery` takes a HogQL SELECT over `events` or `persons` in `query`, with `{name}`
    placeholders bound from `values`."""

    scope_object = "query"
    throttle_scope = "query"
    # Running a query reads: `query:read` is all it needs, as in PostHog.
    scope_object_read_actions = ["create"]
    scope_object_write_actions: list[str] = []
    queryset = Event.objects.none()  # queries read through events.hogql, scoped to the project there
    serializer_class = QueryRequestSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        request=QueryRequestSerializer,
        responses=inline_serializer(
            "HogQLQueryResponse",
            {
                "results": serializers.ListField(child=serializers.ListField()),
                "columns": serializers.ListField(child=serializers.CharField()),
                "types": serializers.ListField(child=serializers.ListField(child=serializers.CharField())),
                "hasMore": serializers.BooleanField(allow_null=True),
                "limit": serializers.IntegerField(allow_null=True),
                "offset": serializers.IntegerField(allow_null=True),
                "hogql": serializers.CharField(),
                "timezone": serializers.CharField(),
            },
        ),
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = QueryRequestSerializer(data=request.data)
        if not body.is_valid():
            field, errors = next(iter(body.errors.items()))
            raise parse_error(str(errors[0]) if isinstance(errors, list) else str(errors), attr=field)
        refresh = body.validated_data.get("refresh")
        if refresh is not None and not isinstance(refresh, bool) and refresh not in REFRESH_MODES:
            raise parse_error(f"refresh must be one of {', '.join(sorted(REFRESH_MODES))}, or a boolean.", "refresh")
        node = body.validated_data["query"]
        kind = node.get("kind")
        if kind not in SUPPORTED_KINDS:
            raise APIError(f"Unsupported query kind: {kind}. Supported: {', '.join(SUPPORTED_KINDS)}.",
                           code="unsupported_query_kind", attr="query__kind")  # fmt: skip
        return Response(self._hogql_query(node))

    def _hogql_query(self, node: dict[str, Any]) -> dict[str, Any]:
        extra = sorted(set(node) - HOGQL_QUERY_KEYS)
        if extra:
            raise parse_error(f"Extra inputs are not permitted: {', '.join(extra)}.", f"query__{extra[0]}")
        text, values = node.get("query"), node.get("values")
        if not isinstance(text, str):
            raise parse_error("query.query must be a string holding a HogQL SELECT.", "query__query")
        if values is not None and not isinstance(values, dict):
            raise parse_error("query.values must be an object.", "query__values")
        for unsupported in ("filters", "variables"):
            if node.get(unsupported):
                raise exceptions.ValidationError({f"query__{unsupported}": [f"{unsupported} are not supported yet."]})
        started = time.perf_counter()
        now = timezone.now()
        result = hogql.hogql_select(team=self.team, query=text, values=values, now=now)
        tz = team_timezone(self.team.timezone)
        rows = [[render_value(cell, tz) for cell in row] for row in result.rows]
        cache_key = "cache_" + hashlib.sha256(orjson.dumps([self.team.id, text, values])).hexdigest()[:32]
        return {
            "results": rows,
            "columns": result.columns,
            "types": [[name, type_] for name, type_ in zip(result.columns, result.types, strict=True)],
            "hasMore": result.has_more,
            "limit": result.limit,
            "offset": result.offset,
            "hogql": text,
            "clickhouse": None,
            "query": text,
            "timings": [{"k": "./query", "t": round(time.perf_counter() - started, 6)}],
            "modifiers": {},
            "error": None,
            "explain": None,
            "metadata": None,
            "query_status": None,
            "is_cached": False,
            "cache_key": cache_key,
            "last_refresh": render_value(now, tz),
            "next_allowed_client_refresh": render_value(now + timedelta(minutes=1), tz),
            "cache_target_age": None,
            "timezone": self.team.timezone,
            "calculation_trigger": None,
        }
