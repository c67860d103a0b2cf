"""Evaluation runs: starting one by hand, and the state changes the `run-evaluation` workflow makes as it goes
(what the API and the workflow's activities call). Online runs are scheduled by `evaluations.scheduling`.

A run row is keyed by its workflow id. Manual runs are recorded in the transaction that starts their workflow, so
a start Temporal refused leaves nothing behind.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy

from environments.models import Team
from evaluations import errors, selectors
from evaluations.contracts import (
    RUN_EVALUATION_WORKFLOW,
    EvaluationSnapshot,
    JudgeResult,
    RunEvaluationInputs,
    Skip,
    event_properties,
    is_manual,
    manual_workflow_id,
)
from evaluations.models import Evaluation, EvaluationRun, EvaluationType, RunStatus, RunTrigger
from evaluations.output_types import OUTPUT_TYPES
from events.records import EventInput
from events.services import events_capture
from posthog_clone.llm import judge_config
from posthog_clone.temporal.client import StartOutcome, WorkflowStart, start_workflows

logger = structlog.get_logger(__name__)

# Skips whose judge call is billed (the answer itself was the problem): their events keep the model and tokens.
BILLED_SKIPS = frozenset({"unparsable_response", "output_limit_exceeded"})
# The emitted `$ai_evaluation` event's uuid derives from the workflow id, so whatever repeats (an activity, the
# workflow, a worker killed mid-run), ingestion stores one event per run.
EMITTED_EVENT_NAMESPACE = uuid.UUID("6f1f3f0e-4f7c-4d55-9a38-0f2d53a1c7e1")
MANUAL_RETRY_POLICY = RetryPolicy(maximum_attempts=3)
# Two manual runs of the same evaluation on the same event within one millisecond take the next free one.
MANUAL_ID_ATTEMPTS = 5


def needs_server_judge(evaluation_type: str, provider_key_id: Any) -> bool:
    """Whether a run of this evaluation asks the server's own judge (`LLMA_EVAL_*`): an LLM judge without a key."""
    return evaluation_type == EvaluationType.LLM_JUDGE and provider_key_id is None


def evaluation_run_start(
    *, team: Team, evaluation_id: uuid.UUID, target_event_id: uuid.UUID, event: str, distinct_id: str | None
) -> EvaluationRun:
    """Record a manual run and start its workflow; disabled evaluations may be run by hand."""
    evaluation = (
        Evaluation.objects.filter(team=team, id=evaluation_id, deleted=False)
        .only("id", "name", "evaluation_type", "provider_key")
        .first()
    )
    if evaluation is None:
        raise errors.evaluation_not_found(evaluation_id)
    target = selectors.run_target_event(team_id=team.id, event_uuid=target_event_id)
    if target is None:
        raise errors.event_not_found(target_event_id)
    if target.event != event:
        raise errors.event_not_found(target_event_id, why=(
            f"A run looks for an `{event}` event with this id; this id is a `{target.event}` event "
            f"(set \"event\": \"{target.event}\" to run on it)."))  # fmt: skip
    if distinct_id is not None and target.distinct_id != distinct_id:
        raise errors.event_not_found(target_event_id, why=f"Its distinct_id is not {distinct_id!r}.")
    # The server's own judge is needed only by an LLM judge without a provider key of its own.
    if needs_server_judge(evaluation.evaluation_type, evaluation.provider_key_id) and judge_config() is None:
        raise errors.llm_judge_not_configured()
    inputs = RunEvaluationInputs(str(evaluation.id), selectors.event_data(team_id=team.id, event=target))
    epoch_ms = int(time.time() * 1000)
    for attempt in range(MANUAL_ID_ATTEMPTS):
        workflow_id = manual_workflow_id(str(evaluation.id), str(target_event_id), epoch_ms + attempt)
        now = timezone.now()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    run = EvaluationRun.objects.create(
                        id=workflow_id,
                        team=team,
                        evaluation=evaluation,
                        target_event_id=target.uuid,
                        event=target.event,
                        timestamp=target.timestamp,
                        distinct_id=target.distinct_id,
                        trigger=RunTrigger.MANUAL,
                        created_at=now,
                        dispatched_at=now,
                    )
            except IntegrityError:
                continue
            # Started while the row is uncommitted: the workflow's first write to it waits for this commit.
            [result] = start_workflows(
                [
                    WorkflowStart(
                        RUN_EVALUATION_WORKFLOW,
                        inputs,
                        id=workflow_id,
                        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                        retry_policy=MANUAL_RETRY_POLICY,
                    )
                ]
            )
            if result.outcome is StartOutcome.UNAVAILABLE:
                logger.warning("evaluation_run_temporal_unavailable", workflow_id=workflow_id, error=result.message)
                raise errors.temporal_unavailable()
            if result.outcome is StartOutcome.REJECTED:
                raise errors.workflow_rejected(result.message)
            # Started, or already running under this id (a start whose answer a timeout lost): the run is on.
            return run
    raise errors.too_many_identical_runs()


# --- what the workflow's activities record --------------------------------------------------------------------

BEGIN_RUN = """
INSERT INTO evaluations_evaluationrun AS r (id, team_id, evaluation_id, target_event_id, event, timestamp,
    distinct_id, trigger, status, result_type, reasoning, model, error_code, error_message, created_at,
    dispatched_at, started_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'running', %s, '', '', '', '', now(), now(), now())
ON CONFLICT (id) DO UPDATE SET status = 'running', result_type = EXCLUDED.result_type, started_at = now(),
    finished_at = NULL, error_code = '', error_message = ''
WHERE r.status NOT IN ('completed', 'skipped')
"""


