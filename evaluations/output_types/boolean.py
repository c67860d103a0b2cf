"""`boolean`: a true/false verdict, optionally "not applicable". The model answers `{reasoning, verdict}`, or
`{reasoning, applicable, verdict}` when the evaluation allows N/A; `true` passes."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, StrictBool, StrictStr, model_validator

from evaluations.contracts import Verdict
from evaluations.models import OutputType as OutputTypes
from evaluations.output_types.base import Answer, NormalisedConfig, OutputType, ResponseSchema, return_type_error

INSTRUCTIONS = "Provide a brief reasoning (1 sentence) and a boolean verdict (true/false)."
NOT_APPLICABLE_INSTRUCTIONS = (
    "First decide whether the criteria apply to this generation at all. If they do not (including when the "
    "criteria themselves say the case is N/A), answer applicable=false with verdict=null. Otherwise answer "
    "applicable=true with a boolean verdict (true/false). Provide a brief reasoning (1 sentence)."
)
SCHEMA = ResponseSchema(
    "boolean_eval_result",
    {
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, "verdict": {"type": "boolean"}},
        "required": ["reasoning", "verdict"],
        "additionalProperties": False,
    },
)
NOT_APPLICABLE_SCHEMA = ResponseSchema(
    "boolean_eval_result_with_na",
    {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "applicable": {"type": "boolean"},
            "verdict": {"type": ["boolean", "null"]},
        },
        "required": ["reasoning", "applicable", "verdict"],
        "additionalProperties": False,
    },
)


class BooleanOutputConfig(NormalisedConfig):
    allows_na: StrictBool = False


class BooleanVerdict(BaseModel):
    reasoning: StrictStr
    verdict: StrictBool


class BooleanVerdictWithNA(BaseModel):
    reasoning: StrictStr
    applicable: StrictBool
    verdict: StrictBool | None = None

    @model_validator(mode="after")
    def verdict_matches_applicability(self) -> Self:
        if self.applicable and self.verdict is None:
            raise ValueError("verdict is required when applicable is true")
        if not self.applicable and self.verdict is not None:
            raise ValueError("verdict must be null when applicable is false")
        return self


class Boolean(OutputType[BooleanOutputConfig]):
    key = OutputTypes.BOOLEAN
    config_model = BooleanOutputConfig

    def instructions(self, config: BooleanOutputConfig) -> str:
        return NOT_APPLICABLE_INSTRUCTIONS if config.allows_na else INSTRUCTIONS

    def response_schema(self, config: BooleanOutputConfig) -> ResponseSchema:
        return NOT_APPLICABLE_SCHEMA if config.allows_na else SCHEMA

    def read_answer(self, text: str, config: BooleanOutputConfig) -> Answer:
        if config.allows_na:
            with_na = BooleanVerdictWithNA.model_validate_json(text)
            return Answer(with_na.reasoning, Verdict(with_na.verdict, applicable=with_na.applicable))
        answer = BooleanVerdict.model_validate_json(text)
        return Answer(answer.reasoning, Verdict(answer.verdict))

    def read_value(self, value: Any, config: BooleanOutputConfig) -> Verdict:
        if isinstance(value, bool):
            return Verdict(value, applicable=True if config.allows_na else None)
        if value is None and config.allows_na:
            return Verdict(None, applicable=False)
        raise return_type_error("boolean", value, allows_na=config.allows_na)

    def passed(self, verdict: Verdict, config: BooleanOutputConfig) -> bool | None:
        return None if verdict.value is None else verdict.value is True

    def event_properties(self, verdict: Verdict, config: BooleanOutputConfig) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        if verdict.applicable is not False:
            properties["$ai_evaluation_result"] = verdict.value
        if verdict.allows_na:
            properties["$ai_evaluation_applicable"] = verdict.applicable
        return properties

    def skipped_properties(self, config: BooleanOutputConfig) -> dict[str, Any]:
        # PostHog's: a boolean run without N/A still says false, so readers exclude skipped runs by their flag.
        return super().skipped_properties(config) if config.allows_na else {"$ai_evaluation_result": False}
