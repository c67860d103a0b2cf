"""Backfills: an evaluation run over past `$ai_generation` events — estimated, started, walked a page at a time by
its workflow, cancelled.

The walk reads the range newest first through the events store (so it works on PostgreSQL and ClickHouse), the
conditions' filters narrowing it in the database; which events are judged is then decided exactly as online
evaluation decides it (`evaluations.online.triggered`: the same filters and the same sampling bucket), so a 10%
evaluation backfills the 10% it would have judged live. Each event to judge becomes a pending run under the id an
online run would have (a collision, or an event that already has this evaluation's `$ai_evaluation`, is skipped);
the dispatcher starts them. A page's runs, counters and cursor are written in one transaction: a worker killed
mid-page repeats that page, and its runs' ids make the repeat a no-op.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from temporalio.common import WorkflowIDReusePolicy

from environments.models import Team, User
from evaluations import judge, selectors
from evaluations.contracts import (
    BACKFILL_WORKFLOW,
    BackfillInputs,
    BackfillTick,
    backfill_rerun_workflow_id,
    backfill_workflow_id,
    online_workflow_id,
)
from evaluations.models import (
    BackfillStatus,
    Evaluation,
    EvaluationBackfill,
    EvaluationRun,
    EvaluationType,
    OnlineRunIntake,
    RunStatus,
    RunTrigger,
)
from evaluations.online import OnlineEvaluation, online_evaluation, triggered
from events.records import Cursor, EventInput, EventRow
from posthog_clone.errors import DomainError, NotFound
from posthog_clone.process_roles import WEB_APPLICATION_NAME
from posthog_clone.temporal.client import StartOutcome, WorkflowStart, start_workflows
from query_languages import HogQLError, PropertyFilterError, PropertyGroup, parse_property_filters, pattern_problem

logger = structlog.get_logger(__name__)

UNIT = "generation"
TARGET_EVENT = "$ai_generation"
# What one judged generation is estimated to cost besides the prompt and the event's text: the output type's
# instructions are in the prompt already; this is the judge's answer (reasoning and verdict).
ANSWER_TOKENS = 150
CHARACTERS_PER_TOKEN = 4

ENABLE_FIRST = "Enable the evaluation before backfilling it."
START_BEFORE_END = "The start of the range must be before the end."
ALREADY_RUNNING = "This evaluation already has a running backfill."
ADD_CONDITION = "Add at least one condition set to this backfill."
CONDITION_FAILED = "A condition could not be applied. Check the filters and try again."
NOTHING_TO_JUDGE = "No generations in this range match these conditions. Try a wider range."
START_FAILED = "Couldn't start the backfill. Try again."


def _invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> DomainError:
    return DomainError(detail, code=code, attr=attr)


# --- what a backfill would judge --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillPlan:
    """A request's range, clamped, and its conditions: frozen (stored as given) and parsed (matched as online)."""

    window_start: datetime
    window_end: datetime
    conditions: list[dict[str, Any]]
    matcher: OnlineEvaluation
    prefilter: PropertyGroup  # the filters of every condition ORed: what the database narrows the range by


@dataclass(frozen=True)
class Estimate:
    total_units: int
    already_evaluated_units: int
    estimated_tokens: int | None
    over_limit: bool  # more than BACKFILL_MAX_EVENTS match: the counts stop there


def backfill_plan(
    *, evaluation: Evaluation, window_start: datetime, window_end: datetime, conditions: list[Any] | None
) -> BackfillPlan:
    """Check a request in PostHog's order (its messages), clamping the range to now and BACKFILL_MAX_DAYS."""
    if not evaluation.enabled:
        raise _invalid(ENABLE_FIRST, code="evaluation_disabled")
    if window_start >= window_end:
        raise _invalid(START_BEFORE_END, code="invalid_range")
    now = timezone.now()
    days = settings.BACKFILL_MAX_DAYS
    start, end = max(window_start, now - timedelta(days=days)), min(window_end, now)
    if start >= end:
        raise _invalid(f"The range must end in the past and start within the last {days} days.", code="invalid_range")
    if EvaluationBackfill.objects.filter(evaluation=evaluation, status=BackfillStatus.RUNNING).exists():
        raise _invalid(ALREADY_RUNNING, code="backfill_running")
    frozen, prefilter = parsed_conditions(evaluation.conditions if conditions is None else conditions)
    if not frozen:
        raise _invalid(ADD_CONDITION, attr="conditions", code="no_conditions")
    matcher = online_evaluation(evaluation.id, frozen)
    if len(matcher.conditions) != len(frozen):
        raise _invalid(CONDITION_FAILED, attr="conditions", code="invalid_conditions")
    return BackfillPlan(start, end, frozen, matcher, prefilter)


