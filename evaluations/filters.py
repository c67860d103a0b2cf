from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from evaluations.models import Evaluation
from posthog_clone.api.filters import StableOrderingFilter, StrictBooleanFilter, UUIDInFilter


class EvaluationFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="Search in name or description")
    enabled = StrictBooleanFilter(help_text="Filter by enabled status")
    id__in = UUIDInFilter(field_name="id", lookup_expr="in", help_text="Multiple values may be separated by commas.")
    order_by = StableOrderingFilter(
        fields=(("created_at", "created_at"), ("updated_at", "updated_at"), ("name", "name")),
        field_labels={"created_at": "Created At", "updated_at": "Updated At", "name": "Name"},
    )

    class Meta:
        model = Evaluation
        fields = ["search", "enabled", "id__in", "order_by"]

    def filter_search(self, queryset: QuerySet[Evaluation], name: str, value: str) -> QuerySet[Evaluation]:
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))
