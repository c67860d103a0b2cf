"""`/api/{environments,projects}/:project_id/events/`: list (JSON or CSV), retrieve and value suggestions."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_csv.renderers import PaginatedCSVRenderer

from environments.api.routing import TeamScopedViewSetMixin
from events import hogql, selectors
from events.models import Event
from events.presenters import event_to_dict, render_rows, utc_iso
from posthog_clone import json_limits
from posthog_clone.api.fields import StrictCharField
from posthog_clone.api.parsers import NestedTooDeeply
from posthog_clone.api.renderers import JSONRenderer
from posthog_clone.api.schema import EMPTY_MEANS_ABSENT
from posthog_clone.api.validators import NUL_NOT_ALLOWED, contains_nul
from query_languages import (
    PropertyFilterError,
    parse_filter_datetime,
    parse_property_filters,
    team_timezone,
)

DEFAULT_LIMIT = 100
DEFAULT_CSV_LIMIT = 1000
MAX_LIMIT = 1000
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,20}")
# Larger numbers are refused rather than passed to SQL, where they would overflow a bigint.
LARGEST_WHOLE_NUMBER = 2**62
# `+` in a query string decodes to a space; an offset like "…T10:00:00 00:00" meant "+00:00".
SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


class EventsCSVRenderer(PaginatedCSVRenderer):
    """Rows from `results`, nested objects flattened into columns such as `properties.$browser`. A page without
    rows is still a CSV document: the header of an event's top-level columns."""

    results_field = "results"
    EMPTY_HEADER = "id,distinct_id,event,timestamp,elements_chain\r\n"

    def render(self, data: Any, media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, dict) and isinstance(data.get("columns"), list):
            return self._render_selected(data["columns"], data.get(self.results_field) or [])
        rendered = super().render(data, media_type, renderer_context)
        return rendered or self.EMPTY_HEADER.encode()

    def _render_selected(self, columns: list[str], rows: list[list[Any]]) -> bytes:
        """`select`'s rows: one column per selected expression, named as selected; a nested value (an object, a
        list) is its JSON in one cell."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([_spreadsheet_safe(name) for name in columns])
        for row in rows:
            writer.writerow([_spreadsheet_safe(orjson.dumps(value).decode() if isinstance(value, dict | list)
                                               else value) for value in row])  # fmt: skip
        return buffer.getvalue().encode()

    def tablize(self, data: Any, header: Any = None, labels: Any = None) -> Iterator[list[Any]]:
        for row in super().tablize(data, header=header, labels=labels):
            yield [_spreadsheet_safe(value) for value in row]


# A cell a spreadsheet would read as a formula; events arrive from anyone holding the public token, so their text
# is written so that it stays text (OWASP's advice: a leading apostrophe).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


class PersonSerializer(serializers.Serializer):
    is_identified = serializers.BooleanField()
    distinct_ids = serializers.ListField(child=StrictCharField())
    properties = serializers.DictField()


class EventSerializer(serializers.Serializer):
    """The event shape PostHog returns (documentation only; rows are built by `event_to_dict`)."""

    id = StrictCharField()
    distinct_id = StrictCharField()
    properties = serializers.DictField()
    event = StrictCharField()
    timestamp = StrictCharField()
    person = PersonSerializer(allow_null=True)
    elements = serializers.ListField(child=serializers.DictField())
    elements_chain = StrictCharField(allow_blank=True)  # "" for an event without elements


@extend_schema_serializer(many=False)  # one page object, not a list of them (the list has no DRF pagination)
class EventListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    results = EventSerializer(many=True)


def _bad(attr: str, detail: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({attr: [detail]})


LIST_PARAMETERS = [
    OpenApiParameter(
        "event",
        str,
        description="Filter list by event. For example `user sign up` or `$pageview`.",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter("distinct_id", str, description="Filter list by distinct id."),
    OpenApiParameter(
        "person_id", str, description="Filter list by person id (integer id or UUID).", extensions=EMPTY_MEANS_ABSENT
    ),
    OpenApiParameter(
        "before",
        str,
        description="Only return events with a timestamp before this time.",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "after", str, description="Only return events with a timestamp after this time.", extensions=EMPTY_MEANS_ABSENT
    ),
    OpenApiParameter(
        "before_uuid",
        OpenApiTypes.UUID,
        description="Tie-breaker for `before` (set in `next`).",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "after_uuid",
        OpenApiTypes.UUID,
        description="Tie-breaker for `after` (set in `next`).",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "properties",
        str,
        description="Filter events by event property, person property, cohort, groups and more (JSON).",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "orderBy",
        str,
        description='JSON list: `["-timestamp"]` (default) or `["timestamp"]`; with `select`, HogQL expressions, '
        "`-` first for descending.",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": LARGEST_WHOLE_NUMBER},
        description="The maximum number of results to return (default 100, max 1000).",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": LARGEST_WHOLE_NUMBER},
        description="The initial index from which to return the results (deprecated).",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter("format", str, enum=["csv", "json"], extensions=EMPTY_MEANS_ABSENT),
    OpenApiParameter("include_person", bool, description="Fill `person` (default true)."),
    OpenApiParameter(
        "select",
        str,
        description="(Experimental) JSON-serialized array of HogQL expressions to return",
        extensions=EMPTY_MEANS_ABSENT,
    ),
    OpenApiParameter(
        "where",
        str,
        description="(Experimental) JSON-serialized array of HogQL expressions that must pass",
        extensions=EMPTY_MEANS_ABSENT,
    ),
]


class EventViewSet(TeamScopedViewSetMixin, viewsets.GenericViewSet):
    """This endpoint allows you to list and filter events. It is effectively deprecated and is kept only for
    backwards compatibility; for ad-hoc queries PostHog recommends the Query endpoint."""

    scope_object = "query"
    throttle_scope = "query"
    queryset = Event.objects.none()
    serializer_class = EventSerializer
    renderer_classes = [JSONRenderer, EventsCSVRenderer]
    pagination_class = None
    filter_backends: list[Any] = []

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        # Errors are JSON even when CSV was asked for.
        if response.status_code >= 400 and isinstance(getattr(request, "accepted_renderer", None), EventsCSVRenderer):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    # --- parameters -----------------------------------------------------------------------------------
    def _moment(self, name: str) -> datetime | None:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return None
        moment = parse_filter_datetime(SPACED_OFFSET.sub(r"\1+\2", raw.strip()), tz=self._tz, now=self._now)
        if moment is None:
            raise _bad(name, f"'{raw}' is not an ISO 8601 date-time or a relative date such as -7d.")
        return moment

    def _uuid(self, name: str) -> uuid.UUID | None:
        raw = self.request.query_params.get(name)
        if not raw:
            return None
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise _bad(name, f"'{raw}' is not a valid UUID.") from None

    def _integer(self, name: str, default: int, *, minimum: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        if not WHOLE_NUMBER.fullmatch(raw) or int(raw) < minimum or int(raw) > LARGEST_WHOLE_NUMBER:
            raise _bad(name, f"A whole number of at least {minimum} is required.")
        return int(raw)

    def _json(self, name: str) -> Any:
        """A JSON query parameter, as bounded as JSON bodies are (nesting, and no U+0000 once decoded)."""
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = json_limits.loads(raw)
        except json_limits.NestedTooDeeply:
            raise NestedTooDeeply() from None
        except orjson.JSONDecodeError:
            raise exceptions.ValidationError(
                "Properties are unparsable!" if name == "properties" else f"{name} is not valid JSON."
            ) from None
        if contains_nul(value):
            raise exceptions.ValidationError({name: [NUL_NOT_ALLOWED]}, code="null_characters_not_allowed")
        return value

    @property
    def _tz(self) -> Any:
        return team_timezone(self.team.timezone)

    @property
    def _is_csv(self) -> bool:
        return isinstance(getattr(self.request, "accepted_renderer", None), EventsCSVRenderer)

    def _include_person(self) -> bool:
        return self.request.query_params.get("include_person", "true").lower() not in ("false", "0")

    def _rows_to_dicts(self, rows: list[selectors.EventRow]) -> list[dict[str, Any]]:
        persons = (
            selectors.persons_by_distinct_id(team_id=self.team.id, distinct_ids=[r.distinct_id for r in rows])
            if self._include_person()
            else {}
        )
        return [event_to_dict(row, persons.get(row.distinct_id)) for row in rows]

    # --- actions ----------------------------------------------------------------------------------------
    @extend_schema(parameters=LIST_PARAMETERS, responses=EventListSerializer)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._now = timezone.now()
        params = request.query_params
        for parameter in LIST_PARAMETERS:
            if len(params.getlist(parameter.name)) > 1:
                raise _bad(parameter.name, f"{parameter.name} may be given once.")
        select, where = self._expressions("select"), self._expressions("where")
        limit = min(self._integer("limit", DEFAULT_CSV_LIMIT if self._is_csv else DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        offset = self._integer("offset", 0, minimum=0)
        order_by = self._json("orderBy")
        if select:
            if order_by is not None and not (isinstance(order_by, list) and all(isinstance(o, str) for o in order_by)):
                raise _bad("orderBy", "orderBy must be a JSON list of HogQL expressions, `-` first for descending.")
        elif order_by not in (None, ["-timestamp"], ["timestamp"]):
            raise _bad("orderBy", 'orderBy must be ["-timestamp"] or ["timestamp"].')
        order = "ASC" if order_by == ["timestamp"] else "DESC"
        try:
            properties = parse_property_filters(self._json("properties"), regex_check=selectors.regex_problem)
        except PropertyFilterError as error:
            raise exceptions.ValidationError({error.attr("properties"): [error.message]}) from None
        before_moment, after_moment = self._moment("before"), self._moment("after")
        before_uuid, after_uuid = self._uuid("before_uuid"), self._uuid("after_uuid")
        before = selectors.Cursor(before_moment, before_uuid) if before_moment else None
        after = selectors.Cursor(after_moment, after_uuid) if after_moment else None

        distinct_ids = None
        if params.get("distinct_id") is not None:
            distinct_ids = [params["distinct_id"]]
        if params.get("person_id"):
            person_ids = selectors.person_distinct_ids(team_id=self.team.id, person_ref=params["person_id"])
            distinct_ids = [d for d in person_ids if distinct_ids is None or d in distinct_ids]
        if select:
            return self._selected(select, where, order_by, properties, distinct_ids, before_moment, after_moment,
                                  limit, offset)  # fmt: skip
        rows, has_more = selectors.events_list(
            team_id=self.team.id,
            tz=self._tz,
            now=self._now,
            event=params.get("event") or None,
            distinct_ids=distinct_ids,
            before=before,
            after=after,
            properties=properties,
            where=hogql.events_where(team=self.team, expressions=where, now=self._now) if where else None,
            order=order,
            limit=limit,
            offset=offset,
        )
        next_url = None
        if has_more and not self._is_csv:
            next_url = self._next_url(rows[-1], order)
        return Response({"next": next_url, "results": self._rows_to_dicts(rows)})

    def _expressions(self, name: str) -> list[str]:
        value = self._json(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise _bad(name, f"{name} must be a JSON list of HogQL expressions.")
        return value

    def _selected(self, select: list[str], where: list[str], order_by: list[str] | None, properties: Any,
                  distinct_ids: list[str] | None, before: datetime | None, after: datetime | None, limit: int,
                  offset: int) -> Response:  # fmt: skip
        """With `select`, rows of the selected columns (PostHog's EventsQuery shape, with `next`)."""
        event = self.request.query_params.get("event") or None
        orders = [f"{item[1:]} DESC" if item.startswith("-") else item for item in order_by or []]
        query = hogql.EventsQuery(select=select, where=where, order_by=orders, properties=properties,
                                  events=[event] if event else None, distinct_ids=distinct_ids, before=before,
                                  after=after, limit=limit, offset=offset)  # fmt: skip
        result = hogql.events_query(team=self.team, query=query, now=self._now)
        next_url = None
        if result.has_more:
            params = {key: value for key, value in self.request.query_params.items() if key != "offset"}
            params["offset"] = str(offset + limit)
            next_url = self.request.build_absolute_uri(self.request.path + "?" + urlencode(params))
        return Response({
            "columns": result.columns,
            "types": result.types,
            "results": render_rows(result.rows, result.types, self._tz),
            "hasMore": result.has_more,
            "next": next_url,
        })  # fmt: skip

    def _next_url(self, last: selectors.EventRow, order: str) -> str:
        params = {key: value for key, value in self.request.query_params.items() if key not in ("offset",)}
        bound = "before" if order == "DESC" else "after"
        params[bound] = utc_iso(last.timestamp)
        params[f"{bound}_uuid"] = str(last.uuid)
        return self.request.build_absolute_uri(self.request.path + "?" + urlencode(params))

    @extend_schema(
        responses=EventSerializer,
        parameters=[OpenApiParameter("pk", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The event's uuid.")],
    )
    def retrieve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        try:
            event_uuid = uuid.UUID(str(pk))
        except ValueError:
            raise _bad("id", "Invalid UUID") from None
        row = selectors.event_get(team_id=self.team.id, event_uuid=event_uuid)
        if row is None:
            raise exceptions.NotFound(f"No events exist for event UUID {pk}")
        return Response(self._rows_to_dicts([row])[0])

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "key",
                {"type": "string", "minLength": 1},
                required=True,
                description="Property key, or `custom_event` for names.",
            ),
            OpenApiParameter("value", str, description="Case-insensitive substring the values must contain."),
            OpenApiParameter("event_name", str, many=True, description="Only values seen on these events."),
        ],
        responses={200: {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}},
    )
    @action(methods=["get"], detail=False, required_scopes=["query:read"])
    def values(self, request: Request, **kwargs: Any) -> Response:
        key = request.query_params.get("key")
        if not key:
            raise _bad("key", "You must provide a key")
        search = request.query_params.get("value") or None
        if key == "custom_event":
            names = selectors.event_names(team_id=self.team.id)
            if search:
                names = [name for name in names if search.lower() in name.lower()]
            return Response([{"name": name} for name in names])
        values = selectors.property_values(
            team_id=self.team.id,
            key=key,
            now=timezone.now(),
            search=search,
            event_names=request.query_params.getlist("event_name") or None,
        )
        return Response([{"name": value} for value in values])
