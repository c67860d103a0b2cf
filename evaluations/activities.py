"""The `run-evaluation` workflow's activities.

Database steps are synchronous (Django ORM, on the worker's activity threads). The judge is asynchronous and
heartbeats while the LLM answers, so a worker killed mid-call is noticed within seconds and the call retried on
another worker. Failures leave as `ApplicationError`s whose `type` is the code recorded on the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from temporalio import activity
from temporalio.exceptions import ApplicationError

from evaluations import backfills, code_evaluators, judge, provider_keys, runs, scheduling, selectors, status
from evaluations.contracts import (
    KEY_TYPE_BYOK,
    BackfillInputs,
    BackfillTick,
    EvaluationSnapshot,
    JudgeResult,
    RunEvaluationInputs,
    RunResult,
    RunStart,
    Skip,
    is_manual,
)
from evaluations.models import EvaluationRun, EvaluationStatus, LLMProviderKey, RunStatus, StatusReason
from posthog_clone import encryption
from posthog_clone.llm import JUDGE_NOT_CONFIGURED, LLMConfig, LLMError, judge_config
from posthog_clone.temporal.activities import database_connection
from query_languages import HogInternalError

HEARTBEAT_SECONDS = 2.0
# A provider key's `last_used_at` is written at most this often (one conditional UPDATE per run, a no-op within it).
LAST_USED_RESOLUTION = timedelta(minutes=1)
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
    if evaluation.status == EvaluationStatus.ERROR and not is_manual(activity.info().workflow_id):
        # An online run that waited while another run found the error: it would only meet it again.
        raise ApplicationError(
            f"Evaluation {inputs.evaluation_id} is stopped ({evaluation.status_reason}); fix it and re-enable it",
            type="evaluation_error",
            non_retryable=True,
        )
    return selectors.evaluation_snapshot(evaluation)


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


@dataclasses.dataclass(frozen=True)
class _ProjectKey:
    config: LLMConfig
    key_id: str
    updated_at: datetime


def _project_key_config(evaluation: EvaluationSnapshot) -> _ProjectKey:
    """The judge configuration with the evaluation's provider key, decrypted here (the secret never leaves this
    activity: not in a payload, not in a log). Marks the key used."""
    with database_connection():
        key = LLMProviderKey.objects.filter(team_id=evaluation.team_id, id=evaluation.provider_key_id).first()
        if key is None:
            raise _ProjectKeyError("The evaluation's provider key was deleted.", code="key_not_found")
        try:
            api_key = provider_keys.stored_api_key(key)
        except encryption.DecryptionError:
            raise _ProjectKeyError(provider_keys.UNDECRYPTABLE, code="key_invalid", key=key) from None
        now = timezone.now()
        LLMProviderKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    config = LLMConfig(
        model=evaluation.judge_model or settings.LLMA_EVAL_MODEL,
        api_key=api_key or "not-needed",
        base_url=provider_keys.endpoint(provider=key.provider, base_url=key.base_url),
        timeout_seconds=settings.LLMA_EVAL_TIMEOUT_SECONDS,
        provider=evaluation.judge_provider or key.provider,
    )
    return _ProjectKey(config=config, key_id=str(key.id), updated_at=key.updated_at)


class _ProjectKeyError(Exception):
    def __init__(self, message: str, *, code: str, key: LLMProviderKey | None = None) -> None:
        super().__init__(message)
        self.message, self.code = message, code
        self.updated_at = key.updated_at if key is not None else None


def _record_key_error(evaluation: EvaluationSnapshot, code: str, message: str, key_updated_at: datetime | None) -> None:
    if evaluation.provider_key_id is None:
        return
    with database_connection():
        status.evaluation_error_from_run(
            team_id=evaluation.team_id,
            evaluation_id=evaluation.id,
            code=code,
            message=message,
            provider_key_id=evaluation.provider_key_id,
            key_updated_at=key_updated_at,
        )


@activity.defn(name="execute-llm-judge")
async def execute_llm_judge_activity(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> JudgeResult:
    with _run_context():
        project_key: _ProjectKey | None = None
        if evaluation.provider_key_id:
            try:
                project_key = await asyncio.to_thread(_project_key_config, evaluation)
            except _ProjectKeyError as error:
                await asyncio.to_thread(_record_key_error, evaluation, error.code, error.message, error.updated_at)
                return _project_error_skip(evaluation, error.code, error.message, key_id=evaluation.provider_key_id)
            config: LLMConfig | None = project_key.config
        else:
            config = judge_config(model=evaluation.judge_model)
        if config is None:
            raise ApplicationError(JUDGE_NOT_CONFIGURED, type="llm_judge_not_configured", non_retryable=True)
        judging = asyncio.ensure_future(judge.judge(evaluation, event_data, config))
        try:
            while not judging.done():
                await asyncio.wait({judging}, timeout=HEARTBEAT_SECONDS)
                activity.heartbeat()
            result = judging.result()
        except judge.JudgeConfigurationError as error:
            raise ApplicationError(error.message, type=error.code, non_retryable=True) from None
        except LLMError as error:
            logger.warning("evaluation_judge_failed", kind=error.kind, retryable=error.retryable,
                           key_type="byok" if project_key else "posthog")  # fmt: skip
            if project_key is not None and not error.retryable:
                await asyncio.to_thread(
                    _record_key_error, evaluation, error.kind, error.message, project_key.updated_at
                )
                if error.kind in status.ERROR_REASONS:
                    return _project_error_skip(evaluation, error.kind, error.message, key_id=project_key.key_id)
            raise ApplicationError(error.message, type=error.kind, non_retryable=not error.retryable) from None
        finally:
            judging.cancel()
    if project_key is None:
        return result
    return dataclasses.replace(result, key_type=KEY_TYPE_BYOK, key_id=project_key.key_id)


def _project_error_skip(evaluation: EvaluationSnapshot, code: str, message: str, *, key_id: str | None) -> JudgeResult:
    """A run the project's own key or model could not judge (refused, forbidden, out of quota, gone): the project's
    to fix, so the run is skipped with the error as its reason and its event says so, as PostHog's."""
    return JudgeResult(
        outcome=Skip(code, message),
        reasoning="",
        model=evaluation.judge_model,
        provider=evaluation.judge_provider,
        input_tokens=None,
        output_tokens=None,
        key_type=KEY_TYPE_BYOK,
        key_id=key_id,
    )


