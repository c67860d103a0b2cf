"""Code evaluators (`evaluation_type: "hog"`): the evaluation's compiled program runs on one event in the Hog
sandbox, and its return value is read as the output type's verdict; its `print()` lines are the reasoning.

A program's own failure (a runtime error, a limit reached, a value of the wrong type) is the project's to fix: the
run is skipped with `hog_error` and the evaluation stops (`error` / `hog_error`, with the message as its detail).
"""

from __future__ import annotations

from typing import Any

import orjson

from evaluations.contracts import EvaluationSnapshot, JudgeResult, Skip, event_properties
from evaluations.judge import raw_texts
from evaluations.output_types import OUTPUT_TYPES, ReturnTypeError
from query_languages.hog import (
    CompiledProgram,
    HogCompileError,
    HogInternalError,
    HogRuntimeError,
    compile_program,
    load_program,
    run,
)

HOG_ERROR = "hog_error"
# PostHog's bound on the error kept as the evaluation's status_reason_detail.
MAX_DETAIL = 2000


class ProgramError(Exception):
    """The program failed in a way every later run would too (the evaluation stops)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def detail(self) -> str:
        return self.message if len(self.message) <= MAX_DETAIL else self.message[: MAX_DETAIL - 1] + "…"


def _text(value: Any) -> str:
    """PostHog's: strings as they are, lists and dicts JSON-encoded, a missing value empty."""
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def program_globals(event_data: dict[str, Any]) -> dict[str, Any]:
    """What a program sees of its target event: `input`, `output`, `properties`, `event {uuid, event, distinct_id}`."""
    properties = event_properties(event_data)
    raw_input, raw_output = raw_texts(str(event_data.get("event", "")), properties)
    return {
        "input": _text(raw_input),
        "output": _text(raw_output),
        "properties": properties,
        "event": {name: str(event_data.get(name, "")) for name in ("uuid", "event", "distinct_id")},
    }


def _program(config: dict[str, Any]) -> CompiledProgram:
    """The stored compiled form; a row written around the API without one is compiled from its source."""
    try:
        if config.get("bytecode"):
            return load_program(config["bytecode"])
        return compile_program(str(config.get("source") or ""))
    except HogCompileError as error:
        raise ProgramError(f"Failed to compile Hog code: {error}") from None


def evaluate(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> JudgeResult:
    """Run the program on the event. Raises ProgramError when the program (not the event) is at fault."""
    output = OUTPUT_TYPES[evaluation.output_type]
    config = output.config(evaluation.output_config)
    program = _program(evaluation.evaluation_config or {})
    try:
        result = run(program, program_globals(event_data))
    except HogInternalError:
        raise  # the interpreter's fault, not the program's: the run fails and the evaluation goes on
    except HogRuntimeError as error:
        raise ProgramError(str(error)) from None
    try:
        outcome = output.read_value(result.value, config)
    except ReturnTypeError as error:
        raise ProgramError(str(error)) from None
    return JudgeResult(outcome=outcome, reasoning=result.reasoning, model="", provider="", input_tokens=None,
                       output_tokens=None)  # fmt: skip


def program_error_result(error: ProgramError) -> JudgeResult:
    return JudgeResult(outcome=Skip(HOG_ERROR, error.message), reasoning="", model="", provider="",
                       input_tokens=None, output_tokens=None)  # fmt: skip