def parsed_conditions(raw: Any) -> tuple[list[dict[str, Any]], PropertyGroup]:
    """Condition sets in PostHog's frozen shape, and their filters ORed; a 400 when one cannot be applied."""
    frozen = _frozen_conditions(raw)
    try:
        return frozen, conditions_filter(frozen)
    except (PropertyFilterError, HogQLError):
        raise _invalid(CONDITION_FAILED, attr="conditions", code="invalid_conditions") from None


def _frozen_conditions(raw: Any) -> list[dict[str, Any]]:
    """`[{properties, rollout_percentage}]`, PostHog's frozen shape (a condition's other keys are dropped)."""
    if not isinstance(raw, list):
        raise _invalid(CONDITION_FAILED, attr="conditions", code="invalid_conditions")
    frozen = []
    for condition in raw:
        if not isinstance(condition, dict):
            raise _invalid(CONDITION_FAILED, attr="conditions", code="invalid_conditions")
        properties = condition.get("properties") or []
        rollout = condition.get("rollout_percentage", 100)
        if not isinstance(properties, list) or isinstance(rollout, bool) or not isinstance(rollout, int | float):
            raise _invalid(CONDITION_FAILED, attr="conditions", code="invalid_conditions")
        if not 0 <= rollout <= 100:
            raise _invalid(CONDITION_FAILED, attr="conditions", code="invalid_conditions")
        frozen.append({"properties": properties, "rollout_percentage": rollout})
    return frozen


def _judged(plan: BackfillPlan, rows: list[EventRow]) -> list[EventRow]:
    """The rows online evaluation would have judged (filters and sampling, exactly as live)."""
    return [row for row in rows if triggered([plan.matcher], _as_input(row))]


def _as_input(row: EventRow) -> EventInput:
    return EventInput(uuid=row.uuid, event=row.event, distinct_id=row.distinct_id, properties=row.properties,
                      timestamp=row.timestamp, elements_chain=row.elements_chain)  # fmt: skip


def backfill_estimate(*, team: Team, evaluation: Evaluation, plan: BackfillPlan, rerun_existing: bool) -> Estimate:
    """How many generations the backfill would judge (at most BACKFILL_MAX_EVENTS + 1 are counted), how many of them
    already have a verdict of this evaluation, and for an LLM judge roughly how many tokens judging them costs."""
    limit = settings.BACKFILL_MAX_EVENTS
    total = evaluated = tokens = 0
    snapshot = selectors.evaluation_snapshot(evaluation)
    cursor: Cursor | None = None
    while total <= limit:
        rows, more = selectors.backfill_page(team=team, plan_start=plan.window_start, plan_end=plan.window_end,
                                             prefilter=plan.prefilter, before=cursor,
                                             limit=settings.BACKFILL_PAGE_SIZE)  # fmt: skip
        judged = _judged(plan, rows)
        total += len(judged)
        done = selectors.evaluated_targets(team=team, evaluation_id=evaluation.id, targets=judged)
        evaluated += len(done)
        if evaluation.evaluation_type == EvaluationType.LLM_JUDGE:
            for row in judged:
                if rerun_existing or row.uuid not in done:
                    tokens += _judge_tokens(snapshot, team_id=team.id, row=row)
        if not more:
            break
        cursor = Cursor(rows[-1].timestamp, rows[-1].uuid)
    tokens_shown = tokens if evaluation.evaluation_type == EvaluationType.LLM_JUDGE else None
    return Estimate(min(total, limit), evaluated, tokens_shown, over_limit=total > limit)