@activity.defn(name="execute-hog-evaluator")
def execute_hog_activity(evaluation: EvaluationSnapshot, event_data: dict[str, Any]) -> JudgeResult:
    """Run a code evaluator's program (in the sandbox, within its time limit). A program at fault skips the run with
    `hog_error` and stops the evaluation, once however many runs meet it."""
    with _run_context():
        try:
            return code_evaluators.evaluate(evaluation, event_data)
        except code_evaluators.ProgramError as error:
            logger.warning("evaluation_hog_error", error=error.detail[:200])
            with database_connection():
                status.evaluation_set_error(team_id=evaluation.team_id, evaluation_id=evaluation.id,
                                            reason=StatusReason.HOG_ERROR, detail=error.detail)  # fmt: skip
            return code_evaluators.program_error_result(error)
        except HogInternalError as error:
            raise ApplicationError(str(error), type="hog_internal_error", non_retryable=True) from None


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


@activity.defn(name="evaluation-backfill-tick")
def backfill_tick_activity(inputs: BackfillInputs) -> BackfillTick:
    """One page of a backfill's walk; the runs it recorded are started at once (the dispatcher would within its
    interval)."""
    with structlog.contextvars.bound_contextvars(backfill_id=inputs.backfill_id), database_connection():
        tick = backfills.backfill_tick(backfill_id=inputs.backfill_id, team_id=inputs.team_id)
        if tick.dispatched:
            scheduling.evaluation_runs_dispatch(limit=tick.dispatched)
    return tick
