"""django-filter pieces shared by resources: strict booleans, UUID lists and stable ordering."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet


class StrictNullBooleanField(forms.NullBooleanField):
    """`true`/`false` (any case) or `1`/`0`; anything else is an error instead of being ignored."""

    widget = forms.TextInput  # the default select widget turns unknown input into None before validation
    TRUE = {"true", "1"}
    FALSE = {"false", "0"}

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictNullBooleanField


class UUIDInFilter(django_filters.BaseInFilter, django_filters.UUIDFilter):
    """Comma-separated UUIDs; a malformed one is a 400, not a database error."""


class StableOrderingFilter(django_filters.OrderingFilter):
    """Orders by the requested fields, then by primary key, so pages never repeat or skip tied rows."""

    def filter(self, qs: QuerySet[Any], value: list[str] | None) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.order_by(*[self.get_ordering_value(param) for param in value], "pk")
