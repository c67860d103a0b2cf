"""The `run-evaluation` workflow: fetch the evaluation, mark the run running, ask the judge, then emit the
`$ai_evaluation` event and record the verdict together. Timeouts and retries per step follow PostHog's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from evaluations.contracts import RUN_EVALUATION_WORKFLOW, SKIP_CODES, RunEvaluationInputs, skipped_result

with workflow.unsafe.imports_passed_through():
    from evaluations import activities

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
# Recording a failure must not be what fails: it retries for as long as a short database outage lasts.
RECORD_FAILURE_STEP = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_attempts=10),
}


def _failure(error: ActivityError) -> tuple[str, str, bool]:
    """(code, message, retryable) of a failed step."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "error", cause.message, not cause.non_retryable
    return "activity_timeout" if cause is not None else "error", str(cause or error), True


@workflow.defn(name=RUN_EVALUATION_WORKFLOW)
class RunEvaluationWorkflow:
    @workflow.run
    async def run(self, inputs: RunEvaluationInputs) -> dict[str, Any]:
        start_time = workflow.now().isoformat()
        try:
            evaluation = await workflow.execute_activity(activities.fetch_evaluation_activity, inputs, **DATABASE_STEP)
            finished = await workflow.execute_activity(
                activities.start_run_activity, args=[inputs, evaluation], **DATABASE_STEP
            )
            if finished is not None:
                return finished
            judged = await workflow.execute_activity(
                activities.execute_llm_judge_activity, args=[evaluation, inputs.event_data], **JUDGE_STEP
            )
            return await workflow.execute_activity(
                activities.complete_run_activity,
                args=[evaluation, inputs.event_data, judged, start_time],
                **DATABASE_STEP,
            )
        except ActivityError as error:
            code, message, retryable = _failure(error)
            skipped = code in SKIP_CODES
            await workflow.execute_activity(
                activities.fail_run_activity, args=[code, message, skipped], **RECORD_FAILURE_STEP
            )
            if skipped:
                return skipped_result(evaluation_id=inputs.evaluation_id, code=code, message=message)
            raise ApplicationError(message, type=code, non_retryable=not retryable) from error
