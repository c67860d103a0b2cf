from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from environments.api.routing import TeamScopedViewSetMixin
from evaluations.filters import EvaluationFilter
from evaluations.models import Evaluation
from evaluations.serializers import EvaluationSerializer

HARD_DELETE_NOT_ALLOWED = 'Hard delete of this model is not allowed. Use a patch API call to set "deleted" to true'


class EvaluationViewSet(TeamScopedViewSetMixin, viewsets.ModelViewSet):
    scope_object = "evaluation"
    queryset = Evaluation.objects.select_related("created_by")
    serializer_class = EvaluationSerializer
    filterset_class = EvaluationFilter

    def safely_get_queryset(self, queryset: QuerySet[Evaluation]) -> QuerySet[Evaluation]:
        # Soft-deleted rows stay reachable by updates, so `{"deleted": false}` can restore them.
        if self.action in ("update", "partial_update"):
            return queryset
        return queryset.filter(deleted=False)

    def perform_create(self, serializer: EvaluationSerializer) -> None:  # type: ignore[override]
        serializer.save(team=self.team, created_by=self.user)

    @extend_schema(description=HARD_DELETE_NOT_ALLOWED, responses={405: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # DRF writes `self.headers` over the response's own when finalising it.
        self.headers["Allow"] = ", ".join(method for method in self.allowed_methods if method != "DELETE")
        return Response(status=status.HTTP_405_METHOD_NOT_ALLOWED)
