"""Evaluation configs, validated per (evaluation_type, output_type) pair.

`evaluation_config` has one model per evaluation type (here); `output_config` is its output type's
(`evaluations.output_types`). Validation drops unknown keys and fills defaults, so what is stored is always the
normalised form.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictStr, ValidationError, field_validator

from evaluations.models import EvaluationType
from evaluations.output_types import OUTPUT_TYPES, NormalisedConfig, OutputType
from query_languages import HOG_MAX_SOURCE_LENGTH, HogCompileError, compile_hog

# A judge's prompt is sent with every run: far past any model's context, it is a mistake (or an attack on the
# judge's bill), refused when saved rather than failing each run.
MAX_PROMPT_LENGTH = 100_000
# The Hog package's own bound on a program's text.
MAX_HOG_SOURCE_LENGTH = HOG_MAX_SOURCE_LENGTH


class LLMJudgeConfig(NormalisedConfig):
    # The pattern only documents "not blank" in the OpenAPI schema; the validator below says so in PostHog's words.
    prompt: StrictStr = Field(max_length=MAX_PROMPT_LENGTH, json_schema_extra={"pattern": r"\S"})

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("Prompt cannot be empty")
        return prompt.strip()


class HogConfig(NormalisedConfig):
    source: StrictStr = Field(max_length=MAX_HOG_SOURCE_LENGTH, json_schema_extra={"pattern": r"\S"})
    # The compiled program, written by the server from `source` (runs load it without parsing); what a client sends
    # in its place is replaced.
    bytecode: dict[str, Any] | None = None

    @field_validator("source")
    @classmethod
    def source_not_blank(cls, source: str) -> str:
        if not source.strip():
            raise ValueError("Source code cannot be empty")
        return source


EVALUATION_CONFIG_MODELS: dict[str, type[NormalisedConfig]] = {
    EvaluationType.LLM_JUDGE: LLMJudgeConfig,
    EvaluationType.HOG: HogConfig,
}
# The supported pairs: every evaluation type with every output type, until one is not.
SUPPORTED: dict[tuple[str, str], tuple[type[NormalisedConfig], OutputType[Any]]] = {
    (evaluation_type, output_type): (model, output)
    for evaluation_type, model in EVALUATION_CONFIG_MODELS.items()
    for output_type, output in OUTPUT_TYPES.items()
}


class ConfigError(ValueError):
    """A config the pair refuses; `attr` is the field the answer names."""

    def __init__(self, message: str, *, attr: str = "config") -> None:
        super().__init__(message)
        self.attr = attr


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
    supported = SUPPORTED.get((evaluation_type, output_type))
    if supported is None:
        raise ConfigError(f"Unsupported combination: {evaluation_type} + {output_type}")
    evaluation_model, output = supported
    prefix = f"Invalid config for {evaluation_type}/{output_type}"
    try:
        evaluation = evaluation_model.model_validate(evaluation_config)
    except ValidationError as error:
        raise ConfigError(f"{prefix}: {_first_error(error, 'evaluation_config')}") from None
    try:
        output_dump = output.validate_config(output_config)
    except ValidationError as error:
        raise ConfigError(f"{prefix}: {_first_error(error, 'output_config')}") from None
    if isinstance(evaluation, HogConfig):
        try:
            evaluation.bytecode = compile_hog(evaluation.source).to_json()
        except HogCompileError as error:
            raise ConfigError(f"Failed to compile Hog code: {error}", attr="evaluation_config") from None
    return evaluation.model_dump(exclude_none=True), output_dump


def _openapi(schema: Any, definitions: dict[str, Any]) -> Any:
    """Pydantic's JSON schema as OpenAPI 3.0 states it: references inlined, `X | None` as a nullable X."""
    if isinstance(schema, list):
        return [_openapi(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _openapi(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    converted = {key: _openapi(value, definitions) for key, value in schema.items() if key != "$defs"}
    options = converted.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del converted["anyOf"]
        converted.pop("default", None)
        converted.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        converted["nullable"] = True
    return converted


def _any_of(models: list[type[BaseModel]]) -> dict[str, Any]:
    """The OpenAPI schema of any of `models`; unknown keys allowed (and dropped) unless the model forbids them."""
    schemas = []
    for model in models:
        schema = model.model_json_schema()
        schemas.append({"additionalProperties": True, **_openapi(schema, schema.get("$defs", {}))})
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def evaluation_config_schema() -> dict[str, Any]:
    return _any_of(list(EVALUATION_CONFIG_MODELS.values()))


def output_config_schema() -> dict[str, Any]:
    return _any_of([output.config_model for output in OUTPUT_TYPES.values()])