def evaluation_run_begin(
    *, workflow_id: str, evaluation: EvaluationSnapshot, event_data: dict[str, Any]
) -> EvaluationRun:
    """Mark the run running, creating its row when the workflow was started elsewhere (a PostHog-style
    scheduler). A run that already completed or was skipped is returned as it is."""
    trigger = RunTrigger.MANUAL if is_manual(workflow_id) else RunTrigger.ONLINE
    with connection.cursor() as cursor:
        cursor.execute(
            BEGIN_RUN,
            [
                workflow_id,
                evaluation.team_id,
                evaluation.id,
                uuid.UUID(str(event_data["uuid"])),
                str(event_data["event"]),
                event_data["timestamp"],
                str(event_data["distinct_id"]),
                trigger,
                evaluation.output_type,
            ],
        )
    return EvaluationRun.objects.get(id=workflow_id)


def evaluation_run_complete(
    *,
    workflow_id: str,
    evaluation: EvaluationSnapshot,
    event_data: dict[str, Any],
    judged: JudgeResult,
    start_time: str,
) -> EvaluationRun:
    """Emit the run's `$ai_evaluation` event and record the verdict, in one transaction; a run already recorded
    (its activity retried after committing) is returned unchanged. A judge's answer its output type skipped is
    recorded as a skipped run, and its event says so (`$ai_evaluation_skipped`, `$ai_evaluation_skip_reason`)."""
    outcome = judged.outcome
    output = OUTPUT_TYPES[evaluation.output_type]
    config = output.config(evaluation.output_config)
    skipped = isinstance(outcome, Skip)
    # An LLM judge's model and tokens are reported, and kept for a skip when the answer was the problem (billed).
    judged_by_llm = evaluation.evaluation_type == EvaluationType.LLM_JUDGE
    judge_kept = judged_by_llm and (not skipped or outcome.reason in BILLED_SKIPS)
    with transaction.atomic():
        run = EvaluationRun.objects.select_for_update().get(id=workflow_id)
        if run.status == RunStatus.COMPLETED or (run.status == RunStatus.SKIPPED and run.emitted_event_id):
            return run
        properties: dict[str, Any] = {
            "$ai_evaluation_id": str(evaluation.id),
            "$ai_evaluation_name": evaluation.name,
            **({"$ai_evaluation_model": judged.model} if judge_kept else {}),
            "$ai_evaluation_start_time": start_time,
            "$ai_evaluation_reasoning": judged.reasoning,
            "$ai_evaluation_allows_na": bool(getattr(config, "allows_na", False)),
            "$ai_target_event_id": str(event_data["uuid"]),
            "$ai_target_event_type": event_data["event"],
            "$ai_trace_id": event_properties(event_data).get("$ai_trace_id"),
            "$ai_evaluation_type": "online",
            "$ai_evaluation_runtime": evaluation.evaluation_type,
            "$ai_evaluation_result_type": output.key,
            # Ours (PostHog's `$ai_evaluation_type` says "online" for every run): what `stats/?trigger=` filters on.
            "$ai_evaluation_trigger": run.trigger,
        }
        if judge_kept:
            properties.update({
                "$ai_model": judged.model,
                "$ai_provider": judged.provider,
                "$ai_input_tokens": judged.input_tokens,
                "$ai_output_tokens": judged.output_tokens,
            })  # fmt: skip
        if not skipped:
            if judged_by_llm:
                properties["$ai_evaluation_key_type"] = judged.key_type
                if judged.key_id:
                    properties["$ai_evaluation_key_id"] = judged.key_id
            properties.update(output.event_properties(outcome, config))
        else:
            properties.update({"$ai_evaluation_skipped": True, "$ai_evaluation_skip_reason": outcome.reason,
                               **output.skipped_properties(config)})  # fmt: skip
        backfilled = run.trigger == RunTrigger.BACKFILL
        if backfilled and run.backfill_id is not None:
            properties["$ai_evaluation_backfill_id"] = str(run.backfill_id)
        emitted = EventInput(
            uuid=uuid.uuid5(EMITTED_EVENT_NAMESPACE, workflow_id),
            event="$ai_evaluation",
            distinct_id=str(event_data["distinct_id"]),
            properties=properties,
            # A backfilled verdict is placed at its target's time, so results over time chart it where it belongs.
            timestamp=run.timestamp if backfilled else timezone.now(),
        )
        events_capture(team=Team.objects.only("id", "ingested_event").get(pk=evaluation.team_id), events=[emitted])
        run.result_type = output.key
        run.reasoning = judged.reasoning
        if judge_kept:
            run.model, run.input_tokens, run.output_tokens = judged.model, judged.input_tokens, judged.output_tokens
        if skipped:
            run.status = RunStatus.SKIPPED
            run.error_code, run.error_message = outcome.reason[:100], outcome.message
        else:
            run.status = RunStatus.COMPLETED
            run.result, run.passed = outcome.value, output.passed(outcome, config)
            # `verdict` keeps the boolean result alone (PostHog's field); other types' results are in `result`.
            run.verdict = outcome.value if isinstance(outcome.value, bool) else None
            run.applicable = outcome.applicable
            run.error_code = run.error_message = ""
        run.emitted_event_id = emitted.uuid
        run.finished_at = timezone.now()
        run.save()
    return run


def evaluation_run_fail(*, workflow_id: str, code: str, message: str, skipped: bool = False) -> None:
    """Record why a run did not complete (nothing to do when the workflow never had a row)."""
    EvaluationRun.objects.filter(id=workflow_id).exclude(status=RunStatus.COMPLETED).update(
        status=RunStatus.SKIPPED if skipped else RunStatus.FAILED,
        error_code=code[:100],
        error_message=message,
        finished_at=timezone.now(),
    )