def _judge_tokens(snapshot: Any, *, team_id: int, row: EventRow) -> int:
    event_data = {"uuid": str(row.uuid), "event": row.event, "properties": row.properties, "team_id": team_id}
    try:
        request = judge.judge_request(snapshot, event_data)
    except judge.JudgeConfigurationError:
        return 0
    return (len(request.system) + len(request.user)) // CHARACTERS_PER_TOKEN + ANSWER_TOKENS


# --- starting, cancelling -------------------------------------------------------------------------------------


def backfill_create(
    *, team: Team, user: User | None, evaluation: Evaluation, plan: BackfillPlan, rerun_existing: bool
) -> EvaluationBackfill:
    """Record the backfill and start its workflow. Refused when nothing in the range would be judged, or more than
    BACKFILL_MAX_EVENTS would."""
    estimate = backfill_estimate(team=team, evaluation=evaluation, plan=plan, rerun_existing=rerun_existing)
    if estimate.total_units == 0:
        raise _invalid(NOTHING_TO_JUDGE, code="nothing_to_judge")
    if estimate.over_limit:
        raise _invalid(
            f"This range holds more than {settings.BACKFILL_MAX_EVENTS} generations to judge. Try a narrower range "
            "or stricter conditions (the server's limit is BACKFILL_MAX_EVENTS).",
            code="backfill_too_large",
        )
    try:
        with transaction.atomic():
            backfill = EvaluationBackfill.objects.create(
                team=team,
                evaluation=evaluation,
                window_start=plan.window_start,
                window_end=plan.window_end,
                conditions=plan.conditions,
                rerun_existing=rerun_existing,
                total_count=estimate.total_units,
                created_by=user,
            )
    except IntegrityError:  # another create won the race for the one running backfill
        raise _invalid(ALREADY_RUNNING, code="backfill_running") from None
    [result] = start_workflows(
        [_walk_start(str(backfill.id), team.id, reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)]
    )
    if result.outcome in (StartOutcome.REJECTED, StartOutcome.UNAVAILABLE):
        # PostHog's: nothing is left running, and the request fails so it can be tried again.
        backfill.delete()
        logger.warning("evaluation_backfill_start_failed", backfill_id=str(backfill.id), error=result.message)
        raise DomainError(START_FAILED, code="backfill_start_failed", kind="unavailable")
    logger.info("evaluation_backfill_started", backfill_id=str(backfill.id), total=estimate.total_units)
    return backfill


def _walk_start(backfill_id: str, team_id: int, *, reuse: WorkflowIDReusePolicy) -> WorkflowStart:
    return WorkflowStart(BACKFILL_WORKFLOW, BackfillInputs(backfill_id, team_id), id=backfill_workflow_id(backfill_id),
                         id_reuse_policy=reuse)  # fmt: skip


