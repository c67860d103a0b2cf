"""Reads for evaluations and their runs."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from environments.models import Team
from evaluations.contracts import EvaluationSnapshot
from evaluations.models import Evaluation, LLMProviderKey, ProviderKeyState
from events.records import Cursor, EventRow
from events.selectors import StoredEvent, events_by_uuid, events_list
from posthog_clone.db import PlainRows
from query_languages import PropertyGroup, parse_property_filters, team_timezone


def evaluation_rows(
    queryset: QuerySet[Evaluation], *, columns: Sequence[str], json_columns: Collection[str]
) -> PlainRows:
    """An (already project-scoped and filtered) evaluations queryset as plain rows of `columns` (the creator's read
    through the join, `created_by__<field>`), those in `json_columns` parsed: what the presenter asks for
    (`serializers.EVALUATION_ROW_COLUMNS`). Slice it for a page, or read `.queryset` for one row."""
    return PlainRows(queryset, columns=columns, json_columns=json_columns)


def evaluation_for_run(*, team_id: int, evaluation_id: uuid.UUID | str) -> Evaluation | None:
    """The evaluation a run executes, deleted or not (the caller decides), only within the event's project."""
    return Evaluation.objects.filter(team_id=team_id, id=evaluation_id).first()


def evaluation_snapshot(evaluation: Evaluation) -> EvaluationSnapshot:
    """The evaluation as a run uses it (no secrets: the judge reads its key's by id)."""
    return EvaluationSnapshot(
        id=str(evaluation.id),
        name=evaluation.name,
        team_id=evaluation.team_id,
        evaluation_type=evaluation.evaluation_type,
        evaluation_config=evaluation.evaluation_config,
        output_type=evaluation.output_type,
        output_config=evaluation.output_config,
        judge_provider=evaluation.judge_provider,
        judge_model=evaluation.judge_model,
        provider_key_id=str(evaluation.provider_key_id) if evaluation.provider_key_id else None,
    )


def provider_key_for_team(*, team_id: int, key_id: uuid.UUID) -> LLMProviderKey | None:
    """This project's provider key with that id (another project's is None, as an unknown one)."""
    return LLMProviderKey.objects.filter(team_id=team_id, id=key_id).first()


def provider_key_dependants(*, key: LLMProviderKey) -> dict[str, list[dict[str, str]]]:
    """PostHog's `dependent_configs`: the evaluations judging with `key`, and the project's working keys of the same
    provider that could replace it. An evaluation holds its own model configuration, so the configuration's id is
    the evaluation's."""
    evaluations = Evaluation.objects.filter(provider_key=key, deleted=False).order_by("name", "id")
    alternatives = (
        LLMProviderKey.objects.filter(team_id=key.team_id, provider=key.provider, state=ProviderKeyState.OK)
        .exclude(pk=key.pk)
        .order_by("name", "id")
    )
    return {
        "evaluations": [{"id": str(evaluation_id), "name": name, "model_configuration_id": str(evaluation_id)}
                        for evaluation_id, name in evaluations.values_list("id", "name")],
        "alternative_keys": [{"id": str(key_id), "name": name, "provider": provider}
                             for key_id, name, provider in alternatives.values_list("id", "name", "provider")],
    }  # fmt: skip


def run_target_event(*, team_id: int, event_uuid: uuid.UUID) -> StoredEvent | None:
    """This project's event with that uuid, which a manual run targets (the service checks its name and distinct id)."""
    return events_by_uuid(team_id=team_id, uuids=[event_uuid]).get(event_uuid)


def event_data(*, team_id: int, event: StoredEvent) -> dict[str, Any]:
    """An event as the `run-evaluation` workflow receives it (PostHog's `event_data`)."""
    return {
        "uuid": str(event.uuid),
        "event": event.event,
        "properties": event.properties,
        "timestamp": event.timestamp.isoformat(),
        "team_id": team_id,
        "distinct_id": event.distinct_id,
        "elements_chain": event.elements_chain,
        "created_at": event.created_at.isoformat(),
        "person_id": str(event.person_uuid) if event.person_uuid else None,
    }


BACKFILL_TARGET_EVENT = "$ai_generation"
# An `$ai_evaluation` is emitted after its target (online) or at its target's time (backfilled): looking back this far
# before a page's oldest event allows for clocks that disagree.
EVALUATED_LOOKBACK = timedelta(days=1)
EVALUATED_PAGE = 10_000


def backfill_page(
    *,
    team: Team,
    plan_start: datetime,
    plan_end: datetime,
    prefilter: PropertyGroup,
    before: Cursor | None,
    limit: int,
) -> tuple[list[EventRow], bool]:
    """The next `limit` generations of a backfill's range `[plan_start, plan_end)`, newest first, past `before`,
    narrowed by the conditions' filters (the caller applies sampling); and whether more follow."""
    return events_list(
        team_id=team.id,
        tz=team_timezone(team.timezone),
        now=plan_end,
        event=BACKFILL_TARGET_EVENT,
        before=before or Cursor(plan_end),
        after=Cursor(plan_start - timedelta(microseconds=1)),
        properties=prefilter,
        limit=limit,
    )


def evaluated_targets(*, team: Team, evaluation_id: uuid.UUID, targets: Sequence[EventRow]) -> set[uuid.UUID]:
    """Which of `targets` already have an `$ai_evaluation` of this evaluation (read from the events store)."""
    if not targets:
        return set()
    wanted = {str(row.uuid) for row in targets}
    filters = parse_property_filters([
        {"key": "$ai_evaluation_id", "value": str(evaluation_id), "operator": "exact", "type": "event"},
        {"key": "$ai_target_event_id", "value": sorted(wanted), "operator": "exact", "type": "event"},
    ])  # fmt: skip
    found: set[uuid.UUID] = set()
    before: Cursor | None = None
    oldest = min(row.timestamp for row in targets) - EVALUATED_LOOKBACK
    while True:
        rows, more = events_list(team_id=team.id, tz=team_timezone(team.timezone), now=timezone.now(),
                                 event="$ai_evaluation", before=before, after=Cursor(oldest), properties=filters,
                                 limit=EVALUATED_PAGE)  # fmt: skip
        found.update(uuid.UUID(row.properties["$ai_target_event_id"]) for row in rows
                     if row.properties.get("$ai_target_event_id") in wanted)  # fmt: skip
        if not more:
            return found
        before = Cursor(rows[-1].timestamp, rows[-1].uuid)


def recent_generations(*, team: Team, prefilter: PropertyGroup, since: datetime, limit: int) -> list[EventRow]:
    """The newest `limit` generations since `since` matching `prefilter` (a code evaluator's dry run)."""
    tz = team_timezone(team.timezone)
    rows, _ = events_list(team_id=team.id, tz=tz, now=timezone.now(), event=BACKFILL_TARGET_EVENT,
                          after=Cursor(since), properties=prefilter, limit=limit)  # fmt: skip
    return rows
