"""Evaluations, runs and `$ai_generation` events for tests, made through the real models and services."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from evaluations.contracts import manual_workflow_id
from evaluations.models import Evaluation, EvaluationBackfill, EvaluationRun, LLMProviderKey, RunTrigger
from evaluations.provider_keys import mask
from evaluations.scheduling import evaluation_runs_take_intake
from events.records import EventInput
from events.services import events_capture
from posthog_clone import encryption
from posthog_clone.ids import uuid7
from tests.support.tenants import Tenant

GENERATION_PROPERTIES: dict[str, Any] = {
    "$ai_model": "gpt-4o-mini",
    "$ai_trace_id": "trace-1",
    "$ai_input": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "text", "text": "What is 2 + 2?"}]},
    ],
    "$ai_output_choices": [{"role": "assistant", "content": "4"}],
}


def make_evaluation(tenant: Tenant, **fields: Any) -> Evaluation:
    values: dict[str, Any] = {
        "name": "Correctness",
        "evaluation_type": "llm_judge",
        "evaluation_config": {"prompt": "Is the answer correct?"},
        "output_type": "boolean",
        "output_config": {"allows_na": False},
        "enabled": True,
        "created_by": tenant.user,
    }
    values.update(fields)
    return Evaluation.objects.create(team=tenant.team, **values)


def store_generation(
    tenant: Tenant,
    *,
    event: str = "$ai_generation",
    distinct_id: str = "user-1",
    properties: dict[str, Any] | None = None,
    event_uuid: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> EventInput:
    stored = EventInput(
        uuid=event_uuid or uuid7(),
        event=event,
        distinct_id=distinct_id,
        properties=GENERATION_PROPERTIES if properties is None else properties,
        timestamp=timestamp or timezone.now(),
    )
    events_capture(team=tenant.team, events=[stored])
    return stored


def make_run(tenant: Tenant, evaluation: Evaluation | None = None, **fields: Any) -> EvaluationRun:
    evaluation = evaluation or make_evaluation(tenant)
    target = uuid7()
    values: dict[str, Any] = {
        "id": manual_workflow_id(str(evaluation.id), str(target), int(timezone.now().timestamp() * 1000)),
        "team": tenant.team,
        "evaluation": evaluation,
        "target_event_id": target,
        "event": "$ai_generation",
        "timestamp": timezone.now(),
        "distinct_id": "user-1",
        "trigger": RunTrigger.MANUAL,
        "created_at": timezone.now(),
    }
    values.update(fields)
    return EvaluationRun.objects.create(**values)


def recorded_runs() -> QuerySet[EvaluationRun]:
    """Every run, once those of the batches ingested so far are recorded (what the worker's dispatcher does first)."""
    evaluation_runs_take_intake(limit=1000)
    return EvaluationRun.objects.all()


def run_body(evaluation: Evaluation, stored: EventInput, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "evaluation_id": str(evaluation.id),
        "target_event_id": str(stored.uuid),
        "timestamp": stored.timestamp.isoformat(),
        "event": stored.event,
        "distinct_id": stored.distinct_id,
    }
    body.update(overrides)
    return body


def make_provider_key(tenant: Tenant, *, api_key: str = "sk-test-0123456789abcdef", **fields: Any) -> LLMProviderKey:
    """A stored key, as a create that passed its live check leaves it (no provider is called)."""
    values: dict[str, Any] = {
        "provider": "openai",
        "name": "Production key",
        "state": "ok",
        "encrypted_config": encryption.encrypt(json.dumps({"api_key": api_key})),
        "api_key_masked": mask(api_key),
        "created_by": tenant.user,
    }
    values.update(fields)
    return LLMProviderKey.objects.create(team=tenant.team, **values)


def evaluation_payload(**overrides: Any) -> dict[str, Any]:
    """A valid body for creating an evaluation (a boolean LLM judge), with `overrides` applied."""
    return {
        "name": "Accuracy",
        "evaluation_type": "llm_judge",
        "evaluation_config": {"prompt": "Is it accurate?"},
        "output_type": "boolean",
        **overrides,
    }


def make_backfill(tenant: Tenant, evaluation: Evaluation | None = None, **fields: Any) -> EvaluationBackfill:
    """A backfill row as a create leaves it (no workflow is started)."""
    now = timezone.now()
    values: dict[str, Any] = {
        "window_start": now - timedelta(days=1),
        "window_end": now,
        "conditions": [{"properties": [], "rollout_percentage": 100}],
        "total_count": 1,
        "created_by": tenant.user,
    }
    values.update(fields)
    return EvaluationBackfill.objects.create(team=tenant.team, evaluation=evaluation or make_evaluation(tenant),
                                             **values)  # fmt: skip
