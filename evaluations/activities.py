"""The `run-evaluation` workflow's activities.

Database steps are synchronous (Django ORM, on the worker's activity threads). The judge is asynchronous and
heartbeats while the LLM answers, so a worker killed mid-call is noticed within seconds and the call retried on
another worker. Failures leave as `ApplicationError`s whose `type` is the code recorded on the run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from django.core.exceptions import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from evaluations import judge, runs, selectors
from evaluations.contracts import EvaluationSnapshot, JudgeResult, RunEvaluationInputs, RunResult, RunStart, Skip
from evaluations.models import EvaluationRun, RunStatus
from posthog_clone.llm import JUDGE_NOT_CONFIGURED, LLMError, judge_config
from posthog_clone.temporal.activities import database_connection

HEARTBEAT_SECONDS = 2.0
logger = structlog.get_logger(__name__)


def _run_context() -> Any:
    """Every line an activity logs names its run (the workflow id) and attempt."""
    info = activity.info()
    return structlog.contextvars.bound_contextvars(workflow_id=info.workflow_id, attempt=info.attempt)


def run_result(run: EvaluationRun) -> RunResult:
    """How a run that has finished ended."""
    if run.status == RunStatus.SKIPPED:
        return RunResult(str(run.evaluation_id), skip=Skip(run.error_code, run.error_message))
    return RunResult(str(run.evaluation_id), verdict=run.result, reasoning=run.reasoning)


def _evaluation(inputs: RunEvaluationInputs) -> EvaluationSnapshot:
    """The evaluation to run, only within the target event's project."""
    try:
        evaluation = selectors.evaluation_for_run(
            team_id=int(inputs.event_data["team_id"]), evaluation_id=inputs.evaluation_id
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        evaluation = None
    if evaluation is None:
        raise ApplicationError(
            f"Evaluation {inputs.evaluation_id} not found", type="evaluation_not_found", non_retryable=True
        )
    if evaluation.deleted:
        raise ApplicationError(
            f"Evaluation {inputs.evaluation_id} was deleted", type="evaluation_deleted", non_retryable=True
        )
    return EvaluationSnapshot(
        id=str(evaluation.id),
        name=evaluation.name,
        team_id=evaluation.team_id,
        evaluation_type=evaluation.evaluation_type,
        evaluation_config=evaluation.evaluation_config,
        output_type=evaluation.output_type,
        output_config=evaluation.output_config,
    )


@activity.defn(name="start-evaluation-run")
def start_run_activity(inputs: RunEvaluationInputs) -> RunStart:
    """Fetch the evaluation and mark the run running; a run that had already finished comes back with its
    result instead."""
    with _run_context(), database_connection():
        evaluation = _evaluation(inputs)
        try:
            run = runs.evaluation_run_begin(
                workflow_id=activity.info().workflow_id, evaluation=evaluation, event_data=inputs.event_data
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ApplicationError(
                f"Malformed event_data: {error!r}", type="invalid_inputs", non_retryable=True
            ) from None
        logger.info("evaluation_run_started", evaluation_id=evaluation.id, trigger=run.trigger)
    finished = run.status in (RunStatus.COMPLETED, RunStatus.SKIPPED)
    return RunStart(evaluation=evaluation, result=run_result(run) if finished else None)


@activity.defn(name="execute-llm-judge")
async def execute_llm_judge_activity(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> JudgeResult:
    config = judge_config()
    if config is None:
        raise ApplicationError(
            JUDGE_NOT_CONFIGURED,
            type="llm_judge_not_configured",
            non_retryable=True,
        )
    judging = asyncio.ensure_future(judge.judge(evaluation, event_data, config))
    with _run_context():
        try:
            while not judging.done():
                await asyncio.wait({judging}, timeout=HEARTBEAT_SECONDS)
                activity.heartbeat()
            return judging.result()
        except judge.JudgeConfigurationError as error:
            raise ApplicationError(error.message, type=error.code, non_retryable=True) from None
        except LLMError as error:
            logger.warning("evaluation_judge_failed", kind=error.kind, retryable=error.retryable)
            raise ApplicationError(error.message, type=error.kind, non_retryable=not error.retryable) from None
        finally:
            judging.cancel()


@activity.defn(name="complete-evaluation-run")
def complete_run_activity(
    evaluation: EvaluationSnapshot, event_data: dict[str, Any], judged: JudgeResult, start_time: str
) -> RunResult:
    """Emit the `$ai_evaluation` event and record the verdict (once, however often this runs), or record the run
    skipped when its output type could not take the judge's answer."""
    with _run_context(), database_connection():
        run = runs.evaluation_run_complete(
            workflow_id=activity.info().workflow_id,
            evaluation=evaluation,
            event_data=event_data,
            judged=judged,
            start_time=start_time,
        )
        if run.status == RunStatus.SKIPPED:
            logger.warning("evaluation_run_skipped", code=run.error_code)
        else:
            logger.info("evaluation_run_completed", verdict=run.verdict, result=run.result, passed=run.passed,
                        applicable=run.applicable)  # fmt: skip
    return run_result(run)


@activity.defn(name="fail-evaluation-run")
def fail_run_activity(code: str, message: str, skipped: bool) -> None:
    with _run_context(), database_connection():
        runs.evaluation_run_fail(workflow_id=activity.info().workflow_id, code=code, message=message, skipped=skipped)
        logger.warning("evaluation_run_skipped" if skipped else "evaluation_run_failed", code=code)
