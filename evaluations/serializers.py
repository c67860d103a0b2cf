from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from environments.api.serializers import UserBasicSerializer, user_basic_from_row
from evaluations import selectors, status
from evaluations.configs import (
    MAX_HOG_SOURCE_LENGTH,
    ConfigError,
    evaluation_config_schema,
    output_config_schema,
    validate_configs,
)
from evaluations.models import (
    Evaluation,
    EvaluationRun,
    EvaluationStatus,
    EvaluationType,
    LLMProviderKey,
    OutputType,
    ProviderKeyProvider,
    StatusReason,
)
from posthog_clone.api.fields import (
    ModelSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictUUIDField,
    drf_datetime,
)
from posthog_clone.api.validators import reject_nul_characters
from query_languages import (
    PROPERTY_FILTER_SCHEMA,
    PropertyFilterError,
    parse_property_filters,
    pattern_problem,
)

MAX_DESCRIPTION_LENGTH = 10_000
# Every condition's filters are tested against each new `$ai_generation` event while it is ingested.
MAX_CONDITIONS = 100
MAX_FILTERS_PER_CONDITION = 100


def _nested_error(path: tuple[str | int, ...], message: str) -> Any:
    """`("0", "operator")` + message → `{0: {"operator": [message]}}`, which becomes attr `…__0__operator`."""
    error: Any = [message]
    for part in reversed(path):
        error = {part: error}
    return error


