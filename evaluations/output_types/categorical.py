"""`categorical`: one (`single`) or several (`multiple`) of the evaluation's category keys, optionally "not
applicable", graded by a passing rule (the passing categories). The model answers `{reasoning, categories}` (a list
of keys also for single selection; null for N/A). Unknown or repeated keys, or a count the selection mode does not
allow, skip the run."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
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

# An answer whose categories are not what the evaluation allows (PostHog's reason for invalid categories).
INVALID_CATEGORIES = "parse_error"
MAX_OPTIONS = 100
KEY_PATTERN = r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"
MAX_KEY_LENGTH = 128
MAX_LABEL_LENGTH = 256
KEY_RULE = "Give each category a key using lowercase letters, numbers, underscores, or hyphens"


class CategoryOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The schema states the rules; the validators word them.
    key: Annotated[StrictStr, Field(json_schema_extra={"minLength": 1, "maxLength": 128, "pattern": KEY_PATTERN})]
    label: Annotated[StrictStr, Field(json_schema_extra={"minLength": 1, "maxLength": 256, "pattern": r"\S"})]

    @field_validator("key")
    @classmethod
    def key_is_a_key(cls, key: str) -> str:
        if len(key) > MAX_KEY_LENGTH or not re.fullmatch(KEY_PATTERN, key):
            raise ValueError(f"{KEY_RULE} (at most {MAX_KEY_LENGTH} characters; got {key[:MAX_KEY_LENGTH]!r})")
        return key

    @field_validator("label")
    @classmethod
    def label_not_blank(cls, label: str) -> str:
        if not label.strip() or len(label) > MAX_LABEL_LENGTH:
            raise ValueError(f"Give each category a label (at most {MAX_LABEL_LENGTH} characters).")
        return label


class CategoricalPassingRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[StrictStr]


class CategoricalOutputConfig(NormalisedConfig):
    model_config = ConfigDict(extra="forbid")

    options: Annotated[list[CategoryOption], Field(json_schema_extra={"minItems": 1, "maxItems": MAX_OPTIONS})]
    selection_mode: Literal["single", "multiple"]
    allows_na: StrictBool = False
    passing_rule: CategoricalPassingRule | None = None

    @model_validator(mode="before")
    @classmethod
    def nulls_dropped(cls, raw: Any) -> Any:
        return {key: value for key, value in raw.items() if value is not None} if isinstance(raw, dict) else raw

    @field_validator("options")
    @classmethod
    def one_to_a_hundred_distinct_keys(cls, options: list[CategoryOption]) -> list[CategoryOption]:
        if not options:
            raise ValueError("Add at least one category.")
        if len(options) > MAX_OPTIONS:
            raise ValueError(f"At most {MAX_OPTIONS} categories are allowed; got {len(options)}.")
        keys = [option.key for option in options]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"Use a different key for each category (repeated: {', '.join(repeated)}).")
        return options

    @field_validator("passing_rule")
    @classmethod
    def passing_categories_are_options(
        cls, rule: CategoricalPassingRule | None, info: ValidationInfo
    ) -> CategoricalPassingRule | None:
        options, mode = info.data.get("options"), info.data.get("selection_mode")
        if rule is None or options is None:
            return rule
        keys = [option.key for option in options]
        unknown = [key for key in rule.categories if key not in keys]
        if unknown:
            raise ValueError(f"Choose passing categories from the configured categories (not among them: "
                             f"{', '.join(unknown)}).")  # fmt: skip
        if len(set(rule.categories)) != len(rule.categories):
            raise ValueError("Name each passing category once.")
        if mode == "single" and not rule.categories:
            raise ValueError("Choose at least one passing category for single selection.")
        return rule

    @property
    def keys(self) -> list[str]:
        return [option.key for option in self.options]


class Categories(BaseModel):
    reasoning: StrictStr
    categories: list[StrictStr]


class CategoriesWithNA(BaseModel):
    reasoning: StrictStr
    categories: list[StrictStr] | None


def _invalid(categories: list[str], config: CategoricalOutputConfig) -> str | None:
    """Why the answered categories are not a result of this evaluation, if they are not."""
    unknown = [key for key in categories if key not in config.keys]
    if unknown:
        return f"Unknown categories: {', '.join(unknown)} (the categories are {', '.join(config.keys)})."
    if len(set(categories)) != len(categories):
        return f"Categories repeated in the answer: {', '.join(categories)}."
    if config.selection_mode == "single" and len(categories) != 1:
        return f"Single selection needs exactly one category; the answer has {len(categories)}."
    return None


class Categorical(OutputType[CategoricalOutputConfig]):
    key = OutputTypes.CATEGORICAL
    config_model = CategoricalOutputConfig

    def instructions(self, config: CategoricalOutputConfig) -> str:
        options = json.dumps([option.model_dump() for option in config.options])
        if config.selection_mode == "single":
            parts = [f"Choose exactly one category key from these options: {options}."]
        else:
            parts = [f"Choose zero or more distinct category keys from these options: {options}.",
                     "An empty list means no categories apply."]  # fmt: skip
        parts.append("Return keys, not display labels. Provide a brief reasoning (1 sentence).")
        if config.allows_na:
            parts.append("Return categories=null when the criteria does not apply.")
        return " ".join(parts)

    def response_schema(self, config: CategoricalOutputConfig) -> ResponseSchema:
        keys = {"type": "array", "items": {"type": "string", "enum": config.keys}}
        return strict_schema("categorical_eval_result", "categories", keys, allows_na=config.allows_na)

    def read_answer(self, text: str, config: CategoricalOutputConfig) -> Answer:
        try:
            answer = (CategoriesWithNA if config.allows_na else Categories).model_validate_json(text)
        except ValidationError as error:
            return unparsable(text, error)
        if answer.categories is None:
            return Answer(answer.reasoning, Verdict(None, applicable=False))
        problem = _invalid(answer.categories, config)
        if problem is not None:
            return Answer(answer.reasoning, Skip(INVALID_CATEGORIES, problem))
        return Answer(answer.reasoning, Verdict(answer.categories, applicable=True if config.allows_na else None))

    def read_value(self, value: Any, config: CategoricalOutputConfig) -> Verdict | Skip:
        if value is None and config.allows_na:
            return Verdict(None, applicable=False)
        # A single selection may return its key alone; either selection mode may return a list of keys.
        keys = [value] if isinstance(value, str) and config.selection_mode == "single" else value
        if not isinstance(keys, list | tuple) or not all(isinstance(key, str) for key in keys):
            expected = "a category key or a list of category keys" if config.selection_mode == "single" else (
                "a list of category keys")  # fmt: skip
            raise return_type_error(expected, value, allows_na=config.allows_na)
        problem = _invalid(list(keys), config)
        if problem is not None:
            return Skip(INVALID_CATEGORIES, problem)
        return Verdict(list(keys), applicable=True if config.allows_na else None)

    def passed(self, verdict: Verdict, config: CategoricalOutputConfig) -> bool | None:
        rule, categories = config.passing_rule, verdict.value
        if rule is None or not isinstance(categories, list):
            return None
        if not rule.categories:
            return categories == []
        return bool(categories) and all(key in rule.categories for key in categories)

    def skipped_properties(self, config: CategoricalOutputConfig) -> dict[str, Any]:
        return {"$ai_evaluation_applicable": False}  # categorical events always say whether the run applied

    def event_properties(self, verdict: Verdict, config: CategoricalOutputConfig) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        if verdict.applicable is not False:
            properties["$ai_evaluation_categorical_result"] = verdict.value
        # Categorical events always say whether the run applied.
        properties["$ai_evaluation_applicable"] = verdict.applicable is not False
        passed = self.passed(verdict, config)
        if passed is not None:
            properties["$ai_evaluation_passed"] = passed
        return properties
