"""Evaluation runs: starting one by hand, scheduling online ones as events are ingested, dispatching those to
Temporal, and the state changes the `run-evaluation` workflow makes as it goes.

A run row is keyed by its workflow id. Manual runs are recorded in the transaction that starts their workflow, so
a start Temporal refused leaves nothing behind; online runs are recorded in the transaction that stores their
event and wait (`dispatched_at` NULL) until the dispatcher has started them, however long Temporal is away.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from environments.models import Team
from evaluations import errors, selectors
from evaluations.contracts import (
    RUN_EVALUATION_WORKFLOW,
    EvaluationSnapshot,
    RunEvaluationInputs,
    event_properties,
    is_manual,
    manual_workflow_id,
    online_workflow_id,
)
from evaluations.models import Evaluation, EvaluationRun, RunStatus, RunTrigger
from evaluations.online import online_evaluation, triggered
from events.hooks import CaptureTransaction
from events.records import EventInput
from events.selectors import events_by_uuid
from events.services import events_capture
from posthog_clone.llm import JUDGE_NOT_CONFIGURED, judge_config
from posthog_clone.temporal.client import StartOutcome, WorkflowStart, start_workflows

logger = structlog.get_logger(__name__)

# The emitted `$ai_evaluation` event's uuid derives from the workflow id, so whatever repeats (an activity, the
# workflow, a worker killed mid-run), ingestion stores one event per run.
EMITTED_EVENT_NAMESPACE = uuid.UUID("6f1f3f0e-4f7c-4d55-9a38-0f2d53a1c7e1")
MANUAL_RETRY_POLICY = RetryPolicy(maximum_attempts=3)
# Two manual runs of the same evaluation on the same event within one millisecond take the next free one.
MANUAL_ID_ATTEMPTS = 5
DISPATCH_BATCH = 100


# --- manual runs ----------------------------------------------------------------------------------------------


def evaluation_run_start(
    *, team: Team, evaluation_id: uuid.UUID, target_event_id: uuid.UUID, event: str, distinct_id: str | None
) -> EvaluationRun:
    """Record a manual run and start its workflow; disabled evaluations may be run by hand."""
    evaluation = Evaluation.objects.filter(team=team, id=evaluation_id, deleted=False).only("id", "name").first()
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
    if judge_config() is None:
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


# --- online runs: scheduled at ingestion, dispatched by the worker ---------------------------------------------

INSERT_ONLINE_RUNS = """
INSERT INTO evaluations_evaluationrun (id, team_id, evaluation_id, target_event_id, event, timestamp, distinct_id,
    trigger, status, reasoning, model, error_code, error_message, created_at)
SELECT x.id, %(team_id)b, x.evaluation_id, x.target, x.event, x.timestamp, x.distinct_id,
    'online', 'pending', '', '', '', '', now()
FROM unnest(%(ids)b::text[], %(evaluations)b::uuid[], %(targets)b::uuid[], %(events)b::text[],
            %(timestamps)b::timestamptz[], %(distinct_ids)b::text[])
     AS x(id, evaluation_id, target, event, timestamp, distinct_id)
