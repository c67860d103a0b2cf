"""`numeric`: a score, optionally bounded (`min`, `max`) and graded by a passing rule (`score >= threshold` or
`score <= threshold`); optionally "not applicable". The model answers `{reasoning, score}` (score null for N/A).
`step` is only a hint in the prompt: scores are never rounded. A score outside the bounds skips the run."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from evaluations.contracts import Skip, Verdict
from evaluations.models import OutputType as OutputTypes
from evaluations.output_types.base import (
    Answer,
    NormalisedConfig,
    OutputType,
    ResponseSchema,
    return_type_error,
    strict_schema,
    unparsable,
)

SCORE_OUT_OF_BOUNDS = "score_out_of_bounds"


def _finite_number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("Enter a finite number")
    return value


# A finite JSON number (not a boolean, not a string), kept an integer when sent as one (`{"min": 0}` is stored as
# sent).
Number = Annotated[int | float, PlainValidator(_finite_number), WithJsonSchema({"type": "number"})]


class PassingRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: Literal["gte", "lte"]
    threshold: Number


def _drop_nulls(raw: Any) -> Any:
    return {key: value for key, value in raw.items() if value is not None} if isinstance(raw, dict) else raw


class NumericOutputConfig(NormalisedConfig):
    model_config = ConfigDict(extra="forbid")

    min: Number | None = None
    max: Number | None = None
    step: Number | None = None
    allows_na: StrictBool = False
    passing_rule: PassingRule | None = None

    _nulls_dropped = model_validator(mode="before")(_drop_nulls)

    @field_validator("max")
    @classmethod
    def max_not_below_min(cls, maximum: float | None, info: ValidationInfo) -> float | None:
        minimum = info.data.get("min")
        if maximum is not None and minimum is not None and minimum > maximum:
            raise ValueError(f"Minimum must be less than or equal to maximum ({minimum} > {maximum}).")
        return maximum

    @field_validator("step")
    @classmethod
    def step_positive(cls, step: float | None) -> float | None:
        if step is not None and step <= 0:
            raise ValueError("Step must be greater than zero.")
        return step

    @field_validator("passing_rule")
    @classmethod
    def threshold_within_bounds(cls, rule: PassingRule | None, info: ValidationInfo) -> PassingRule | None:
        if rule is None:
            return rule
        minimum, maximum = info.data.get("min"), info.data.get("max")
        if (minimum is not None and rule.threshold < minimum) or (maximum is not None and rule.threshold > maximum):
            raise ValueError(f"Set the passing threshold within the score bounds ({rule.threshold} is outside "
                             f"[{_bound(minimum)}, {_bound(maximum)}]).")  # fmt: skip
        return rule


def _bound(value: float | None) -> str:
    return "unbounded" if value is None else str(value)


class Score(BaseModel):
    reasoning: StrictStr
    score: Number


class ScoreWithNA(BaseModel):
    reasoning: StrictStr
    score: Number | None


def _snapped(score: float, minimum: float | None, maximum: float | None) -> float | Skip:
    """The score within the bounds: an overshoot of one float step is the bound; further out skips the run."""
    if maximum is not None and score > maximum:
        if score <= math.nextafter(maximum, math.inf):
            return float(maximum)
        return Skip(SCORE_OUT_OF_BOUNDS, f"The score {score} is above the maximum {maximum}.")
    if minimum is not None and score < minimum:
        if score >= math.nextafter(minimum, -math.inf):
            return float(minimum)
        return Skip(SCORE_OUT_OF_BOUNDS, f"The score {score} is below the minimum {minimum}.")
    return score


class Numeric(OutputType[NumericOutputConfig]):
    key = OutputTypes.NUMERIC
    config_model = NumericOutputConfig

    def instructions(self, config: NumericOutputConfig) -> str:
        parts = ["Provide a brief reasoning (1 sentence) and a numeric score (a finite number)."]
        if config.min is not None:
            parts.append(f"The score must be at least {config.min}.")
        if config.max is not None:
            parts.append(f"The score must be at most {config.max}.")
        if config.step is not None:
            parts.append(f"Suggested score increment: {config.step}; do not round a score that falls between steps.")
        if config.allows_na:
            parts.append("Return score=null when the criteria does not apply.")
        return " ".join(parts)

    def response_schema(self, config: NumericOutputConfig) -> ResponseSchema:
        return strict_schema("numeric_eval_result", "score", {"type": "number"}, allows_na=config.allows_na)

    def read_answer(self, text: str, config: NumericOutputConfig) -> Answer:
        try:
            answer = (ScoreWithNA if config.allows_na else Score).model_validate_json(text)
        except ValidationError as error:
            return unparsable(text, error)
        if answer.score is None:
            return Answer(answer.reasoning, Verdict(None, applicable=False))
        score = _snapped(float(answer.score), config.min, config.max)
        if isinstance(score, Skip):
            return Answer(answer.reasoning, score)
        return Answer(answer.reasoning, Verdict(score, applicable=True if config.allows_na else None))

    def read_value(self, value: Any, config: NumericOutputConfig) -> Verdict | Skip:
        if value is None and config.allows_na:
            return Verdict(None, applicable=False)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise return_type_error("a number", value, allows_na=config.allows_na)
        score = _snapped(float(value), config.min, config.max)
        return score if isinstance(score, Skip) else Verdict(score, applicable=True if config.allows_na else None)

    def passed(self, verdict: Verdict, config: NumericOutputConfig) -> bool | None:
        rule, score = config.passing_rule, verdict.value
        if rule is None or not isinstance(score, float):
            return None
        return score >= rule.threshold if rule.operator == "gte" else score <= rule.threshold

    def event_properties(self, verdict: Verdict, config: NumericOutputConfig) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        if verdict.applicable is not False:
            properties["$ai_evaluation_numeric_result"] = verdict.value
        if config.min is not None:
            properties["$ai_evaluation_numeric_result_min"] = config.min
        if config.max is not None:
            properties["$ai_evaluation_numeric_result_max"] = config.max
        if verdict.allows_na:
            properties["$ai_evaluation_applicable"] = verdict.applicable
        passed = self.passed(verdict, config)
        if passed is not None:
            properties["$ai_evaluation_passed"] = passed
        return properties
