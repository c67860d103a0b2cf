"""Reads for evaluations and their runs."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from django.db.models import QuerySet

from evaluations.models import Evaluation, LLMProviderKey, ProviderKeyState
from events.selectors import StoredEvent, events_by_uuid
from posthog_clone.db import PlainRows


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
