"""The LLM judge: what it reads of an event, the prompts it sends, and the verdict it accepts back.

PostHog's semantics: the input and output come from `$ai_input` / `$ai_output_choices` (with fallbacks) and are
flattened to text; the model answers `{reasoning, verdict}`, or `{reasoning, applicable, verdict}` when the
evaluation allows "not applicable".
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Self

from pydantic import BaseModel, StrictBool, StrictStr, ValidationError, model_validator

from evaluations.contracts import EvaluationSnapshot, event_properties
from evaluations.models import EvaluationType, OutputType
from posthog_clone.llm import LLMConfig, LLMError, complete_json

SYSTEM_PROMPT = (
    "You are an evaluator. Evaluate the following generation according to this criteria:\n\n{prompt}\n\n{instructions}"
)
BOOLEAN_INSTRUCTIONS = "Provide a brief reasoning (1 sentence) and a boolean verdict (true/false)."
NOT_APPLICABLE_INSTRUCTIONS = (
    "First decide whether the criteria apply to this generation at all. If they do not (including when the "
    "criteria themselves say the case is N/A), answer applicable=false with verdict=null. Otherwise answer "
    "applicable=true with a boolean verdict (true/false). Provide a brief reasoning (1 sentence)."
)
USER_PROMPT = "Input: {input}\n\nOutput: {output}"
CODE_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)

BOOLEAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "verdict": {"type": "boolean"}},
    "required": ["reasoning", "verdict"],
    "additionalProperties": False,
}
BOOLEAN_WITH_NA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "applicable": {"type": "boolean"},
        "verdict": {"type": ["boolean", "null"]},
    },
    "required": ["reasoning", "applicable", "verdict"],
    "additionalProperties": False,
}


class JudgeConfigurationError(Exception):
    """The evaluation cannot be judged as configured; retrying will not help."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


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


@dataclass(frozen=True)
class JudgeResult:
    verdict: bool | None
    applicable: bool | None  # None when the evaluation does not allow "not applicable"
    reasoning: str
    model: str
    provider: str
    input_tokens: int | None
    output_tokens: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- what the judge reads -----------------------------------------------------------------------------------


def _block_text(block: Any) -> str:
    if isinstance(block, dict):
        value = block.get("text", block.get("content", ""))
        return value if isinstance(value, str) else _flatten(value)
    return block if isinstance(block, str) else ""


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(text for text in (_block_text(block) for block in content) if text)
    if isinstance(content, str):
        return content
    return "" if content is None else json.dumps(content, default=str)


def _tool_calls_text(tool_calls: Any) -> str:
    rendered = []
    for call in tool_calls if isinstance(tool_calls, list) else []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        name = function.get("name", call.get("name", ""))
        arguments = function.get("arguments", call.get("arguments", ""))
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, default=str)
        rendered.append(f"[tool_call {call.get('id', '')}: {name}({arguments})]")
    return " ".join(rendered)


def _message_line(message: Any) -> str:
    if not isinstance(message, dict):
        return _content_text(message)
    role = str(message.get("role", ""))
    if role == "tool" and message.get("tool_call_id"):
        role = f"tool[{message['tool_call_id']}]"
    text = " ".join(
        part for part in (_content_text(message.get("content")), _tool_calls_text(message.get("tool_calls"))) if part
    )
    return f"{role}: {text}" if role else text


def _flatten(value: Any) -> str:
    """Messages as text, one `role: text` line each; a plain string is kept as it is."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        return "\n".join(_message_line(message) for message in value)
    return str(value)


def _first_present(properties: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if properties.get(key):
            return properties[key]
    return ""


def judged_texts(event: str, properties: dict[str, Any]) -> tuple[str, str]:
    """The (input, output) a judge sees of an event."""
    if event == "$ai_generation":
        raw_input = _first_present(properties, "$ai_input", "$ai_input_state")
        raw_output = _first_present(properties, "$ai_output_choices", "$ai_output", "$ai_output_state")
    else:
        raw_input, raw_output = properties.get("$ai_input_state"), properties.get("$ai_output_state")
    return _flatten(raw_input), _flatten(raw_output)


# --- judging ------------------------------------------------------------------------------------------------


def judge_prompts(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> tuple[str, str, bool]:
    """(system prompt, user prompt, allows_na) for an evaluation and its target event."""
    if evaluation.evaluation_type != EvaluationType.LLM_JUDGE:
        raise JudgeConfigurationError(
            f"Unsupported evaluation type: {evaluation.evaluation_type}", code="unsupported_evaluation_type"
        )
    if evaluation.output_type != OutputType.BOOLEAN:
        raise JudgeConfigurationError(
            f"Unsupported output type: {evaluation.output_type}", code="unsupported_output_type"
        )
    prompt = (evaluation.evaluation_config or {}).get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise JudgeConfigurationError("Missing prompt in evaluation_config", code="missing_prompt")
    allows_na = (evaluation.output_config or {}).get("allows_na") is True
    instructions = NOT_APPLICABLE_INSTRUCTIONS if allows_na else BOOLEAN_INSTRUCTIONS
    judged_input, judged_output = judged_texts(str(event_data.get("event", "")), event_properties(event_data))
    system = SYSTEM_PROMPT.format(prompt=prompt.strip(), instructions=instructions)
    return system, USER_PROMPT.format(input=judged_input, output=judged_output), allows_na


def parse_verdict(content: str, *, allows_na: bool) -> BooleanVerdict | BooleanVerdictWithNA:
    """The model's answer, with Markdown code fences stripped; anything else is a (retryable) parse error."""
    fenced = CODE_FENCE.match(content)
    text = fenced.group(1) if fenced else content
    model = BooleanVerdictWithNA if allows_na else BooleanVerdict
    try:
        return model.model_validate_json(text.strip())
    except ValidationError as error:
        problem = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise LLMError(
            f"The judge's answer is not a valid verdict ({problem}): {content[:200]}",
            kind="parse_error",
            retryable=True,
        ) from None


async def judge(evaluation: EvaluationSnapshot, event_data: dict[str, Any], config: LLMConfig) -> JudgeResult:
    system, user, allows_na = judge_prompts(evaluation, event_data)
    completion = await complete_json(
        config,
        system=system,
        user=user,
        schema_name="boolean_eval_result_with_na" if allows_na else "boolean_eval_result",
        schema=BOOLEAN_WITH_NA_SCHEMA if allows_na else BOOLEAN_SCHEMA,
    )
    answer = parse_verdict(completion.content, allows_na=allows_na)
    return JudgeResult(
        verdict=answer.verdict,
        applicable=answer.applicable if isinstance(answer, BooleanVerdictWithNA) else None,
        reasoning=answer.reasoning,
        model=config.model,
        provider=config.provider,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
    )
