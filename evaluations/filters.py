from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from evaluations.models import Evaluation, EvaluationRun, EvaluationType, RunStatus, RunTrigger
from posthog_clone.api.filters import StableOrderingFilter, StrictBooleanFilter, UUIDInFilter


class EvaluationFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="Search in name or description")
    enabled = StrictBooleanFilter(help_text="Filter by enabled status")
    evaluation_type = django_filters.ChoiceFilter(choices=EvaluationType.choices, help_text="Filter by evaluation type")
    id__in = UUIDInFilter(field_name="id", lookup_expr="in", help_text="Multiple values may be separated by commas.")
    order_by = StableOrderingFilter(
        fields=(("created_at", "created_at"), ("updated_at", "updated_at"), ("name", "name")),
        field_labels={"created_at": "Created At", "updated_at": "Updated At", "name": "Name"},
    )

    class Meta:
        model = Evaluation
        fields = ["search", "enabled", "evaluation_type", "id__in", "order_by"]

    def filter_search(self, queryset: QuerySet[Evaluation], name: str, value: str) -> QuerySet[Evaluation]:
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class EvaluationRunFilter(django_filters.FilterSet):
    evaluation_id = django_filters.UUIDFilter(field_name="evaluation_id", help_text="Only runs of this evaluation.")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices, help_text="Only runs in this status.")
    trigger = django_filters.ChoiceFilter(
        choices=RunTrigger.choices,
        help_text="`manual` (through the API), `online` (at ingestion) or `backfill`.",
    )
    target_event_id = django_filters.UUIDFilter(help_text="Only runs on this event.")
    backfill_id = django_filters.UUIDFilter(field_name="backfill_id", help_text="Only runs of this backfill.")

    class Meta:
        model = EvaluationRun
        fields = ["evaluation_id", "status", "trigger", "target_event_id", "backfill_id"]
