"""Code evaluators (`evaluation_type: "hog"`): the evaluation's compiled program runs on one event in the Hog
sandbox, and its return value is read as the output type's verdict; its `print()` lines are the reasoning.

A program's own failure (a runtime error, a limit reached, a value of the wrong type) is the project's to fix: the
run is skipped with `hog_error` and the evaluation stops (`error` / `hog_error`, with the message as its detail).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from django.utils import timezone

from environments.models import Team
from evaluations import backfills, selectors
from evaluations.contracts import EvaluationSnapshot, JudgeResult, Skip, Verdict, event_properties
from evaluations.judge import raw_texts
from evaluations.output_types import OUTPUT_TYPES, ReturnTypeError
from query_languages import (
    HogCompileError,
    HogInternalError,
    HogProgram,
    HogRuntimeError,
    compile_hog,
    load_hog,
    run_hog,
)

HOG_ERROR = "hog_error"
# PostHog's bound on the error kept as the evaluation's status_reason_detail.
MAX_DETAIL = 2000


class ProgramError(Exception):
    """The program failed: it does not compile, raised, reached a limit or returned a value of the wrong type. As in
    PostHog, the evaluation stops whichever event it met this on: the program is its author's to fix."""

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


def _program(config: dict[str, Any]) -> HogProgram:
    """The stored compiled form; a row written around the API without one is compiled from its source."""
    try:
        if config.get("bytecode"):
            return load_hog(config["bytecode"])
        return compile_hog(str(config.get("source") or ""))
    except HogCompileError as error:
        raise ProgramError(f"Failed to compile Hog code: {error}") from None


def evaluate(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> JudgeResult:
    """Run the program on the event. Raises ProgramError when the program (not the event) is at fault."""
    output = OUTPUT_TYPES[evaluation.output_type]
    config = output.config(evaluation.output_config)
    program = _program(evaluation.evaluation_config or {})
    try:
        result = run_hog(program, program_globals(event_data))
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


PREVIEW_LENGTH = 200
DRY_RUN_DAYS = 7
NO_RECENT_EVENTS = "No recent AI events found in the last 7 days"


def dry_run(
    *, team: Team, source: str, sample_count: int, allows_na: bool, conditions: list[Any]
) -> list[dict[str, Any]]:
    """PostHog's `test_hog`: the program on the newest matching generations of the last 7 days, as a boolean
    evaluation; nothing stored, no event emitted. Raises ProgramError when the source does not compile."""
    try:
        program = compile_hog(source)
    except HogCompileError as error:
        raise ProgramError(f"Compilation error: {error}") from None
    output = OUTPUT_TYPES["boolean"]
    config = output.config({"allows_na": allows_na})
    _, prefilter = backfills.parsed_conditions(conditions)
    since = timezone.now() - timedelta(days=DRY_RUN_DAYS)
    rows = selectors.recent_generations(team=team, prefilter=prefilter, since=since, limit=sample_count)
    results = []
    for row in rows:
        event_data = {"uuid": str(row.uuid), "event": row.event, "distinct_id": row.distinct_id,
                      "properties": row.properties}  # fmt: skip
        seen = program_globals(event_data)
        result: Any = None
        reasoning, error = "", None
        try:
            ran = run_hog(program, seen)
            reasoning = ran.reasoning
            verdict = output.read_value(ran.value, config)
            result = verdict.value if isinstance(verdict, Verdict) else None
        except HogRuntimeError as failure:
            error, reasoning = str(failure), "\n".join(failure.printed)
        except ReturnTypeError as failure:
            error = str(failure)
        results.append({
            "event_uuid": str(row.uuid),
            "trace_id": row.properties.get("$ai_trace_id"),
            "input_preview": seen["input"][:PREVIEW_LENGTH],
            "output_preview": seen["output"][:PREVIEW_LENGTH],
            "result": result,
            "reasoning": reasoning,
            "error": error,
        })  # fmt: skip
    return results
