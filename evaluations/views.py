from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from environments.api.routing import TeamScopedViewSetMixin
from evaluations import backfills, code_evaluators, runs, selectors, stats
from evaluations.filters import EvaluationFilter, EvaluationRunFilter
from evaluations.models import Evaluation, EvaluationRun
from evaluations.serializers import (
    EVALUATION_ROW_COLUMNS,
    EVALUATION_ROW_JSON_COLUMNS,
    EvaluationRunCreateSerializer,
    EvaluationRunSerializer,
    EvaluationRunStartedSerializer,
    EvaluationSerializer,
    TestHogResponseSerializer,
    TestHogSerializer,
    evaluation_to_dict,
)
from evaluations.stats_serializers import (
    CATEGORICAL_EXAMPLE,
    NUMERIC_EXAMPLE,
    STATS_EXAMPLE,
    STATS_PARAMETERS,
    EvaluationStatsSerializer,
)
from posthog_clone.db import PlainRows
from posthog_clone.errors import DomainError


def _rows(queryset: QuerySet[Evaluation]) -> PlainRows:
    return selectors.evaluation_rows(queryset, columns=EVALUATION_ROW_COLUMNS, json_columns=EVALUATION_ROW_JSON_COLUMNS)


# PostHog's MCP server lists evaluations into a model's context: its lists leave the bulky fields out.
MCP_CLIENT = "mcp"
MCP_OMITTED_FIELDS = frozenset(
    {"evaluation_config", "output_config", "conditions", "model_configuration", "created_by", "deleted"}
)

STATS_7D = "stats_7d"
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

    # Reads render plain rows (`evaluation_to_dict`); the serializer validates writes and documents the shape.
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "X-PostHog-Client",
                location=OpenApiParameter.HEADER,
                required=False,
                description="`mcp`: leave out " + ", ".join(f"`{name}`" for name in sorted(MCP_OMITTED_FIELDS)) + ".",
            ),
            OpenApiParameter(
                "include",
                str,
                required=False,
                description="`stats_7d`: each evaluation gains `stats_7d: {runs, passed, failed, na, pass_rate, "
                "daily}` over the last 7 days of the project's calendar (`daily`: runs per day, oldest first), "
                "counted in one query for the page.",
            ),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(_rows(queryset))
        results = [evaluation_to_dict(row) for row in page or ()]
        if STATS_7D in request.query_params.get("include", "").split(","):
            found = stats.evaluations_stats_7d(team=self.team, evaluation_ids=[str(r["id"]) for r in results],
                                               now=timezone.now())  # fmt: skip
            for result in results:
                result["stats_7d"] = found[str(result["id"])]
        if request.headers.get("X-PostHog-Client") == MCP_CLIENT:
            results = [{name: value for name, value in result.items() if name not in MCP_OMITTED_FIELDS}
                       for result in results]  # fmt: skip
        return self.get_paginated_response(results)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = _rows(self.filter_queryset(self.get_queryset())).queryset
        return Response(evaluation_to_dict(get_object_or_404(rows, pk=self.kwargs["pk"])))

    def perform_create(self, serializer: EvaluationSerializer) -> None:
        serializer.save(team=self.team, created_by=self.user)

    def perform_update(self, serializer: EvaluationSerializer) -> None:
        evaluation = serializer.save()
        if evaluation.deleted or not evaluation.enabled:
            backfills.backfills_cancel_for_evaluation(evaluation_id=evaluation.id)

    @extend_schema(
        request=TestHogSerializer,
        responses={200: TestHogResponseSerializer},
        description="Try a Hog program on the newest matching `$ai_generation` events of the last 7 days, as a "
        "boolean evaluation. Nothing is stored and no event is emitted.",
    )
    @action(detail=False, methods=["post"], required_scopes=["evaluation:read"])
    def test_hog(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = TestHogSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            results = code_evaluators.dry_run(team=self.team, **body.validated_data)
        except code_evaluators.ProgramError as error:
            raise DomainError(error.message, code="hog_compile_error", attr="source") from None
        if not results:
            return Response({"results": [], "message": code_evaluators.NO_RECENT_EVENTS})
        return Response({"results": results})

    @extend_schema(
        parameters=STATS_PARAMETERS,
        responses={200: EvaluationStatsSerializer},
        examples=[STATS_EXAMPLE, NUMERIC_EXAMPLE, CATEGORICAL_EXAMPLE],
        description="The evaluation's results over time (and by a breakdown), counted from its `$ai_evaluation` "
        "events: every interval of the range is present, with zeros when nothing ran.",
    )
    @action(detail=True, methods=["get"], required_scopes=["evaluation:read"])
    def stats(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        evaluation = self.get_object()
        now = timezone.now()
        parameters = stats.stats_parameters(params=request.query_params, team=self.team, now=now)
        return Response(stats.evaluation_stats(team=self.team, evaluation=evaluation, parameters=parameters, now=now))

    @extend_schema(description=HARD_DELETE_NOT_ALLOWED, responses={405: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # DRF writes `self.headers` over the response's own when finalising it.
        self.headers["Allow"] = ", ".join(method for method in self.allowed_methods if method != "DELETE")
        return Response(status=status.HTTP_405_METHOD_NOT_ALLOWED)


class EvaluationRunViewSet(
    TeamScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Runs of evaluations: start one by hand (a Temporal workflow judges the event and emits `$ai_evaluation`),
    and read the history of manual and online runs, newest first."""

    scope_object = "evaluation"
    queryset = EvaluationRun.objects.select_related("evaluation").order_by("-created_at", "id")
    serializer_class = EvaluationRunSerializer
    filterset_class = EvaluationRunFilter
    lookup_value_regex = "[^/]+"  # workflow ids are free text

    @extend_schema(
        request=EvaluationRunCreateSerializer,
        responses={201: EvaluationRunStartedSerializer},
        description="Create a new evaluation run.\n\nThis endpoint validates the request and enqueues a Temporal "
        "workflow to asynchronously execute the evaluation.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = EvaluationRunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = runs.evaluation_run_start(
            team=self.team,
            evaluation_id=body.validated_data["evaluation_id"],
            target_event_id=body.validated_data["target_event_id"],
            event=body.validated_data["event"],
            distinct_id=body.validated_data.get("distinct_id"),
        )
        return Response(EvaluationRunStartedSerializer(run).data, status=status.HTTP_201_CREATED)
