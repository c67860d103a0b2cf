"""The events list's query parameters: `EventsListParameters` reads them (and documents them in the OpenAPI schema).
An empty value reads as an absent one; the first bad parameter, in the order below, answers alone with its own
error (`attr` the parameter, or the property filter within it)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import orjson
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from posthog_clone import json_limits
from posthog_clone.api.parsers import NestedTooDeeply
from posthog_clone.api.schema import EMPTY_MEANS_ABSENT
from posthog_clone.api.validators import NUL_NOT_ALLOWED, contains_nul
from query_languages import (
    MATCH_EVERYTHING,
    PropertyFilterError,
    PropertyGroup,
    parse_filter_datetime,
    parse_property_filters,
)

WHOLE_NUMBER = re.compile(r"-?[0-9]{1,20}")
# Larger numbers are refused rather than passed to SQL, where they would overflow a bigint.
LARGEST_WHOLE_NUMBER = 2**62
# `+` in a query string decodes to a space; an offset like "…T10:00:00 00:00" meant "+00:00".
SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")
# The order parameters are read in, so the first bad one answers (`orderBy` is read as `select` says).
READ_ORDER = ("select", "where", "limit", "offset", "orderBy", "properties", "before", "after", "before_uuid",
              "after_uuid")  # fmt: skip


def bad(attr: str, detail: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({attr: [detail]})


class _Parameter(serializers.Field):
    """One query parameter, read from its text (never empty: an empty one is absent) by `read`, which raises the
    whole error answer. `schema` is its OpenAPI schema."""

    def __init__(self, schema: dict[str, Any], *, empty_means_absent: bool = True, help_text: str | None = None):
        super().__init__(required=False, help_text=help_text)
        self.empty_means_absent = empty_means_absent
        extend_schema_field({**schema, **(EMPTY_MEANS_ABSENT if empty_means_absent else {})})(self)

    def read(self, raw: str) -> Any:
        return raw

    def to_representation(self, value: Any) -> Any:
        return value


def parse_moment(raw: str, *, tz: tzinfo, now: datetime) -> datetime | None:
    """A moment as the events list reads `before`/`after`: ISO 8601 (a `+` offset may arrive decoded as a space), a
    relative date such as -7d, or unix seconds; None when it is none of these."""
    return parse_filter_datetime(SPACED_OFFSET.sub(r"\1+\2", raw.strip()), tz=tz, now=now)


class _Moment(_Parameter):
    def read(self, raw: str) -> datetime:
        moment = parse_moment(raw, tz=self.context["tz"], now=self.context["now"])
        if moment is None:
            raise bad(self.field_name, f"'{raw}' is not an ISO 8601 date-time or a relative date such as -7d.")
        return moment


class _Uuid(_Parameter):
    def read(self, raw: str) -> uuid.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise bad(self.field_name, f"'{raw}' is not a valid UUID.") from None


class _WholeNumber(_Parameter):
    def __init__(self, *, minimum: int, help_text: str) -> None:
        super().__init__({"type": "integer", "minimum": minimum, "maximum": LARGEST_WHOLE_NUMBER}, help_text=help_text)
        self.minimum = minimum

    def read(self, raw: str) -> int:
        if not WHOLE_NUMBER.fullmatch(raw) or int(raw) < self.minimum or int(raw) > LARGEST_WHOLE_NUMBER:
            raise bad(self.field_name, f"A whole number of at least {self.minimum} is required.")
        return int(raw)


class _Json(_Parameter):
    """JSON, as bounded as JSON bodies are (nesting, and no U+0000 once decoded)."""

    def __init__(self, *, help_text: str, unparsable: str | None = None) -> None:
        super().__init__({"type": "string"}, help_text=help_text)
        self.unparsable = unparsable

    def read(self, raw: str) -> Any:
        try:
            value = json_limits.loads(raw)
        except json_limits.NestedTooDeeply:
            raise NestedTooDeeply() from None
        except orjson.JSONDecodeError:
            raise exceptions.ValidationError(self.unparsable or f"{self.field_name} is not valid JSON.") from None
        if contains_nul(value):
            raise exceptions.ValidationError({self.field_name: [NUL_NOT_ALLOWED]}, code="null_characters_not_allowed")
        return value


class _Expressions(_Json):
    """A JSON list of HogQL expressions."""

    def read(self, raw: str) -> list[str]:
        value = super().read(raw)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise bad(self.field_name, f"{self.field_name} must be a JSON list of HogQL expressions.")
        return value


class _Properties(_Json):
    def read(self, raw: str) -> PropertyGroup:
        try:
            return parse_property_filters(super().read(raw), regex_check=self.context["regex_check"])
        except PropertyFilterError as error:
            raise exceptions.ValidationError({error.attr("properties"): [error.message]}) from None


def _text(help_text: str | None = None, **schema: Any) -> _Parameter:
    return _Parameter({"type": "string", **schema}, help_text=help_text)


@dataclass(frozen=True)
class EventsListInput:
    """The list's parameters as read; None where absent (`limit`'s default depends on the format)."""

    event: str | None
    distinct_id: str | None  # an empty one is given: it matches the empty distinct id
    person_id: str | None
    before: datetime | None
    after: datetime | None
    before_uuid: uuid.UUID | None
    after_uuid: uuid.UUID | None
    properties: PropertyGroup
    order_by: list[str] | None  # with `select`, HogQL (`-` first for descending); else one of the two below
    limit: int | None
    offset: int
    include_person: bool
    select: list[str]
    where: list[str]


class EventsListParameters(serializers.Serializer):
    """Context: `tz` and `now` (what relative and local times are read against) and `regex_check` (the store's)."""

    event = _text("Filter list by event. For example `user sign up` or `$pageview`.")
    distinct_id = _Parameter({"type": "string"}, empty_means_absent=False, help_text="Filter list by distinct id.")
    person_id = _text("Filter list by person id (integer id or UUID).")
    before = _Moment({"type": "string"}, help_text="Only return events with a timestamp before this time.")
    after = _Moment({"type": "string"}, help_text="Only return events with a timestamp after this time.")
    before_uuid = _Uuid({"type": "string", "format": "uuid"}, help_text="Tie-breaker for `before` (set in `next`).")
    after_uuid = _Uuid({"type": "string", "format": "uuid"}, help_text="Tie-breaker for `after` (set in `next`).")
    properties = _Properties(
        help_text="Filter events by event property, person property, cohort, groups and more (JSON).",
        unparsable="Properties are unparsable!",
    )
    orderBy = _Json(
        help_text='JSON list: `["-timestamp"]` (default) or `["timestamp"]`; with `select`, HogQL expressions, '
        "`-` first for descending."
    )
    limit = _WholeNumber(minimum=1, help_text="The maximum number of results to return (default 100, max 1000).")
    offset = _WholeNumber(minimum=0, help_text="The initial index from which to return the results (deprecated).")
    format = _text(enum=["csv", "json"])
    include_person = _Parameter(
        {"type": "boolean"}, empty_means_absent=False, help_text="Fill `person` (default true)."
    )
    select = _Expressions(help_text="(Experimental) JSON-serialized array of HogQL expressions to return")
    where = _Expressions(help_text="(Experimental) JSON-serialized array of HogQL expressions that must pass")

    def read(self, params: QueryDict) -> EventsListInput:
        for name in self.fields:
            if len(params.getlist(name)) > 1:
                raise bad(name, f"{name} may be given once.")
        given = {name: raw for name, field in self.fields.items()
                 if (raw := params.get(name)) is not None and (raw != "" or not field.empty_means_absent)}  # fmt: skip
        values: dict[str, Any] = {}
        for name in READ_ORDER:
            values[name] = self.fields[name].read(given[name]) if name in given else None
            if name == "orderBy":
                self._check_order(values["orderBy"], select=bool(values["select"]))
        return EventsListInput(
            event=given.get("event"),
            distinct_id=given.get("distinct_id"),
            person_id=given.get("person_id"),
            before=values["before"],
            after=values["after"],
            before_uuid=values["before_uuid"],
            after_uuid=values["after_uuid"],
            properties=MATCH_EVERYTHING if values["properties"] is None else values["properties"],
            order_by=values["orderBy"],
            limit=values["limit"],
            offset=values["offset"] or 0,
            include_person=given.get("include_person", "true").lower() not in ("false", "0"),
            select=values["select"] or [],
            where=values["where"] or [],
        )

    @staticmethod
    def _check_order(order_by: Any, *, select: bool) -> None:
        if select:
            if order_by is not None and not (isinstance(order_by, list) and all(isinstance(o, str) for o in order_by)):
                raise bad("orderBy", "orderBy must be a JSON list of HogQL expressions, `-` first for descending.")
        elif order_by not in (None, ["-timestamp"], ["timestamp"]):
            raise bad("orderBy", 'orderBy must be ["-timestamp"] or ["timestamp"].')


def list_parameters(*, tz: tzinfo, now: datetime, regex_check: Any) -> EventsListParameters:
    return EventsListParameters(context={"tz": tz, "now": now, "regex_check": regex_check})
