"""The OpenAPI description of `stats/` and of the list's `stats_7d` (the answers themselves are built as plain dicts
by `evaluations.stats`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import serializers

from evaluations.stats import DEFAULT_DATE_FROM, INTERVALS, MAX_BUCKETS, TOP_BREAKDOWN_VALUES, TRIGGERS

COUNTED = (
    "`passed`/`failed`: by the verdict (a numeric or categorical run by its passing rule; one without a rule counts "
    "in `runs` only). `na`: not applicable. `skipped`: the judge's answer did not fit the output type (unparsable, "
    "a score out of bounds, unknown categories, too long). `errored`: the evaluator itself failed (its Hog program, "
    "or the project's provider key or model), so the run was skipped with that error as its reason. Runs that "
    "ended before emitting an `$ai_evaluation` event are not counted."
)


class StatsItemSerializer(serializers.Serializer):
    date = serializers.DateTimeField(help_text="The start of the interval, in the project's time zone.")
    breakdown_value = serializers.CharField(
        allow_null=True,
        help_text=f"The breakdown's value; `$other` for the values beyond the top {TOP_BREAKDOWN_VALUES} by runs; "
        "null without a breakdown, or for runs whose event has no value for it.",
    )
    runs = serializers.IntegerField()
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    na = serializers.IntegerField()
    skipped = serializers.IntegerField()
    errored = serializers.IntegerField()
    pass_rate = serializers.FloatField(allow_null=True, help_text="passed / (passed + failed); null when both are 0.")
    mean = serializers.FloatField(allow_null=True, required=False, help_text="Numeric evaluations only.")
    p50 = serializers.FloatField(allow_null=True, required=False, help_text="Numeric only (linear interpolation).")
    p90 = serializers.FloatField(allow_null=True, required=False, help_text="Numeric only (linear interpolation).")
    min = serializers.FloatField(allow_null=True, required=False, help_text="Numeric only.")
    max = serializers.FloatField(allow_null=True, required=False, help_text="Numeric only.")
    categories = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Categorical only: runs per category key (every configured key, 0 included).",
    )


class EvaluationStatsSerializer(serializers.Serializer):
    evaluation_id = serializers.UUIDField()
    output_type = serializers.ChoiceField(choices=["boolean", "numeric", "categorical"])
    interval = serializers.ChoiceField(choices=INTERVALS)
    date_from = serializers.DateTimeField(help_text="The start of the first interval (date_from, moved back to it).")
    date_to = serializers.DateTimeField(help_text="Exclusive.")
    timezone = serializers.CharField()
    breakdown = serializers.CharField(allow_null=True)
    series = StatsItemSerializer(many=True, help_text="Every interval, oldest first (each with every breakdown value, "
                                 "most runs first, then null, then `$other`). " + COUNTED)  # fmt: skip


STATS_PARAMETERS = [
    OpenApiParameter(
        "date_from",
        str,
        description="An ISO 8601 date-time or a relative date (`-7d`, `-24h`, "
        f"`-1m`), as the events list reads them; default `{DEFAULT_DATE_FROM}`. Moved back to the start "
        "of its interval.",
        required=False,
    ),
    OpenApiParameter("date_to", str, description="As date_from; exclusive; default now.", required=False),
    OpenApiParameter(
        "interval",
        str,
        enum=list(INTERVALS),
        required=False,
        description="Default `day`; in the project's time zone (weeks start on Sunday). At most "
        f"{MAX_BUCKETS} intervals.",
    ),
    OpenApiParameter(
        "breakdown",
        str,
        required=False,
        description="A property of the `$ai_evaluation` event (a bare "
        "name such as `$ai_model`, which on these events is the judge's model) or a HogQL expression "
        "over its properties, such as `properties.$ai_evaluation_key_type`.",
    ),
    OpenApiParameter(
        "trigger",
        str,
        enum=list(TRIGGERS),
        required=False,
        description="Only runs started this way. Events emitted before runs carried "
        "`$ai_evaluation_trigger` count as `backfill` when they name a backfill, else `online`.",
    ),
]

STATS_EXAMPLE = OpenApiExample(
    "Boolean, by day",
    response_only=True,
    value={
        "evaluation_id": "0193a1b2-4c5d-7e6f-8a9b-0c1d2e3f4a5b",
        "output_type": "boolean",
        "interval": "day",
        "date_from": "2026-11-30T00:00:00+01:00",
        "date_to": "2026-12-07T10:15:00+01:00",
        "timezone": "Europe/Paris",
        "breakdown": "$ai_model",
        "series": [
            {"date": "2026-11-30T00:00:00+01:00", "breakdown_value": "gpt-4o-mini", "runs": 40, "passed": 30,
             "failed": 8, "na": 1, "skipped": 1, "errored": 0, "pass_rate": 0.789474},
            {"date": "2026-11-30T00:00:00+01:00", "breakdown_value": "$other", "runs": 0, "passed": 0, "failed": 0,
             "na": 0, "skipped": 0, "errored": 0, "pass_rate": None},
        ],
    },
)  # fmt: skip

NUMERIC_EXAMPLE = OpenApiExample(
    "Numeric, by week",
    response_only=True,
    value={
        "evaluation_id": "0193a1b2-4c5d-7e6f-8a9b-0c1d2e3f4a5c",
        "output_type": "numeric",
        "interval": "week",
        "date_from": "2026-11-29T00:00:00+00:00",
        "date_to": "2026-12-07T09:15:00+00:00",
        "timezone": "UTC",
        "breakdown": None,
        "series": [
            {"date": "2026-11-29T00:00:00+00:00", "breakdown_value": None, "runs": 120, "passed": 90, "failed": 28,
             "na": 0, "skipped": 2, "errored": 0, "pass_rate": 0.762712, "mean": 7.1, "p50": 7.5, "p90": 9.0,
             "min": 2.0, "max": 10.0},
            {"date": "2026-12-06T00:00:00+00:00", "breakdown_value": None, "runs": 0, "passed": 0, "failed": 0,
             "na": 0, "skipped": 0, "errored": 0, "pass_rate": None, "mean": None, "p50": None, "p90": None,
             "min": None, "max": None},
        ],
    },
)  # fmt: skip

CATEGORICAL_EXAMPLE = OpenApiExample(
    "Categorical, by day",
    response_only=True,
    value={
        "evaluation_id": "0193a1b2-4c5d-7e6f-8a9b-0c1d2e3f4a5d",
        "output_type": "categorical",
        "interval": "day",
        "date_from": "2026-12-06T00:00:00+00:00",
        "date_to": "2026-12-07T09:15:00+00:00",
        "timezone": "UTC",
        "breakdown": None,
        "series": [
            {"date": "2026-12-06T00:00:00+00:00", "breakdown_value": None, "runs": 10, "passed": 7, "failed": 2,
             "na": 1, "skipped": 0, "errored": 0, "pass_rate": 0.777778,
             "categories": {"friendly": 7, "curt": 2}},
            {"date": "2026-12-07T00:00:00+00:00", "breakdown_value": None, "runs": 0, "passed": 0, "failed": 0,
             "na": 0, "skipped": 0, "errored": 0, "pass_rate": None, "categories": {"friendly": 0, "curt": 0}},
        ],
    },
)  # fmt: skip