@extend_schema_field({"type": "array", "items": PROPERTY_FILTER_SCHEMA})
class PropertyFiltersField(serializers.Field):
    """A list of PostHog property filters, validated as strictly as the matcher will read them; stored as sent."""

    default_error_messages = {"not_a_list": 'Expected a list of property filters but got type "{input_type}".'}

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > MAX_FILTERS_PER_CONDITION:
            raise serializers.ValidationError(f"Ensure this field has no more than {MAX_FILTERS_PER_CONDITION} "
                                              "elements.")  # fmt: skip
        reject_nul_characters(data)
        try:
            parse_property_filters(data, regex_check=pattern_problem)
        except PropertyFilterError as error:
            raise serializers.ValidationError(_nested_error(error.path, error.message)) from None
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class PercentageField(serializers.FloatField):
    """0 to 100, kept as an integer when it is one (`50`, not `50.0`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=100, **kwargs)

    def to_internal_value(self, data: Any) -> float | int:
        if isinstance(data, bool):
            self.fail("invalid")
        return _whole_if_integral(super().to_internal_value(data))

    def to_representation(self, value: Any) -> float | int:
        return _whole_if_integral(value)


def _whole_if_integral(value: float | int) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


class ConditionSerializer(serializers.Serializer):
    """One condition set: AND across its property filters, sampled at `rollout_percentage`. Unknown keys drop."""

    id = StrictCharField(max_length=200, required=False)
    rollout_percentage = PercentageField(default=100)
    properties = PropertyFiltersField(default=list)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        return {"id": value.get("id") or str(uuid.uuid4()), **value}


@extend_schema_field(evaluation_config_schema())
class EvaluationConfigField(serializers.DictField):
    pass


@extend_schema_field(output_config_schema())
class OutputConfigField(serializers.DictField):
    pass


NO_MODEL_CONFIGURATION = "This evaluation type does not use model configuration."
PROVIDER_KEY_NOT_FOUND = "Provider key not found"
STATUS_SET_BY_SERVER = "Only active or paused may be set; error is set by the server."


class ModelConfigurationSerializer(serializers.Serializer):
    """Which model judges this evaluation, and with which of the project's provider keys (none: the server's)."""

    provider = serializers.ChoiceField(choices=ProviderKeyProvider.choices)
    model = StrictCharField(max_length=100)
    provider_key_id = StrictUUIDField(required=False, allow_null=True, default=None)
    provider_key_name = StrictCharField(read_only=True, allow_null=True)


class EvaluationSerializer(ModelSerializer):
    created_by = UserBasicSerializer(read_only=True)
    status = serializers.ChoiceField(
        choices=EvaluationStatus.choices,
        required=False,
        help_text="Authoritative; `enabled` mirrors it. Clients may set active or paused (or just `enabled`); the "
        "server sets error, with a `status_reason`, when a run meets an error every later run would meet too.",
    )
    status_reason = serializers.ChoiceField(choices=StatusReason.choices, read_only=True, allow_null=True)
    status_reason_detail = StrictCharField(read_only=True, allow_null=True)
    model_configuration = ModelConfigurationSerializer(required=False, allow_null=True)
    description = StrictCharField(max_length=MAX_DESCRIPTION_LENGTH, allow_blank=True, required=False)
    # Required although PostHog stores a missing one as {}: such an evaluation could never run.
    evaluation_config = EvaluationConfigField(validators=[reject_nul_characters])
    output_config = OutputConfigField(required=False, validators=[reject_nul_characters])
    conditions = ConditionSerializer(many=True, required=False, max_length=MAX_CONDITIONS)

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "name",
            "description",
            "enabled",
            "status",
            "status_reason",
            "status_reason_detail",
            "evaluation_type",
            "evaluation_config",
            "output_type",
            "output_config",
            "conditions",
            "model_configuration",
            "created_at",
            "updated_at",
            "created_by",
            "deleted",
        ]
        read_only_fields = ["id", "status_reason", "status_reason_detail", "created_at", "updated_at", "created_by"]

    CONFIG_INPUTS = ("evaluation_type", "output_type", "evaluation_config", "output_config")

    def validate_status(self, value: str) -> str:
        if value == EvaluationStatus.ERROR:
            raise serializers.ValidationError(STATUS_SET_BY_SERVER)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = self._validate_configs(attrs)
        key = self._validate_model_configuration(attrs)
        self._sync_status(attrs, key)
        return attrs

    def _validate_model_configuration(self, attrs: dict[str, Any]) -> LLMProviderKey | None:
        """The provider key the evaluation will use after this write (None: none); a foreign or unknown key id is
        "not found", never told apart."""
        stored = self.instance
        sent = "model_configuration" in attrs
        evaluation_type = attrs.get("evaluation_type", getattr(stored, "evaluation_type", None))
        configured = attrs["model_configuration"] if sent else getattr(stored, "model_configuration", None)
        if configured is not None and evaluation_type != EvaluationType.LLM_JUDGE:
            raise serializers.ValidationError({"model_configuration": NO_MODEL_CONFIGURATION})
        if not sent:
            return stored.provider_key if stored is not None else None
        if configured is None or configured.get("provider_key_id") is None:
            return None
        key = selectors.provider_key_for_team(team_id=self.context["team"].id, key_id=configured["provider_key_id"])
        if key is None:
            raise serializers.ValidationError({"model_configuration": {"provider_key_id": [PROVIDER_KEY_NOT_FOUND]}})
        if key.provider != configured["provider"]:
            raise serializers.ValidationError({"model_configuration": {"provider": [
                f"Provider '{configured['provider']}' does not match key provider '{key.provider}'"]}})  # fmt: skip
        return key

    def _sync_status(self, attrs: dict[str, Any], key: LLMProviderKey | None) -> None:
        """Whichever of `status` / `enabled` was sent drives the other (an `enabled` that does not change leaves
        the status, even `error`); enabling a disabled evaluation passes the re-enable guard first."""
        stored = self.instance
        if "status" in attrs:
            attrs["enabled"] = attrs["status"] == EvaluationStatus.ACTIVE
        elif "enabled" in attrs and (stored is None or attrs["enabled"] != stored.enabled):
            attrs["status"] = EvaluationStatus.ACTIVE if attrs["enabled"] else EvaluationStatus.PAUSED
        if "status" not in attrs or (stored is not None and attrs["status"] == stored.status):
            return
        if stored is not None and attrs["enabled"] and not stored.enabled:
            self._guard_reenable(stored, attrs, key)
        attrs["status_reason"] = attrs["status_reason_detail"] = None

    def _guard_reenable(self, stored: Evaluation, attrs: dict[str, Any], key: LLMProviderKey | None) -> None:
        if attrs.get("evaluation_type", stored.evaluation_type) != EvaluationType.LLM_JUDGE:
            return
        configured = attrs.get("model_configuration")
        model_changed = configured is not None and (
            configured["model"] != stored.judge_model or configured["provider"] != stored.judge_provider
        )
        refusal = status.reenable_refusal(evaluation=stored, provider_key=key, model_changed=model_changed)
        if refusal is not None:
            raise serializers.ValidationError({"enabled": refusal})

    def create(self, validated_data: dict[str, Any]) -> Evaluation:
        configured = validated_data.pop("model_configuration", None)
        evaluation = Evaluation(**validated_data)
        _apply_model_configuration(evaluation, configured)
        evaluation.save()
        return evaluation

    def update(self, instance: Evaluation, validated_data: dict[str, Any]) -> Evaluation:
        if "model_configuration" in validated_data:
            _apply_model_configuration(instance, validated_data.pop("model_configuration"))
        return super().update(instance, validated_data)

    def _validate_configs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Configs are checked against the effective types on every write that touches either side,
        including a PATCH that sends one config alone (then the stored types apply)."""
        stored = self.instance
        if stored is not None and not any(name in attrs for name in self.CONFIG_INPUTS):
            return attrs

        def effective(name: str, default: Any) -> Any:
            return attrs[name] if name in attrs else getattr(stored, name, default)

        try:
            attrs["evaluation_config"], attrs["output_config"] = validate_configs(
                evaluation_type=effective("evaluation_type", None),
                output_type=effective("output_type", None),
                evaluation_config=effective("evaluation_config", {}),
                output_config=effective("output_config", {}),
            )
        except ConfigError as error:
            raise serializers.ValidationError({error.attr: str(error)}) from None
        return attrs


