"""`POST …/query/`: HogQL queries over the project's events and persons, answered in the shape PostHog's clients
read (the PostHog CLI, the DuckDB extension, Apache SeaTunnel's source, Grafana)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, tzinfo
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
from events.presenters import render_rows, render_value
from events.selectors import person_distinct_ids, regex_problem
from posthog_clone.api.exceptions import APIError
from query_languages import PropertyFilterError, parse_filter_datetime, parse_property_filters, team_timezone

SUPPORTED_KINDS = ("HogQLQuery", "EventsQuery")
HOGQL_QUERY_KEYS = frozenset({"kind", "query", "values", "modifiers", "name", "tags", "explain", "filters",
                              "variables"})  # fmt: skip
EVENTS_QUERY_KEYS = frozenset({"kind", "select", "where", "orderBy", "properties", "fixedProperties", "event",
                               "events", "personId", "before", "after", "limit", "offset", "filterTestAccounts",
                               "modifiers", "tags", "response"})  # fmt: skip
EVENTS_QUERY_MAX_LIMIT = 50_000
# PostHog's EventsQuery looks at the last day unless `after` says otherwise ("all": no lower bound). (The events
# list's `select` has none: it lists events of all time, as the list does without `select`.)
AFTER_DEFAULT = timedelta(hours=24)
REFRESH_MODES = frozenset({"blocking", "async", "async_except_on_cache_miss", "lazy_async", "force_blocking",
                           "force_async", "force_cache"})  # fmt: skip


def parse_error(detail: str, attr: str | None = None) -> APIError:
    return APIError(detail, code="parse_error", attr=attr, error_type="invalid_request")


class QueryRequestSerializer(serializers.Serializer):
    query = serializers.DictField(help_text='A query node: `{"kind": "HogQLQuery", "query": "select …"}`.')
    refresh = serializers.JSONField(required=False, allow_null=True,
                                    help_text="Accepted in every mode; answered synchronously.")  # fmt: skip
    client_query_id = serializers.CharField(required=False, max_length=200)
    name = serializers.CharField(required=False, max_length=128)


class QueryViewSet(TeamScopedViewSetMixin, viewsets.GenericViewSet):
    """Run a query. `HogQLQuery` takes a HogQL SELECT over `events` or `persons` in `query`, with `{name}`
    placeholders bound from `values`. `EventsQuery` takes `select`/`where`/`orderBy` lists of HogQL expressions
    over events, with property, event, person and time filters (`after` defaults to 24 hours ago)."""

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
        # PostHog answers a query with 200 (it creates nothing), though the route is a POST.
        responses={
            200: inline_serializer(
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
            )
        },
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
        if kind == "EventsQuery":
            return Response(self._events_query(node))
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
        rows = render_rows(result.rows, result.types, tz)
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

    def _events_query(self, node: dict[str, Any]) -> dict[str, Any]:
        extra = sorted(set(node) - EVENTS_QUERY_KEYS)
        if extra:
            raise parse_error(f"Extra inputs are not permitted: {', '.join(extra)}.", f"query__{extra[0]}")
        select = _strings(node, "select", required=True)
        if node.get("filterTestAccounts"):
            raise exceptions.ValidationError({"query__filterTestAccounts": ["Test-account filters are not supported."]})
        started = time.perf_counter()
        now = timezone.now()
        limit = _whole(node, "limit", default=100, maximum=EVENTS_QUERY_MAX_LIMIT)
        offset = _whole(node, "offset", default=0)
        query = self._events_query_input(node, select, limit, offset, now)
        result = hogql.events_query(team=self.team, query=query, now=now)
        tz = team_timezone(self.team.timezone)
        return {
            "results": render_rows(result.rows, result.types, tz),
            "columns": result.columns,
            "types": result.types,
            "hasMore": result.has_more,
            "limit": limit,
            "offset": offset,
            "hogql": result.hogql,
            "nextCursor": None,
            "timings": [{"k": "./query", "t": round(time.perf_counter() - started, 6)}],
            "modifiers": {},
            "error": None,
            "is_cached": False,
            "last_refresh": render_value(now, tz),
            "timezone": self.team.timezone,
        }

    def _events_query_input(self, node: dict[str, Any], select: list[str], limit: int, offset: int,
                            now: datetime) -> hogql.EventsQuery:  # fmt: skip
        tz = team_timezone(self.team.timezone)
        try:
            properties = parse_property_filters(
                [*(_list(node, "fixedProperties")), *(_list(node, "properties"))] or None,
                regex_check=regex_problem,
            )
        except PropertyFilterError as error:
            raise exceptions.ValidationError({error.attr("query__properties"): [error.message]}) from None
        events = _strings(node, "events") or None
        if node.get("event") is not None:
            events = [*(events or []), *_strings({"event": [node["event"]]}, "event")]
        distinct_ids = None
        if node.get("personId") is not None:
            if not isinstance(node["personId"], str):
                raise parse_error("personId must be a string.", "query__personId")
            distinct_ids = person_distinct_ids(team_id=self.team.id, person_ref=node["personId"])
        before = _moment(node, "before", tz, now)
        after = None if node.get("after") == "all" else _moment(node, "after", tz, now) or now - AFTER_DEFAULT
        return hogql.EventsQuery(select=select, where=_strings(node, "where"), order_by=_strings(node, "orderBy"),
                                 properties=properties, events=events, distinct_ids=distinct_ids, before=before,
                                 after=after, limit=limit, offset=offset)  # fmt: skip


def _strings(node: dict[str, Any], key: str, *, required: bool = False) -> list[str]:
    value = node.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise parse_error(f"query.{key} must be a list of non-empty strings.", f"query__{key}")
    if required and not value:
        raise parse_error(f"query.{key} needs at least one column.", f"query__{key}")
    return value


def _list(node: dict[str, Any], key: str) -> list[Any]:
    value = node.get(key)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise parse_error(f"query.{key} must be a list of property filters.", f"query__{key}")
    return value


def _whole(node: dict[str, Any], key: str, *, default: int, maximum: int | None = None) -> int:
    value = node.get(key)
    if value is None:
        return default
    if type(value) is not int or value < 0:
        raise parse_error(f"query.{key} must be a whole number of at least 0.", f"query__{key}")
    return min(value, maximum) if maximum is not None else value


def _moment(node: dict[str, Any], key: str, tz: tzinfo, now: datetime) -> datetime | None:
    value = node.get(key)
    if value is None:
        return None
    moment = parse_filter_datetime(value, tz=tz, now=now) if isinstance(value, str) else None
    if moment is None:
        raise parse_error(f"query.{key} must be an ISO 8601 date-time or a relative date such as -7d.", f"query__{key}")
    return moment
