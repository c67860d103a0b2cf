"""`evaluations/{evaluation_id}/backfills/`: estimate, start, watch and cancel an evaluation's run over past events.
A deleted, missing or other project's evaluation is a 404 for every route."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from environments.api.routing import TeamScopedViewSetMixin
from environments.api.throttling import RateThrottle
from evaluations import backfills
from evaluations.backfill_serializers import (
    BackfillEstimateSerializer,
    BackfillRequestSerializer,
    EvaluationBackfillSerializer,
)
from evaluations.models import Evaluation, EvaluationBackfill

# Actions with limits of their own, on top of the API's (`RATE_LIMITS`).
ACTION_RATES = {"estimate": "evaluation_backfill_estimate", "create": "evaluation_backfill_create"}


class EvaluationBackfillViewSet(
    TeamScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scope_object = "evaluation"
    queryset = EvaluationBackfill.objects.select_related("created_by").order_by("-created_at", "id")
    serializer_class = EvaluationBackfillSerializer

    @cached_property
    def evaluation(self) -> Evaluation:
        return backfills.evaluation_for_backfill(team=self.team, evaluation_id=self.kwargs["evaluation_id"])

    def safely_get_queryset(self, queryset: QuerySet[EvaluationBackfill]) -> QuerySet[EvaluationBackfill]:
        return queryset.filter(evaluation=self.evaluation)

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.action in ACTION_RATES:
            throttles.append(RateThrottle(scope=ACTION_RATES[self.action]))
        return throttles

    def _plan(self, request: Request) -> tuple[backfills.BackfillPlan, bool]:
        body = BackfillRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        plan = backfills.backfill_plan(evaluation=self.evaluation, window_start=data["window_start"],
                                       window_end=data["window_end"], conditions=data.get("conditions"))  # fmt: skip
        return plan, data["rerun_existing"]

    @extend_schema(request=BackfillRequestSerializer, responses={201: EvaluationBackfillSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        plan, rerun_existing = self._plan(request)
        backfill = backfills.backfill_create(team=self.team, user=self.user, evaluation=self.evaluation, plan=plan,
                                             rerun_existing=rerun_existing)  # fmt: skip
        return Response(self.get_serializer(backfill).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=BackfillRequestSerializer,
        responses={200: BackfillEstimateSerializer},
        description="How many generations a backfill over this range would judge, how many already have a verdict "
        "of this evaluation, and roughly how many tokens judging them costs. Nothing is started.",
    )
    @action(detail=False, methods=["post"], required_scopes=["evaluation:read"])
    def estimate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        plan, rerun_existing = self._plan(request)
        estimate = backfills.backfill_estimate(team=self.team, evaluation=self.evaluation, plan=plan,
                                               rerun_existing=rerun_existing)  # fmt: skip
        answer = {"total_units": estimate.total_units, "unit": backfills.UNIT, "window_start": plan.window_start,
                  "window_end": plan.window_end, "already_evaluated_units": estimate.already_evaluated_units,
                  "estimated_tokens": estimate.estimated_tokens, "over_limit": estimate.over_limit}  # fmt: skip
        return Response(BackfillEstimateSerializer(answer).data)

    @extend_schema(
        request=None,
        responses={200: EvaluationBackfillSerializer},
        description="Stop dispatching; runs already started finish. Cancelling again changes nothing.",
    )
    @action(detail=True, methods=["post"], required_scopes=["evaluation:write"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        backfill = backfills.backfill_cancel(backfill=self.get_object())
        return Response(self.get_serializer(backfill).data)