def _apply_model_configuration(evaluation: Evaluation, configured: dict[str, Any] | None) -> None:
    evaluation.judge_provider = configured["provider"] if configured else ""
    evaluation.judge_model = configured["model"] if configured else ""
    evaluation.provider_key_id = configured.get("provider_key_id") if configured else None


def _condition_to_dict(condition: dict[str, Any]) -> dict[str, Any]:
    """What ConditionSerializer renders from a stored condition: its three keys, in its order."""
    shown = {"id": condition["id"]} if "id" in condition else {}
    shown["rollout_percentage"] = _whole_if_integral(condition.get("rollout_percentage", 100))
    shown["properties"] = condition.get("properties", [])
    return shown


# The row `evaluation_to_dict` renders (`selectors.evaluation_rows`): what the serializer shows, with the creator's
# fields read through the join.
EVALUATION_ROW_COLUMNS = (
    *(name for name in EvaluationSerializer.Meta.fields if name not in ("created_by", "model_configuration")),
    "judge_provider",
    "judge_model",
    "provider_key_id",
    "provider_key__name",
    *(f"created_by__{field}" for field in UserBasicSerializer.Meta.fields),
)
EVALUATION_ROW_JSON_COLUMNS = frozenset(
    {"evaluation_config", "output_config", "conditions", "created_by__hedgehog_config"}
)


def evaluation_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    """EvaluationSerializer's output, byte for byte, from a row of `selectors.evaluation_rows` — without a model
    instance or a serializer per row, which were most of a list's cost."""
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "description": row["description"],
        "enabled": row["enabled"],
        "status": row["status"],
        "status_reason": row["status_reason"],
        "status_reason_detail": row["status_reason_detail"],
        "evaluation_type": row["evaluation_type"],
        "evaluation_config": row["evaluation_config"],
        "output_type": row["output_type"],
        "output_config": row["output_config"],
        "conditions": [_condition_to_dict(condition) for condition in row["conditions"]],
        "model_configuration": _model_configuration_from_row(row),
        "created_at": drf_datetime(row["created_at"]),
        "updated_at": drf_datetime(row["updated_at"]),
        "created_by": user_basic_from_row(row, "created_by__"),
        "deleted": row["deleted"],
    }


def _model_configuration_from_row(row: dict[str, Any]) -> dict[str, Any] | None:
    if not row["judge_provider"]:
        return None
    key_id = row["provider_key_id"]
    return {
        "provider": row["judge_provider"],
        "model": row["judge_model"],
        "provider_key_id": str(key_id) if key_id else None,
        "provider_key_name": row["provider_key__name"] if key_id else None,
    }


