"""The `run-evaluation` workflow's wire contract, shared by whoever starts it (the run endpoint, the dispatcher of
online runs, or a PostHog-style scheduler) and by the worker. No Django here: the workflow sandbox imports it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RUN_EVALUATION_WORKFLOW = "run-evaluation"
MANUAL_MARKER = "-manual-"
ONLINE_SUFFIX = "-ingestion"


@dataclass
class RunEvaluationInputs:
    """PostHog's input: the evaluation and the target event as stored (`uuid`, `event`, `properties` as a dict
    or a JSON string, `timestamp`, `team_id`, `distinct_id`, `elements_chain`, `created_at`, `person_id`)."""

    evaluation_id: str
    event_data: dict[str, Any]


def manual_workflow_id(evaluation_id: str, event_uuid: str, epoch_ms: int) -> str:
    return f"{evaluation_id}-{event_uuid}{MANUAL_MARKER}{epoch_ms}"


def online_workflow_id(evaluation_id: str, event_uuid: str) -> str:
    return f"{evaluation_id}-{event_uuid}{ONLINE_SUFFIX}"


def is_manual(workflow_id: str) -> bool:
    return MANUAL_MARKER in workflow_id


def event_properties(event_data: dict[str, Any]) -> dict[str, Any]:
    """The target event's properties, which schedulers may send as a JSON string."""
    properties = event_data.get("properties")
    if isinstance(properties, str):
        properties = json.loads(properties)
    return properties if isinstance(properties, dict) else {}


@dataclass
class EvaluationSnapshot:
    """The evaluation as the workflow fetched it; later steps use this copy, not the (changing) row."""

    id: str
    name: str
    team_id: int
    evaluation_type: str
    evaluation_config: dict[str, Any]
    output_type: str
    output_config: dict[str, Any]


@dataclass
class RunStart:
    """What the first step gives the workflow: the evaluation, or the result of a run that already finished."""

    evaluation: EvaluationSnapshot
    result: dict[str, Any] | None = None


# Failures that end a run as `skipped` rather than `failed`: there was nothing to judge with or for.
SKIP_CODES = frozenset({"evaluation_deleted", "llm_judge_not_configured"})


def skipped_result(*, evaluation_id: str, code: str, message: str) -> dict[str, Any]:
    """What the workflow returns for a run that had nothing to judge with or for."""
    return {"verdict": None, "skipped": True, "skip_reason": code, "message": message, "evaluation_id": evaluation_id}
