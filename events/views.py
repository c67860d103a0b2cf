"""`/api/{environments,projects}/:project_id/events/`: list (JSON or CSV), retrieve and value suggestions."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
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
from events.parameters import EventsListInput, EventsListParameters, bad, list_parameters
from events.presenters import event_to_dict, render_rows, utc_iso
from posthog_clone.api.fields import StrictCharField
from posthog_clone.api.renderers import JSONRenderer
from query_languages import team_timezone

DEFAULT_LIMIT = 100
DEFAULT_CSV_LIMIT = 1000
MAX_LIMIT = 1000


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

    @property
    def _tz(self) -> Any:
        return team_timezone(self.team.timezone)

    @property
    def _is_csv(self) -> bool:
        return isinstance(getattr(self.request, "accepted_renderer", None), EventsCSVRenderer)

    def _rows_to_dicts(self, rows: list[selectors.EventRow], *, include_person: bool = True) -> list[dict[str, Any]]:
        persons = (
            selectors.persons_by_distinct_id(team_id=self.team.id, distinct_ids=[r.distinct_id for r in rows])
            if include_person
            else {}
        )
        return [event_to_dict(row, persons.get(row.distinct_id)) for row in rows]

    # --- actions ----------------------------------------------------------------------------------------
    @extend_schema(parameters=[EventsListParameters], responses=EventListSerializer)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._now = timezone.now()
        params = list_parameters(tz=self._tz, now=self._now, regex_check=selectors.regex_problem).read(
            request.query_params
        )
        limit = min(params.limit or (DEFAULT_CSV_LIMIT if self._is_csv else DEFAULT_LIMIT), MAX_LIMIT)
        before = selectors.Cursor(params.before, params.before_uuid) if params.before else None
        after = selectors.Cursor(params.after, params.after_uuid) if params.after else None

        distinct_ids = None
        if params.distinct_id is not None:
            distinct_ids = [params.distinct_id]
        if params.person_id:
            person_ids = selectors.person_distinct_ids(team_id=self.team.id, person_ref=params.person_id)
            distinct_ids = [d for d in person_ids if distinct_ids is None or d in distinct_ids]
        if params.select:
            return self._selected(params, distinct_ids, limit)
        order = "ASC" if params.order_by == ["timestamp"] else "DESC"
        rows, has_more = selectors.events_list(
            team_id=self.team.id,
            tz=self._tz,
            now=self._now,
            event=params.event,
            distinct_ids=distinct_ids,
            before=before,
            after=after,
            properties=params.properties,
            where=hogql.events_where(team=self.team, expressions=params.where, now=self._now) if params.where else None,
            order=order,
            limit=limit,
            offset=params.offset,
        )
        next_url = None
        if has_more and not self._is_csv:
            next_url = self._next_url(rows[-1], order)
        return Response({"next": next_url, "results": self._rows_to_dicts(rows, include_person=params.include_person)})

    def _selected(self, params: EventsListInput, distinct_ids: list[str] | None, limit: int) -> Response:
        """With `select`, rows of the selected columns (PostHog's EventsQuery shape, with `next`)."""
        orders = [f"{item[1:]} DESC" if item.startswith("-") else item for item in params.order_by or []]
        query = hogql.EventsQuery(select=params.select, where=params.where, order_by=orders,
                                  properties=params.properties, events=[params.event] if params.event else None,
                                  distinct_ids=distinct_ids, before=params.before, after=params.after, limit=limit,
                                  offset=params.offset)  # fmt: skip
        result = hogql.events_query(team=self.team, query=query, now=self._now)
        next_url = None
        if result.has_more:
            query_params = {key: value for key, value in self.request.query_params.items() if key != "offset"}
            query_params["offset"] = str(params.offset + limit)
            next_url = self.request.build_absolute_uri(self.request.path + "?" + urlencode(query_params))
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
            raise bad("id", "Invalid UUID") from None
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
            raise bad("key", "You must provide a key")
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
