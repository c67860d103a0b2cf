"""Online evaluation runs: scheduled as events are ingested, then dispatched to Temporal by the worker.

The runs an ingested batch triggers are recorded in the transaction that stores its events, as one intake row
(`OnlineRunIntake`); the worker's dispatcher turns intake rows into pending runs and starts their workflows (runs wait,
`dispatched_at` NULL, however long Temporal is away). Their workflow records the rest (`evaluations.runs`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from evaluations import selectors
from evaluations.contracts import RUN_EVALUATION_WORKFLOW, RunEvaluationInputs, online_workflow_id
from evaluations.models import Evaluation, EvaluationRun, EvaluationStatus, OnlineRunIntake, RunStatus
from evaluations.online import online_evaluation, triggered
from evaluations.runs import needs_server_judge
from events.hooks import CaptureTransaction
from events.records import EventInput
from events.selectors import events_by_uuid
from posthog_clone.llm import JUDGE_NOT_CONFIGURED, judge_config
from posthog_clone.temporal.client import StartOutcome, WorkflowStart, start_workflows

logger = structlog.get_logger(__name__)

DISPATCH_BATCH = 100
# Intake rows (ingested batches, up to a few thousand runs each) recorded per turn of the dispatch loop.
DISPATCH_INTAKE_BATCH = 10
EVALUATION_STOPPED = "The evaluation stopped on an error (see its status_reason); fix it and re-enable it."

INSERT_ONLINE_INTAKE = "INSERT INTO evaluations_onlinerunintake (team_id, created_at, payload) VALUES (%b, now(), %b)"

# An evaluation deleted for good since the batch was ingested (its project's deletion) takes its runs with it.
INSERT_ONLINE_RUNS = """
INSERT INTO evaluations_evaluationrun (id, team_id, evaluation_id, target_event_id, event, timestamp, distinct_id,
    trigger, status, reasoning, model, error_code, error_message, created_at)
SELECT x.id, %(team_id)s, x.evaluation_id, x.target, x.event, x.timestamp, x.distinct_id,
    'online', 'pending', '', '', '', '', %(created_at)s
FROM unnest(%(ids)s::text[], %(evaluations)s::uuid[], %(targets)s::uuid[], %(events)s::text[],
            %(timestamps)s::timestamptz[], %(distinct_ids)s::text[])
     AS x(id, evaluation_id, target, event, timestamp, distinct_id)
