"""The filter backend every list uses, and what its schema says: django-filter ignores a filter sent empty
(`?status=` lists everything), so each filter parameter is documented with `allowEmptyValue` — clients and
schemathesis may send it, and the answer is the unfiltered list."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension


class FilterBackend(DjangoFilterBackend):
    pass


class FilterBackendSchema(DjangoFilterExtension):
    target_class = "posthog_clone.api.filter_schema.FilterBackend"
    priority = 1  # over drf-spectacular's own extension, which matches this subclass too

    def get_schema_operation_parameters(self, auto_schema: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters
