"""The LLM judge: what it reads of an event, the prompts it sends, and the verdict it accepts back.

PostHog's semantics: the input and output come from `$ai_input` / `$ai_output_choices` (with fallbacks) and are
flattened to text; what the model is asked to answer, and how its answer is read, is the evaluation's output type's
(`evaluations.output_types`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from evaluations.contracts import EvaluationSnapshot, JudgeResult, event_properties
from evaluations.models import EvaluationType
from evaluations.output_types import OUTPUT_TYPES, Answer, NormalisedConfig, OutputType
from posthog_clone.llm import LLMConfig, LLMError, complete_json

SYSTEM_PROMPT = (
    "You are an evaluator. Evaluate the following generation according to this criteria:\n\n{prompt}\n\n{instructions}"
)
USER_PROMPT = "Input: {input}\n\nOutput: {output}"
CODE_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class JudgeConfigurationError(Exception):
    """The evaluation cannot be judged as configured; retrying will not help."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


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


def raw_texts(event: str, properties: dict[str, Any]) -> tuple[Any, Any]:
    """The (input, output) of an event as its properties hold them: what a judge reads, and a code evaluator."""
    if event == "$ai_generation":
        raw_input = _first_present(properties, "$ai_input", "$ai_input_state")
        raw_output = _first_present(properties, "$ai_output_choices", "$ai_output", "$ai_output_state")
    else:
        raw_input, raw_output = properties.get("$ai_input_state"), properties.get("$ai_output_state")
    return raw_input, raw_output


def judged_texts(event: str, properties: dict[str, Any]) -> tuple[str, str]:
    """The (input, output) a judge sees of an event."""
    raw_input, raw_output = raw_texts(event, properties)
    return _flatten(raw_input), _flatten(raw_output)


# --- judging ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeRequest:
    """What the judge is asked for one evaluation and target event."""

    system: str
    user: str
    output: OutputType[Any]
    config: NormalisedConfig


def judge_request(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> JudgeRequest:
    if evaluation.evaluation_type != EvaluationType.LLM_JUDGE:
        raise JudgeConfigurationError(
            f"Unsupported evaluation type: {evaluation.evaluation_type}", code="unsupported_evaluation_type"
        )
    output = OUTPUT_TYPES.get(evaluation.output_type)
    if output is None:
        raise JudgeConfigurationError(
            f"Unsupported output type: {evaluation.output_type}", code="unsupported_output_type"
        )
    prompt = (evaluation.evaluation_config or {}).get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise JudgeConfigurationError("Missing prompt in evaluation_config", code="missing_prompt")
    try:
        config = output.config(evaluation.output_config)
    except ValidationError as error:
        raise JudgeConfigurationError(
            f"Invalid output_config: {error.errors()[0]['msg']}", code="invalid_output_config"
        ) from None
    judged_input, judged_output = judged_texts(str(event_data.get("event", "")), event_properties(event_data))
    return JudgeRequest(
        system=SYSTEM_PROMPT.format(prompt=prompt.strip(), instructions=output.instructions(config)),
        user=USER_PROMPT.format(input=judged_input, output=judged_output),
        output=output,
        config=config,
    )


def read_answer(content: str, request: JudgeRequest) -> Answer:
    """The model's answer, with Markdown code fences stripped; anything else is a (retryable) parse error."""
    fenced = CODE_FENCE.match(content)
    text = fenced.group(1) if fenced else content
    try:
        return request.output.read_answer(text.strip(), request.config)
    except ValidationError as error:
        problem = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise LLMError(
            f"The judge's answer is not a valid verdict ({problem}): {content[:200]}",
            kind="parse_error",
            retryable=True,
        ) from None


async def judge(evaluation: EvaluationSnapshot, event_data: dict[str, Any], config: LLMConfig) -> JudgeResult:
    request = judge_request(evaluation, event_data)
    schema = request.output.response_schema(request.config)
    completion = await complete_json(
        config, system=request.system, user=request.user, schema_name=schema.name, schema=schema.schema
    )
    answer = read_answer(completion.content, request)
    return JudgeResult(
        outcome=answer.outcome,
        reasoning=answer.reasoning,
        model=config.model,
        provider=config.provider,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
    )