WHERE EXISTS (SELECT 1 FROM evaluations_evaluation e WHERE e.id = x.evaluation_id)
ON CONFLICT (id) DO NOTHING
"""


def evaluation_runs_schedule_online(*, team_id: int, events: Sequence[EventInput], capture: CaptureTransaction) -> None:
    """Record the runs of every (new event, enabled evaluation it triggers), in the ingesting transaction (the
    `events.hooks` hook this app registers for `$ai_generation`): one query loads the project's evaluations for the
    whole batch, one row holds its runs."""
    with capture.cursor() as cursor:
        cursor.execute(
            "SELECT id, conditions FROM evaluations_evaluation WHERE team_id = %b AND enabled AND status = 'active' "
            "AND NOT deleted "
            "AND conditions <> '[]'::jsonb",
            (team_id,),
        )
        # Django's connection reads jsonb as text.
        evaluations = [online_evaluation(id_, orjson.loads(conditions)) for id_, conditions in cursor.fetchall()]
        if not evaluations:
            return
        payload = intake_payload(evaluations=[evaluation.id for evaluation in evaluations], events=events,
                                 triggered_by=[triggered(evaluations, event) for event in events])  # fmt: skip
        if payload is not None:
            cursor.execute(INSERT_ONLINE_INTAKE, (team_id, payload))


def intake_payload(
    *, evaluations: Sequence[uuid.UUID], events: Sequence[EventInput], triggered_by: Sequence[Sequence[uuid.UUID]]
) -> bytes | None:
    """A batch's runs as one JSON document: `evaluations` (ids), `events` (`[uuid, event, timestamp, distinct_id]`,
    only those that trigger something) and `runs` (`[event index, evaluation index]`); None when nothing triggers."""
    position = {evaluation_id: index for index, evaluation_id in enumerate(evaluations)}
    kept: list[tuple[uuid.UUID, str, datetime, str]] = []
    runs: list[tuple[int, int]] = []
    for event, found in zip(events, triggered_by, strict=True):
        if found:
            runs.extend((len(kept), position[evaluation_id]) for evaluation_id in found)
            kept.append((event.uuid, event.event, event.timestamp, event.distinct_id))
    if not runs:
        return None
    return orjson.dumps({"evaluations": evaluations, "events": kept, "runs": runs})


@dataclass(frozen=True)
class IntakeResult:
    batches: int
    runs: int


def evaluation_runs_take_intake(*, limit: int = DISPATCH_INTAKE_BATCH) -> IntakeResult:
    """Turn up to `limit` intake rows, oldest first, into pending online runs (created when their events were
    ingested), and delete them, in one transaction. Rows are claimed with SKIP LOCKED and runs keep their online
    ids (`ON CONFLICT DO NOTHING`), so several workers, or a batch captured twice, record each run once. A row that
    cannot be recorded is logged and kept (for an operator to look at), and the others are recorded all the same."""
    with transaction.atomic():
        rows = list(
            OnlineRunIntake.objects.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "team_id", "created_at", "payload")[:limit]
        )
        if not rows:
            return IntakeResult(batches=0, runs=0)
        recorded, taken = 0, []
        for intake_id, team_id, created_at, payload in rows:
            try:
                with transaction.atomic():  # a savepoint: a row that fails takes only its own runs back
                    recorded += _record_intake(team_id=team_id, created_at=created_at, payload=bytes(payload))
            except (DatabaseError, ValueError, KeyError, IndexError, TypeError) as error:
                logger.error("evaluation_intake_unrecordable", intake_id=intake_id, team_id=team_id, error=str(error))
                continue
            taken.append(intake_id)
        OnlineRunIntake.objects.filter(id__in=taken).delete()
    return IntakeResult(batches=len(taken), runs=recorded)


def _record_intake(*, team_id: int, created_at: datetime, payload: bytes) -> int:
    """One intake row's runs as pending runs; how many were new."""
    document = orjson.loads(payload)
    evaluations, events = document["evaluations"], document["events"]
    runs = [(evaluations[evaluation], events[event]) for event, evaluation in document["runs"]]
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_ONLINE_RUNS,
            {
                "team_id": team_id,
                "created_at": created_at,
                "ids": [online_workflow_id(evaluation_id, event[0]) for evaluation_id, event in runs],
                "evaluations": [evaluation_id for evaluation_id, _ in runs],
                "targets": [event[0] for _, event in runs],
                "events": [event[1] for _, event in runs],
                "timestamps": [event[2] for _, event in runs],
                "distinct_ids": [event[3] for _, event in runs],
            },
        )
        return cursor.rowcount


@dataclass(frozen=True)
class DispatchResult:
    claimed: int
    started: int
    temporal_unavailable: bool
    # Intake rows taken first (`evaluation_runs_dispatch_online`), and the runs they recorded.
    intake: IntakeResult = IntakeResult(batches=0, runs=0)

    @property
    def more_waiting(self) -> bool:
        """A full batch of either kind suggests more are waiting."""
        return self.claimed >= DISPATCH_BATCH or self.intake.batches >= DISPATCH_INTAKE_BATCH


def evaluation_runs_dispatch_online() -> DispatchResult:
    """What the worker's dispatch loop does each turn: record the runs of the oldest ingested batches, then start the
    oldest pending runs."""
    intake = evaluation_runs_take_intake()
    return dataclasses.replace(evaluation_runs_dispatch(), intake=intake)


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
        evaluations = {
            evaluation_id: (evaluation_status, needs_server_judge(evaluation_type, provider_key_id))
            for evaluation_id, evaluation_status, evaluation_type, provider_key_id in Evaluation.objects.filter(
                id__in={run.evaluation_id for run in runs}
            ).values_list("id", "status", "evaluation_type", "provider_key_id")
        }
        server_judge = judge_config() is not None
        targets = _target_events(runs)
        startable, finished = [], []
        for run in runs:
            target = targets.get((run.team_id, run.target_event_id))
            evaluation_status, needs_judge = evaluations.get(run.evaluation_id, ("", False))
            if evaluation_status == EvaluationStatus.ERROR:
                # Recorded before the evaluation stopped on an error every run would meet: not started.
                _finish(run, now, RunStatus.SKIPPED, "evaluation_error", EVALUATION_STOPPED)
                finished.append(run)
            elif needs_judge and not server_judge:
                _finish(run, now, RunStatus.SKIPPED, "llm_judge_not_configured", JUDGE_NOT_CONFIGURED)
                finished.append(run)
            elif target is None:
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
