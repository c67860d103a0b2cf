"""What an output type is: everything that differs between verdict shapes (boolean, numeric, categorical), so the
config validation, the judge and the recording of a run ask their output type rather than branch on it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from evaluations.contracts import Skip, Verdict


class NormalisedConfig(BaseModel):
    """A stored config (`evaluation_config`, an output type's `output_config`): unknown keys are dropped and
    defaults filled, so what is stored is always the normalised form."""

    model_config = ConfigDict(extra="ignore")


@dataclass(frozen=True)
class ResponseSchema:
    """The structured output the judge is asked for (the name goes with it in OpenAI's `json_schema`)."""

    name: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """The judge's answer as an output type read it: the reasoning, and a verdict or why the run is skipped."""

    reasoning: str
    outcome: Verdict | Skip


ConfigT = TypeVar("ConfigT", bound=NormalisedConfig)


class OutputType(ABC, Generic[ConfigT]):
    """One verdict shape. Every method but `validate_config` takes the evaluation's stored (already normalised)
    `output_config` parsed by `config`."""

    key: ClassVar[str]
    config_model: type[ConfigT]

    def validate_config(self, raw: Any) -> dict[str, Any]:
        """The normalised `output_config`; raises pydantic's ValidationError (the caller words it)."""
        return self.config_model.model_validate(raw).model_dump(exclude_none=True)

    def config(self, output_config: dict[str, Any] | None) -> ConfigT:
        """A stored `output_config`, typed (a row written around the API may fail pydantic's validation)."""
        return self.config_model.model_validate(output_config or {})

    @abstractmethod
    def instructions(self, config: ConfigT) -> str:
        """What the judge's system prompt asks for, after the evaluation's own prompt."""

    @abstractmethod
    def response_schema(self, config: ConfigT) -> ResponseSchema: ...

    @abstractmethod
    def read_answer(self, text: str, config: ConfigT) -> Answer:
        """The judge's JSON answer (code fences already stripped); raises pydantic's ValidationError when it is
        not an answer of this shape at all (the judge is asked again)."""

    @abstractmethod
    def read_value(self, value: Any, config: ConfigT) -> Verdict | Skip:
        """A code evaluator's return value as this type's verdict (null: not applicable, when allowed), or why the
        run is skipped; raises ReturnTypeError, naming what it got, when the value is not of this type at all."""

    @abstractmethod
    def passed(self, verdict: Verdict, config: ConfigT) -> bool | None:
        """Whether the verdict passes; None when it cannot (not applicable, or no passing rule)."""

    @abstractmethod
    def event_properties(self, verdict: Verdict, config: ConfigT) -> dict[str, Any]:
        """The verdict's properties on the emitted `$ai_evaluation` event, in their order."""

    def skipped_properties(self, config: ConfigT) -> dict[str, Any]:
        """What a skipped run's event says in place of a verdict: not applicable, when the evaluation allows that."""
        return {"$ai_evaluation_applicable": False} if getattr(config, "allows_na", False) else {}


MAX_ANSWER_IN_MESSAGE = 200


class ReturnTypeError(ValueError):
    """A code evaluator returned a value its output type cannot take (PostHog's message)."""


def return_type_error(expected: str, value: Any, *, allows_na: bool) -> ReturnTypeError:
    """`Must return <expected> (or null if N/A is enabled), got <type>: <value>`, as PostHog words it."""
    shown = "null" if value is None else repr(value)[:MAX_ANSWER_IN_MESSAGE]
    na = " (or null if N/A is enabled)" if allows_na else ""
    return ReturnTypeError(f"Must return {expected}{na}, got {_type_name(value)}: {shown}")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "float", str: "string", list: "array", tuple: "tuple", dict: "dict"}.get(
        type(value), type(value).__name__
    )


UNPARSABLE_RESPONSE = "unparsable_response"


def unparsable(text: str, error: ValidationError) -> Answer:
    """An answer that does not fit its output type's schema: the run is skipped (billed, not retried)."""
    problem = error.errors()[0]["msg"].removeprefix("Value error, ")
    return Answer("", Skip(UNPARSABLE_RESPONSE, f"The judge's answer does not fit the schema ({problem}): "
                                                f"{text[:MAX_ANSWER_IN_MESSAGE]}"))  # fmt: skip


def strict_schema(name: str, value_name: str, value_schema: dict[str, Any], *, allows_na: bool) -> ResponseSchema:
    """`{reasoning, <value_name>}` as a strict JSON schema; the value may be null when N/A is allowed."""
    if allows_na:
        value_schema = {**value_schema, "type": [value_schema["type"], "null"]}
    return ResponseSchema(
        f"{name}_with_na" if allows_na else name,
        {
            "type": "object",
            "properties": {"reasoning": {"type": "string"}, value_name: value_schema},
            "required": ["reasoning", value_name],
            "additionalProperties": False,
        },
    )