def backfills_resume() -> int:
    """Start the walk again for every running backfill whose workflow is gone (Temporal's history lost, or the
    workflow terminated): the walk's state is in its row, so it goes on from its cursor. Returns how many were
    restarted; a walk still running is left alone (its id is taken)."""
    running = list(EvaluationBackfill.objects.filter(status=BackfillStatus.RUNNING).values_list("id", "team_id"))
    results = start_workflows(
        [_walk_start(str(backfill_id), team_id, reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
         for backfill_id, team_id in running]
    )  # fmt: skip
    restarted = [str(backfill_id) for (backfill_id, _), result in zip(running, results, strict=True)
                 if result.outcome is StartOutcome.STARTED]  # fmt: skip
    if restarted:
        logger.warning("evaluation_backfills_resumed", backfill_ids=restarted)
    return len(restarted)


def backfill_cancel(*, backfill: EvaluationBackfill) -> EvaluationBackfill:
    """Stop dispatching (the workflow ends at its next page; runs already started finish). Idempotent: a finished
    backfill keeps its status and first `finished_at`."""
    EvaluationBackfill.objects.filter(pk=backfill.pk, status=BackfillStatus.RUNNING).update(
        status=BackfillStatus.CANCELLED, finished_at=timezone.now()
    )
    backfill.refresh_from_db()
    return backfill


def backfills_cancel_for_evaluation(*, evaluation_id: uuid.UUID) -> int:
    """An evaluation disabled or deleted: its running backfill stops."""
    return EvaluationBackfill.objects.filter(evaluation_id=evaluation_id, status=BackfillStatus.RUNNING).update(
        status=BackfillStatus.CANCELLED, finished_at=timezone.now()
    )


def evaluation_for_backfill(*, team: Team, evaluation_id: str) -> Evaluation:
    """The (not deleted) evaluation a backfill route is under: anything else is a 404."""
    try:
        wanted = uuid.UUID(evaluation_id)
    except ValueError:
        wanted = None
    evaluation = Evaluation.objects.filter(team=team, id=wanted, deleted=False).first() if wanted else None
    if evaluation is None:
        raise NotFound("Not found.")
    return evaluation


# --- the walk (the workflow's activity) -------------------------------------------------------------------------

INSERT_BACKFILL_RUNS = """
INSERT INTO evaluations_evaluationrun (id, team_id, evaluation_id, backfill_id, target_event_id, event, timestamp,
    distinct_id, trigger, status, reasoning, model, error_code, error_message, created_at)
SELECT x.id, %(team_id)s, %(evaluation_id)s, %(backfill_id)s, x.target, %(event)s, x.timestamp, x.distinct_id,
    'backfill', 'pending', '', '', '', '', now()
FROM unnest(%(ids)s::text[], %(targets)s::uuid[], %(timestamps)s::timestamptz[], %(distinct_ids)s::text[])
     AS x(id, target, timestamp, distinct_id)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""


def backfill_tick(*, backfill_id: str, team_id: int) -> BackfillTick:
    """One step of the walk: read the next page of the range, newest first, and record a pending run for each event
    to judge, within the backfill's and the project's room for runs in flight (so a backfill never crowds out online
    evaluation). Cancels the backfill when its evaluation was disabled or deleted; completes it when the range is
    read to its start."""
    with transaction.atomic():
        backfill = (
            EvaluationBackfill.objects.select_for_update().select_related("evaluation", "team")
            .filter(id=backfill_id, team_id=team_id).first()
        )  # fmt: skip
        if backfill is None or backfill.status != BackfillStatus.RUNNING:
            return BackfillTick(finished=True)
        evaluation = backfill.evaluation
        now = timezone.now()
        if evaluation.deleted or not evaluation.enabled:
            backfill.status, backfill.finished_at = BackfillStatus.CANCELLED, now
            backfill.save(update_fields=["status", "finished_at"])
            return BackfillTick(finished=True)
        room, serving = _room_in_flight(backfill)
        if room <= 0:
            return BackfillTick(finished=False, waited=True)
        conditions = backfill.conditions
        matcher, prefilter = online_evaluation(evaluation.id, conditions), conditions_filter(conditions)
        plan = BackfillPlan(backfill.window_start, backfill.window_end, conditions, matcher, prefilter)
        before = Cursor(backfill.cursor_timestamp, backfill.cursor_uuid) if backfill.cursor_timestamp else None
        rows, more = selectors.backfill_page(team=backfill.team, plan_start=plan.window_start,
                                             plan_end=plan.window_end, prefilter=plan.prefilter, before=before,
                                             limit=_page_size(room, conditions))  # fmt: skip
        # Read only as far as there is room: the cursor stops at the last event taken.
        judged: list[EventRow] = []
        read = rows
        for index, row in enumerate(rows):
            if triggered([plan.matcher], _as_input(row)):
                judged.append(row)
                if len(judged) == room:
                    read = rows[: index + 1]
                    more = more or index + 1 < len(rows)
                    break
        done = set()
        if not backfill.rerun_existing:
            done = selectors.evaluated_targets(team=backfill.team, evaluation_id=evaluation.id, targets=judged)
        to_run = [row for row in judged if row.uuid not in done]
        created = _record_runs(backfill, to_run)
        backfill.dispatched_count += created
        backfill.skipped_count += len(judged) - created
        if read:
            backfill.cursor_timestamp, backfill.cursor_uuid = read[-1].timestamp, read[-1].uuid
        if not more:
            backfill.status, backfill.finished_at = BackfillStatus.COMPLETED, now
            # Events that arrived in the range since it was estimated count too: the total is what was walked.
            backfill.total_count = backfill.dispatched_count + backfill.skipped_count
            backfill.remaining_count = 0
        backfill.save()
    logger.info("evaluation_backfill_page", backfill_id=backfill_id, read=len(read), dispatched=created,
                skipped=len(judged) - created, finished=not more)  # fmt: skip
    rest = settings.BACKFILL_REST_WHILE_SERVING_SECONDS if serving else 0.0
    return BackfillTick(finished=not more, dispatched=created, skipped=len(judged) - created, rest_seconds=rest)


def _page_size(room: int, conditions: list[dict[str, Any]]) -> int:
    """Events to read for `room` runs: the filters narrow the page in the database, so about `room` events, more
    when sampling keeps only a share of them (reading a full page to take a few is most of a step's cost)."""
    share = max(float(condition["rollout_percentage"]) for condition in conditions) / 100
    return max(1, min(settings.BACKFILL_PAGE_SIZE, math.ceil(room / max(share, 0.01)) + 1))


def conditions_filter(conditions: list[dict[str, Any]]) -> PropertyGroup:
    """The filters of every condition set ORed (sampling aside): what narrows a read of events in the database."""
    groups = [{"type": "AND", "values": condition["properties"]} for condition in conditions]
    return parse_property_filters({"type": "OR", "values": groups}, regex_check=pattern_problem)


def _room_in_flight(backfill: EvaluationBackfill) -> tuple[int, bool]:
    """How many more runs this backfill may have pending or running, and whether the HTTP server is answering
    requests: within its own bound and its project's, none while live runs (online and manual, any project) are at
    BACKFILL_PAUSE_AT_LIVE_RUNS, and at most BACKFILL_RUNS_IN_FLIGHT_WHILE_SERVING while the server answers requests
    — a backfill takes only the capacity live traffic leaves."""
    pause_at = settings.BACKFILL_PAUSE_AT_LIVE_RUNS
    if pause_at > 0:
        if OnlineRunIntake.objects.exists():
            return 0, False  # ingested batches whose runs the dispatcher has not recorded yet: live traffic waits
        live = (
            EvaluationRun.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING])
            .exclude(trigger=RunTrigger.BACKFILL)
            .values_list("id", flat=True)[:pause_at]
        )
        if len(live) >= pause_at:
            return 0, False
    counts = EvaluationRun.objects.filter(
        team_id=backfill.team_id, trigger=RunTrigger.BACKFILL, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
    ).aggregate(project=Count("id"), mine=Count("id", filter=Q(backfill_id=backfill.id)))
    serving = _serving_requests()
    in_flight = min(settings.BACKFILL_RUNS_IN_FLIGHT, settings.BACKFILL_RUNS_IN_FLIGHT_WHILE_SERVING) if serving \
        else settings.BACKFILL_RUNS_IN_FLIGHT  # fmt: skip
    room = min(in_flight - counts["mine"], settings.BACKFILL_RUNS_IN_FLIGHT_PER_PROJECT - counts["project"])
    return room, serving


def _serving_requests() -> bool:
    """Whether the HTTP server is answering a request now: one of its connections to this database is running a
    statement or holds a transaction open (PostgreSQL's view of every process, so it needs nothing shared)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction otherwise reads its first snapshot again
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid())",
            [WEB_APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def _record_runs(backfill: EvaluationBackfill, rows: list[EventRow]) -> int:
    """Pending runs for `rows` (the dispatcher starts them); a run id already taken (an online run's, or an earlier
    backfill's) is not recorded again. Returns how many were recorded."""
    if not rows:
        return 0
    evaluation_id = str(backfill.evaluation_id)
    ids = [
        backfill_rerun_workflow_id(evaluation_id, str(row.uuid), str(backfill.id))
        if backfill.rerun_existing
        else online_workflow_id(evaluation_id, str(row.uuid))
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_BACKFILL_RUNS,
            {
                "team_id": backfill.team_id,
                "evaluation_id": backfill.evaluation_id,
                "backfill_id": backfill.id,
                "event": TARGET_EVENT,
                "ids": ids,
                "targets": [row.uuid for row in rows],
                "timestamps": [row.timestamp for row in rows],
                "distinct_ids": [row.distinct_id for row in rows],
            },
        )
        return len(cursor.fetchall())
