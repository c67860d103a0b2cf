from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from posthog_clone.api.filters import StableOrderingFilter
from symbol_sets.models import ErrorTrackingSymbolSet


class SymbolSetStatus:
    ALL = "all"
    VALID = "valid"  # has a stored file
    INVALID = "invalid"  # recorded without one (symbolication found nothing for the ref)
    CHOICES = ((ALL, "All"), (VALID, "Valid"), (INVALID, "Invalid"))


class SymbolSetFilter(django_filters.FilterSet):
    ref = django_filters.CharFilter(field_name="ref", help_text="Exact chunk id")
    search = django_filters.CharFilter(
        method="filter_search", help_text="Search in the ref, or the release's version, project or git commit id"
    )
    status = django_filters.ChoiceFilter(choices=SymbolSetStatus.CHOICES, method="filter_status")
    order_by = StableOrderingFilter(fields=(("created_at", "created_at"), ("ref", "ref"), ("last_used", "last_used")))

    class Meta:
        model = ErrorTrackingSymbolSet
        fields = ["ref", "search", "status", "order_by"]

    def filter_search(
        self, queryset: QuerySet[ErrorTrackingSymbolSet], name: str, value: str
    ) -> QuerySet[ErrorTrackingSymbolSet]:
        return queryset.filter(
            Q(ref__icontains=value)
            | Q(release__version__icontains=value)
            | Q(release__project__icontains=value)
            | Q(release__metadata__git__commit_id__icontains=value)
        )

    def filter_status(
        self, queryset: QuerySet[ErrorTrackingSymbolSet], name: str, value: str
    ) -> QuerySet[ErrorTrackingSymbolSet]:
        if value == SymbolSetStatus.VALID:
            return queryset.filter(storage_ptr__isnull=False)
        if value == SymbolSetStatus.INVALID:
            return queryset.filter(storage_ptr__isnull=True)
        return queryset
