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


def backfill_rerun_workflow_id(evaluation_id: str, event_uuid: str, backfill_id: str) -> str:
    """A backfill's run that judges an event again (`rerun_existing`): the online id would collide."""
    return f"{online_workflow_id(evaluation_id, event_uuid)}-backfill-{backfill_id}"


BACKFILL_WORKFLOW = "llma-evaluation-backfill"


def backfill_workflow_id(backfill_id: str) -> str:
    return f"{BACKFILL_WORKFLOW}-{backfill_id}"


@dataclass
class BackfillInputs:
    backfill_id: str
    team_id: int


@dataclass
class BackfillTick:
    """What one step of a backfill's walk did: `finished` (completed or cancelled: the workflow ends), else whether
    it `waited` for runs in flight to finish before reading more, and how long the walk rests before its next step
    (`rest_seconds`: while the HTTP server is answering requests)."""

    finished: bool
    waited: bool = False
    dispatched: int = 0
    skipped: int = 0
    rest_seconds: float = 0.0


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
    # The model configuration (no secrets: the judge activity reads the key's by id); "" / None: the server's.
    judge_provider: str = ""
    judge_model: str = ""
    provider_key_id: str | None = None


# What a verdict holds, by output type: boolean a bool, numeric a number, categorical a list of category keys.
# (Temporal reads a payload back into the first member that fits, so `bool` comes before `float`.)
VerdictValue = bool | float | list[str]


@dataclass(frozen=True)
class Verdict:
    """The judge's decision as its output type read it."""

    value: VerdictValue | None  # None exactly when the run is not applicable
    applicable: bool | None = None  # None when the evaluation does not allow "not applicable"

    @property
    def allows_na(self) -> bool:
        return self.applicable is not None


@dataclass(frozen=True)
class Skip:
    """A run with nothing to judge with or for, or whose answer its output type could not take: skipped, not
    failed."""

    reason: str
    message: str


@dataclass(frozen=True)
class JudgeResult:
    """What the judge step gives the workflow: the verdict, or why its output type skipped the answer, and what
    the call cost. (Temporal reads `outcome` back as the first of the two whose required fields it holds.)"""

    outcome: Verdict | Skip
    reasoning: str
    model: str
    provider: str
    input_tokens: int | None
    output_tokens: int | None
    # Whose key judged: `byok` (the project's provider key, `key_id`) or `posthog` (the server's own).
    key_type: str = "posthog"
    key_id: str | None = None


@dataclass(frozen=True)
class RunResult:
    """How a run ended, as the steps pass it on; `workflow_result` is what the workflow returns for it."""

    evaluation_id: str
    verdict: VerdictValue | None = None
    reasoning: str = ""
    skip: Skip | None = None

    def workflow_result(self) -> dict[str, Any]:
        """PostHog's result shape, which a scheduler that started the workflow reads."""
        if self.skip is not None:
            return {"verdict": None, "skipped": True, "skip_reason": self.skip.reason, "message": self.skip.message,
                    "evaluation_id": self.evaluation_id}  # fmt: skip
        return {"verdict": self.verdict, "reasoning": self.reasoning, "evaluation_id": self.evaluation_id}


@dataclass
class RunStart:
    """What the first step gives the workflow: the evaluation, or the result of a run that already finished."""

    evaluation: EvaluationSnapshot
    result: RunResult | None = None


# Failures that end a run as `skipped` rather than `failed`: there was nothing to judge with or for.
SKIP_CODES = frozenset({"evaluation_deleted", "llm_judge_not_configured", "evaluation_error"})
KEY_TYPE_BYOK = "byok"
KEY_TYPE_POSTHOG = "posthog"
