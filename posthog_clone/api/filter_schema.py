"""The filter backend every list uses, and what its schema says. django-filter ignores a filter sent empty
(`?status=` lists everything), so each filter parameter is documented with `allowEmptyValue` — clients and
schemathesis may send it, and the answer is the unfiltered list."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from rest_framework.request import Request
from rest_framework.views import APIView


class FilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        # A FilterSet deep-copies its filters and builds a form for each request (most of a millisecond). Each of
        # ours acts only on the parameters it is sent, so a request that names none of them gets the queryset as
        # the FilterSet would have answered it.
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not any(name in request.query_params for name in filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)


class FilterBackendSchema(DjangoFilterExtension):
    target_class = "posthog_clone.api.filter_schema.FilterBackend"
    priority = 1  # over drf-spectacular's own extension, which matches this subclass too

    def get_schema_operation_parameters(self, auto_schema: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters
