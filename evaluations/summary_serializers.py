"""The shapes of `llm_analytics/evaluation_summary/`: what a summary request takes and what it answers."""

from __future__ import annotations

from rest_framework import serializers

from evaluations.summary_selectors import MAX_RESULTS
from posthog_clone.api.fields import StrictBooleanField


class EvaluationSummaryRequestSerializer(serializers.Serializer):
    evaluation_id = serializers.UUIDField(help_text="The evaluation whose results are summarised.")
    filter = serializers.ChoiceField(
        choices=["all", "pass", "fail", "na"], default="all", help_text="Which results to read: by their verdict."
    )
    generation_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_RESULTS,
        help_text=f"Only the results of these generations (at most {MAX_RESULTS}).",
    )
    force_refresh = StrictBooleanField(
        default=False, help_text="Ask the judge again instead of answering from the cache (the answer is cached)."
    )


class SummaryPatternSerializer(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField()
    frequency = serializers.CharField(help_text="common, occasional or rare, as the judge saw it.")
    example_generation_ids = serializers.ListField(
        child=serializers.CharField(), help_text="Generations showing the pattern (among those read)."
    )


class SummaryStatisticsSerializer(serializers.Serializer):
    total_analyzed = serializers.IntegerField()
    pass_count = serializers.IntegerField()
    fail_count = serializers.IntegerField()
    na_count = serializers.IntegerField()


class EvaluationResultsSummarySerializer(serializers.Serializer):
    overall_assessment = serializers.CharField()
    pass_patterns = SummaryPatternSerializer(many=True)
    fail_patterns = SummaryPatternSerializer(many=True)
    na_patterns = SummaryPatternSerializer(many=True)
    recommendations = serializers.ListField(child=serializers.CharField())
    statistics = SummaryStatisticsSerializer(
        help_text="Counted from the results read (skipped runs are not results), not taken from the judge."
    )
