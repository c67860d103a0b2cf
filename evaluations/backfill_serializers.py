"""The shapes of `evaluations/{id}/backfills/`: a backfill as PostHog shows it, what creating or estimating one
takes, and the estimate."""

from __future__ import annotations

from rest_framework import serializers

from environments.api.serializers import UserBasicSerializer
from evaluations.models import EvaluationBackfill
from posthog_clone.api.fields import ModelSerializer, StrictBooleanField


class EvaluationBackfillSerializer(ModelSerializer):
    created_by = UserBasicSerializer(read_only=True)

    class Meta:
        model = EvaluationBackfill
        fields = [
            "id",
            "status",
            "target",
            "window_start",
            "window_end",
            "conditions",
            "rerun_existing",
            "total_count",
            "dispatched_count",
            "skipped_count",
            "created_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class BackfillRequestSerializer(serializers.Serializer):
    window_start = serializers.DateTimeField(help_text="The range's start, inclusive.")
    window_end = serializers.DateTimeField(help_text="The range's end, exclusive; a future end is clamped to now.")
    conditions = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        max_length=100,
        help_text="`[{properties, rollout_percentage}]`, the evaluation's own conditions when left out. Sampling "
        "picks the same events online evaluation would have.",
    )
    rerun_existing = StrictBooleanField(
        default=False, help_text="Judge events that already have a verdict of this evaluation again."
    )


class BackfillEstimateSerializer(serializers.Serializer):
    total_units = serializers.IntegerField(help_text="Generations the backfill would judge (at most the limit + 1).")
    unit = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    already_evaluated_units = serializers.IntegerField(help_text="Of those, how many already have a verdict.")
    estimated_tokens = serializers.IntegerField(
        allow_null=True, help_text="Roughly what judging them costs (llm_judge only): prompt and event text at four "
        "characters a token, plus the judge's answer.",
    )  # fmt: skip
    over_limit = serializers.BooleanField(help_text="More than the server's BACKFILL_MAX_EVENTS would be judged.")
