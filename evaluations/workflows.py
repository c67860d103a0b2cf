"""The `run-evaluation` workflow: fetch the evaluation and mark the run running, ask the judge, then emit the
`$ai_evaluation` event and record the verdict together. Timeouts and retries per step follow PostHog's.

The database steps are local activities: short, idempotent, run by the worker that runs the workflow, so a run
costs Temporal three tasks instead of eleven. The judge is a regular activity with heartbeats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as StepTimeoutError

# Passed through the sandbox: imported once per worker, not once per workflow (the contracts are plain data).
with workflow.unsafe.imports_passed_through():
    from evaluations import activities
    from evaluations.contracts import (
        BACKFILL_WORKFLOW,
        RUN_EVALUATION_WORKFLOW,
        SKIP_CODES,
        BackfillInputs,
        RunEvaluationInputs,
        RunResult,
        Skip,
    )

DATABASE_STEP = {"start_to_close_timeout": timedelta(seconds=30), "retry_policy": RetryPolicy(maximum_attempts=3)}
JUDGE_STEP = {
    "start_to_close_timeout": timedelta(minutes=6),
    # The judge heartbeats every 2 s: a worker that died mid-call is given up on after this, not after 6 minutes.
    "heartbeat_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        maximum_attempts=3,
        initial_interval=timedelta(seconds=10),
        maximum_interval=timedelta(seconds=60),
        backoff_coefficient=2,
    ),
}
# A code evaluator: its sandbox stops it within seconds; a retry only helps when a worker died under it.
HOG_STEP = {"start_to_close_timeout": timedelta(seconds=30), "retry_policy": RetryPolicy(maximum_attempts=3)}
HOG = "hog"
# Recording a failure must not be what fails: it retries for as long as a short database outage lasts.
RECORD_FAILURE_STEP = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_attempts=10),
}


def _failure(error: ActivityError | ApplicationError | StepTimeoutError) -> tuple[str, str, bool]:
    """(code, message, retryable) of a failed step. (A failed local activity raises its error as it is; a remote
    one wraps it in an ActivityError.)"""
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError):
        return cause.type or "error", cause.message, not cause.non_retryable
    return "activity_timeout" if cause is not None else "error", str(cause or error), True


@workflow.defn(name=RUN_EVALUATION_WORKFLOW)
class RunEvaluationWorkflow:
    @workflow.run
    async def run(self, inputs: RunEvaluationInputs) -> dict[str, Any]:
        start_time = workflow.now().isoformat()
        try:
            start = await workflow.execute_local_activity(activities.start_run_activity, inputs, **DATABASE_STEP)
            if start.result is not None:
                return start.result.workflow_result()
            if start.evaluation.evaluation_type == HOG:
                judged = await workflow.execute_activity(
                    activities.execute_hog_activity, args=[start.evaluation, inputs.event_data], **HOG_STEP
                )
            else:
                judged = await workflow.execute_activity(
                    activities.execute_llm_judge_activity, args=[start.evaluation, inputs.event_data], **JUDGE_STEP
                )
            completed = await workflow.execute_local_activity(
                activities.complete_run_activity,
                args=[start.evaluation, inputs.event_data, judged, start_time],
                **DATABASE_STEP,
            )
            return completed.workflow_result()
        except (ActivityError, ApplicationError, StepTimeoutError) as error:
            code, message, retryable = _failure(error)
            skipped = code in SKIP_CODES
            await workflow.execute_local_activity(
                activities.fail_run_activity, args=[code, message, skipped], **RECORD_FAILURE_STEP
            )
            if skipped:
                return RunResult(inputs.evaluation_id, skip=Skip(code, message)).workflow_result()
            raise ApplicationError(message, type=code, non_retryable=not retryable) from error


# A local activity: a worker killed mid-step loses the workflow task, which another worker picks up within seconds
# (a regular activity would wait out its whole timeout); the step's transaction rolled back, so it is done again.
BACKFILL_STEP = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)),
}
# While the backfill's (or its project's) runs in flight are at their bound, the walk looks again after this.
BACKFILL_WAIT = timedelta(seconds=0.25)
# Steps per workflow run before it continues as new: a walk of any length keeps a short history.
BACKFILL_STEPS_PER_RUN = 100


@workflow.defn(name=BACKFILL_WORKFLOW)
class EvaluationBackfillWorkflow:
    """Walks a backfill's range a page at a time until it is read, cancelled, or its evaluation is disabled; every
    page's state is in the database, so a new run (or a retried step) picks up where the last one left off."""

    @workflow.run
    async def run(self, inputs: BackfillInputs) -> dict[str, Any]:
        for _ in range(BACKFILL_STEPS_PER_RUN):
            tick = await workflow.execute_local_activity(activities.backfill_tick_activity, inputs, **BACKFILL_STEP)
            if tick.finished:
                return {"backfill_id": inputs.backfill_id, "finished": True}
            if tick.waited:
                await workflow.sleep(BACKFILL_WAIT)
            elif tick.rest_seconds > 0:
                await workflow.sleep(timedelta(seconds=tick.rest_seconds))
        workflow.continue_as_new(inputs)
