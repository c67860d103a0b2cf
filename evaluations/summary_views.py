"""`llm_analytics/evaluation_summary/`: an LLM summary of an evaluation's recent results (PostHog's)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from environments.api.routing import TeamScopedViewSetMixin
from environments.api.throttling import RateThrottle
from evaluations import summaries
from evaluations.models import Evaluation
from evaluations.summary_serializers import EvaluationResultsSummarySerializer, EvaluationSummaryRequestSerializer
from posthog_clone.api.exceptions import APIError

THROTTLE_SCOPE = "llm_evaluation_summary"


class EvaluationSummaryViewSet(TeamScopedViewSetMixin, viewsets.GenericViewSet):
    scope_object = "evaluation"
    # A summary reads results and writes nothing of the project's (its cache is the server's), so reading
    # evaluations is enough; PostHog's `llm_analytics` scope guards no resource here.
    scope_object_read_actions = ["create"]
    scope_object_write_actions: list[str] = []
    queryset = Evaluation.objects.filter(deleted=False)
    serializer_class = EvaluationSummaryRequestSerializer

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), RateThrottle(scope=THROTTLE_SCOPE)]

    @extend_schema(
        request=EvaluationSummaryRequestSerializer,
        responses={200: EvaluationResultsSummarySerializer},
        description="The evaluation's judge reads up to 250 of its newest results (skipped runs left out) and "
        "answers patterns per verdict and recommendations; `statistics` are counted by the server. Cached for an "
        "hour per project, evaluation, filter and set of generations; `force_refresh` asks again. 503 "
        "`llm_judge_not_configured` when there is no judge; 502 when the judge fails or its answer does not fit.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = EvaluationSummaryRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            summary = summaries.evaluation_summary(team=self.team, **body.validated_data)
        except summaries.SummaryJudgeError as error:
            raise APIError(error.message, code=error.code, status_code=status.HTTP_502_BAD_GATEWAY,
                           error_type="server_error") from None  # fmt: skip
        return Response(EvaluationResultsSummarySerializer(summary).data)
