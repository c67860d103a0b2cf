"""Evaluation configs, validated per (evaluation_type, output_type) pair.

Each supported pair names one model for `evaluation_config` and one for `output_config`. Validation drops
unknown keys and fills defaults, so what is stored is always the normalised form.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator

from evaluations.models import EvaluationType, OutputType


class _Config(BaseModel):
    model_config = ConfigDict(extra="ignore")


# A judge's prompt is sent with every run: far past any model's context, it is a mistake (or an attack on the
# judge's bill), refused when saved rather than failing each run.
MAX_PROMPT_LENGTH = 100_000


class LLMJudgeConfig(_Config):
    # The pattern only documents "not blank" in the OpenAPI schema; the validator below says so in PostHog's words.
    prompt: StrictStr = Field(max_length=MAX_PROMPT_LENGTH, json_schema_extra={"pattern": r"\S"})

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("Prompt cannot be empty")
        return prompt.strip()


class BooleanOutputConfig(_Config):
    allows_na: StrictBool = False


CONFIG_MODELS: dict[tuple[str, str], tuple[type[_Config], type[_Config]]] = {
    (EvaluationType.LLM_JUDGE, OutputType.BOOLEAN): (LLMJudgeConfig, BooleanOutputConfig),
}


class ConfigError(ValueError):
    pass


def _first_error(error: ValidationError, label: str) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{label}.{location} is required"
    return f"{label}.{location}: {message}" if location else f"{label}: {message}"


def validate_configs(
    *, evaluation_type: str, output_type: str, evaluation_config: Any, output_config: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the normalised (evaluation_config, output_config) or raise ConfigError with a readable message."""
    models = CONFIG_MODELS.get((evaluation_type, output_type))
    if models is None:
        raise ConfigError(f"Unsupported combination: {evaluation_type} + {output_type}")
    evaluation_model, output_model = models
    prefix = f"Invalid config for {evaluation_type}/{output_type}"
    try:
        evaluation = evaluation_model.model_validate(evaluation_config)
    except ValidationError as error:
        raise ConfigError(f"{prefix}: {_first_error(error, 'evaluation_config')}") from None
    try:
        output = output_model.model_validate(output_config)
    except ValidationError as error:
        raise ConfigError(f"{prefix}: {_first_error(error, 'output_config')}") from None
    return evaluation.model_dump(exclude_none=True), output.model_dump(exclude_none=True)


def config_schema(side: int) -> dict[str, Any]:
    """The OpenAPI schema of `evaluation_config` (side 0) or `output_config` (side 1): one of the supported
    pairs' models, unknown keys allowed (they are dropped)."""
    schemas = [{**models[side].model_json_schema(), "additionalProperties": True} for models in CONFIG_MODELS.values()]
    return schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