class EvaluationRunCreateSerializer(serializers.Serializer):
    evaluation_id = StrictUUIDField(help_text="The evaluation to run.")
    target_event_id = StrictUUIDField(help_text="The uuid of the event to evaluate.")
    timestamp = serializers.DateTimeField(help_text="The target event's timestamp.")
    event = StrictCharField(
        max_length=400, default="$ai_generation", help_text="The target event's name (default `$ai_generation`)."
    )
    distinct_id = StrictCharField(
        max_length=400,
        required=False,
        allow_null=True,
        help_text="The target event's distinct_id, to narrow the match.",
    )


class EvaluationSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = StrictCharField()


class EvaluationRunStartedSerializer(serializers.Serializer):
    """The answer to starting a run (PostHog's body)."""

    workflow_id = StrictCharField(source="id")
    status = serializers.SerializerMethodField()
    evaluation = EvaluationSummarySerializer()
    target_event_id = serializers.UUIDField()

    def get_status(self, run: EvaluationRun) -> str:
        return "started"


class RunErrorSerializer(serializers.Serializer):
    code = StrictCharField()
    message = StrictCharField()


RUN_RESULT_SCHEMA = {
    "oneOf": [
        {"type": "boolean"},
        {"type": "number"},
        {"type": "array", "items": {"type": "string"}},
    ],
    "nullable": True,
    "description": "The typed result by `result_type`: a boolean, a score, or a list of category keys; null when "
    "not applicable or not (yet) completed.",
}


@extend_schema_field(RUN_RESULT_SCHEMA)
class RunResultField(serializers.JSONField):
    pass


class EvaluationRunSerializer(ModelSerializer):
    id = StrictCharField(read_only=True, help_text="The run's Temporal workflow id.")
    evaluation = EvaluationSummarySerializer(read_only=True)
    result_type = serializers.ChoiceField(
        choices=OutputType.choices,
        allow_null=True,
        read_only=True,
        help_text="The evaluation's output type when the run started (null while pending).",
    )
    result = RunResultField(read_only=True)
    passed = serializers.BooleanField(
        allow_null=True, read_only=True, help_text="Whether the result passes; null when not applicable or ungraded."
    )
    verdict = serializers.BooleanField(
        allow_null=True, read_only=True, help_text="The boolean result (boolean runs only; null for other types)."
    )
    error = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "evaluation",
            "target_event_id",
            "event",
            "timestamp",
            "distinct_id",
            "trigger",
            "status",
            "result_type",
            "result",
            "passed",
            "verdict",
            "applicable",
            "reasoning",
            "model",
            "input_tokens",
            "output_tokens",
            "error",
            "emitted_event_id",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RunErrorSerializer(allow_null=True))
    def get_error(self, run: EvaluationRun) -> dict[str, str] | None:
        return {"code": run.error_code, "message": run.error_message} if run.error_code else None


class TestHogSerializer(serializers.Serializer):
    source = StrictCharField(max_length=MAX_HOG_SOURCE_LENGTH, help_text="The Hog program to try.")
    sample_count = serializers.IntegerField(
        min_value=1, max_value=10, default=5, help_text="How many of the newest matching generations to run it on."
    )
    allows_na = StrictBooleanField(default=False, help_text="Whether `null` (not applicable) is a valid answer.")
    conditions = serializers.ListField(
        child=serializers.DictField(), default=list, max_length=100,
        help_text="`[{properties}]`: generations matching any set (all of the last 7 days when empty).",
    )  # fmt: skip


class TestHogResultSerializer(serializers.Serializer):
    event_uuid = serializers.UUIDField()
    trace_id = serializers.CharField(allow_null=True)
    input_preview = serializers.CharField()
    output_preview = serializers.CharField()
    result = serializers.BooleanField(allow_null=True)
    reasoning = serializers.CharField()
    error = serializers.CharField(allow_null=True)


class TestHogResponseSerializer(serializers.Serializer):
    results = TestHogResultSerializer(many=True)
    message = serializers.CharField(required=False, help_text="Said when no recent generation matched.")