ON CONFLICT (id) DO NOTHING
"""


def evaluation_runs_schedule_online(*, team_id: int, events: Sequence[EventInput], capture: CaptureTransaction) -> None:
    """Record a pending run for every (new event, enabled evaluation it triggers), in the ingesting transaction (the
    `events.hooks` hook this app registers for `$ai_generation`). One query loads the project's evaluations for the
    whole batch."""
    with capture.cursor() as cursor:
        cursor.execute(
            "SELECT id, conditions FROM evaluations_evaluation WHERE team_id = %b AND enabled AND NOT deleted "
            "AND conditions <> '[]'::jsonb",
            (team_id,),
        )
        # Django's connection reads jsonb as text.
        evaluations = [online_evaluation(id_, orjson.loads(conditions)) for id_, conditions in cursor.fetchall()]
        if not evaluations:
            return
        runs = [(evaluation_id, event) for event in events for evaluation_id in triggered(evaluations, event)]
        if not runs:
            return
        cursor.execute(
            INSERT_ONLINE_RUNS,
            {
                "team_id": team_id,
                "ids": [online_workflow_id(str(evaluation_id), str(event.uuid)) for evaluation_id, event in runs],
                "evaluations": [evaluation_id for evaluation_id, _ in runs],
                "targets": [event.uuid for _, event in runs],
                "events": [event.event for _, event in runs],
                "timestamps": [event.timestamp for _, event in runs],
                "distinct_ids": [event.distinct_id for _, event in runs],
            },
        )


@dataclass(frozen=True)
class DispatchResult:
    claimed: int
    started: int
    temporal_unavailable: bool


def evaluation_runs_dispatch(*, limit: int = DISPATCH_BATCH) -> DispatchResult:
    """Start the workflows of pending online runs, oldest first. Rows are claimed with SKIP LOCKED, so several
    workers never start the same run twice, and Temporal's id conflict policy makes a repeated start a no-op.
    Runs that Temporal could not take stay pending for the next call."""
    with transaction.atomic():
        runs = list(
            EvaluationRun.objects.select_for_update(skip_locked=True)
            .filter(status=RunStatus.PENDING, dispatched_at__isnull=True)
            .order_by("created_at")[:limit]
        )
        if not runs:
            return DispatchResult(claimed=0, started=0, temporal_unavailable=False)
        now = timezone.now()
        if judge_config() is None:
            for run in runs:
                _finish(run, now, RunStatus.SKIPPED, "llm_judge_not_configured", JUDGE_NOT_CONFIGURED)
            EvaluationRun.objects.bulk_update(runs, ["status", "error_code", "error_message", "finished_at"])
            return DispatchResult(claimed=len(runs), started=0, temporal_unavailable=False)
        targets = _target_events(runs)
        startable, finished = [], []
        for run in runs:
            target = targets.get((run.team_id, run.target_event_id))
            if target is None:
                _finish(run, now, RunStatus.FAILED, "event_not_found", f"Event {run.target_event_id} not found.")
                finished.append(run)
            else:
                startable.append((run, RunEvaluationInputs(str(run.evaluation_id), target)))
        results = start_workflows(
            [
                WorkflowStart(
                    RUN_EVALUATION_WORKFLOW,
                    inputs,
                    id=run.id,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                )
                for run, inputs in startable
            ]
        )
        started = []
        for (run, _), result in zip(startable, results, strict=True):
            if result.outcome in (StartOutcome.STARTED, StartOutcome.ALREADY_STARTED):
                run.dispatched_at = now
                started.append(run)
            elif result.outcome is StartOutcome.REJECTED:
                _finish(run, now, RunStatus.FAILED, "workflow_rejected", result.message)
                finished.append(run)
        EvaluationRun.objects.bulk_update(started, ["dispatched_at"])
        EvaluationRun.objects.bulk_update(finished, ["status", "error_code", "error_message", "finished_at"])
    unavailable = any(result.outcome is StartOutcome.UNAVAILABLE for result in results)
    return DispatchResult(claimed=len(runs), started=len(started), temporal_unavailable=unavailable)


def _target_events(runs: Sequence[EvaluationRun]) -> dict[tuple[int, uuid.UUID], dict[str, Any]]:
    wanted: dict[int, set[uuid.UUID]] = defaultdict(set)
    for run in runs:
        wanted[run.team_id].add(run.target_event_id)
    return {
        (team_id, event_uuid): selectors.event_data(team_id=team_id, event=event)
        for team_id, uuids in wanted.items()
        for event_uuid, event in events_by_uuid(team_id=team_id, uuids=uuids).items()
    }


def _finish(run: EvaluationRun, now: datetime, status: RunStatus, code: str, message: str) -> None:
    run.status, run.error_code, run.error_message, run.finished_at = status, code, message, now


# --- what the workflow's activities record --------------------------------------------------------------------

BEGIN_RUN = """
INSERT INTO evaluations_evaluationrun AS r (id, team_id, evaluation_id, target_event_id, event, timestamp,
    distinct_id, trigger, status, reasoning, model, error_code, error_message, created_at, dispatched_at, started_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'running', '', '', '', '', now(), now(), now())
ON CONFLICT (id) DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL, error_code = '',
    error_message = ''
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
            ],
        )
    return EvaluationRun.objects.get(id=workflow_id)


def evaluation_run_complete(
    *,
    workflow_id: str,
    evaluation: EvaluationSnapshot,
    event_data: dict[str, Any],
    judged: dict[str, Any],
    start_time: str,
) -> EvaluationRun:
    """Emit the run's `$ai_evaluation` event and record the verdict, in one transaction; a run already completed
    (its activity retried after committing) is returned unchanged."""
    with transaction.atomic():
        run = EvaluationRun.objects.select_for_update().get(id=workflow_id)
        if run.status == RunStatus.COMPLETED:
            return run
        allows_na = judged["applicable"] is not None
        properties: dict[str, Any] = {
            "$ai_evaluation_id": str(evaluation.id),
            "$ai_evaluation_name": evaluation.name,
            "$ai_evaluation_model": judged["model"],
            "$ai_evaluation_start_time": start_time,
            "$ai_evaluation_reasoning": judged["reasoning"],
            "$ai_evaluation_allows_na": allows_na,
            "$ai_target_event_id": str(event_data["uuid"]),
            "$ai_target_event_type": event_data["event"],
            "$ai_trace_id": event_properties(event_data).get("$ai_trace_id"),
            "$ai_evaluation_type": "online",
            "$ai_evaluation_runtime": evaluation.evaluation_type,
            "$ai_model": judged["model"],
            "$ai_provider": judged["provider"],
            "$ai_input_tokens": judged["input_tokens"],
            "$ai_output_tokens": judged["output_tokens"],
        }
        if judged["applicable"] is not False:
            properties["$ai_evaluation_result"] = judged["verdict"]
        if allows_na:
            properties["$ai_evaluation_applicable"] = judged["applicable"]
        emitted = EventInput(
            uuid=uuid.uuid5(EMITTED_EVENT_NAMESPACE, workflow_id),
            event="$ai_evaluation",
            distinct_id=str(event_data["distinct_id"]),
            properties=properties,
            timestamp=timezone.now(),
        )
        events_capture(team=Team.objects.only("id", "ingested_event").get(pk=evaluation.team_id), events=[emitted])
        run.status = RunStatus.COMPLETED
        for field in ("verdict", "applicable", "reasoning", "model", "input_tokens", "output_tokens"):
            setattr(run, field, judged[field])
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
