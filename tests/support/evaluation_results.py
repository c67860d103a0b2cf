"""Evaluation results seeded through the code that records them in production: a backfilled run per result, completed
by `evaluation_run_complete`, which emits its `$ai_evaluation` event at the target's time (so results land on the
days they are seeded for) and records the verdict on the run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from environments.models import Team, User
from evaluations.contracts import JudgeResult, Skip, Verdict
from evaluations.models import Evaluation, EvaluationRun, RunStatus, RunTrigger
from evaluations.runs import evaluation_run_complete
from evaluations.selectors import evaluation_snapshot
from events.records import EventInput
from events.services import events_capture
from posthog_clone.ids import uuid7

CATEGORICAL_CONFIG = {
    "options": [{"key": "helpful", "label": "Helpful"}, {"key": "neutral", "label": "Neutral"},
                {"key": "harmful", "label": "Harmful"}],
    "selection_mode": "single",
    "passing_rule": {"categories": ["helpful"]},
}  # fmt: skip
NUMERIC_CONFIG = {"min": 0, "max": 10, "passing_rule": {"operator": "gte", "threshold": 7}}


@dataclass(frozen=True)
class Result:
    """One seeded verdict on a stored `$ai_generation`: `days_ago` (at noon UTC), the value (None: not applicable),
    the model (the generation's and the judge's)."""

    days_ago: int
    value: Any
    model: str = "gpt-4o-mini"
    reasoning: str = ""


# Per output type, what the pages' tests seed: several days, two models, a not-applicable answer.
RESULTS: dict[str, list[Result]] = {
    "boolean": [
        Result(1, True),
        Result(1, True),
        Result(1, False, "claude-sonnet-4", "The answer contradicts the source."),
        Result(2, True, "claude-sonnet-4"),
        Result(2, None),
        Result(4, False),
        Result(4, False, "claude-sonnet-4"),
        Result(4, True),
        Result(6, True, reasoning="Correct and cites the document."),
    ],
    "numeric": [
        Result(1, 9),
        Result(1, 6.5, "claude-sonnet-4"),
        Result(1, 8),
        Result(3, 4, "claude-sonnet-4"),
        Result(3, 10),
        Result(5, 7),
    ],
    "categorical": [
        Result(1, "helpful"),
        Result(1, "harmful", "claude-sonnet-4"),
        Result(2, "neutral"),
        Result(2, "helpful"),
        Result(2, "helpful", "claude-sonnet-4"),
        Result(5, "neutral"),
    ],
}
OUTPUT_CONFIGS = {"boolean": {"allows_na": True}, "numeric": NUMERIC_CONFIG, "categorical": CATEGORICAL_CONFIG}


def noon(days_ago: int) -> datetime:
    today = timezone.now().astimezone(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def seed_result(evaluation: Evaluation, result: Result, index: int) -> EvaluationRun:
    """A stored generation and a backfilled run of `evaluation` on it, completed with `result`."""
    target, when = uuid7(), noon(result.days_ago) + timedelta(minutes=index)
    generation = {"$ai_model": result.model, "$ai_trace_id": f"trace-{index}", "$ai_output_choices": [
        {"role": "assistant", "content": f"Answer {index}"}]}  # fmt: skip
    events_capture(team=Team.objects.get(pk=evaluation.team_id), events=[
        EventInput(uuid=target, event="$ai_generation", distinct_id="user-1", properties=generation, timestamp=when)])  # fmt: skip
    run = EvaluationRun.objects.create(
        id=f"seeded-{evaluation.id}-{target}", team_id=evaluation.team_id, evaluation=evaluation,
        target_event_id=target, event="$ai_generation", timestamp=when, distinct_id="user-1",
        trigger=RunTrigger.BACKFILL, status=RunStatus.RUNNING, result_type=evaluation.output_type, created_at=when,
    )  # fmt: skip
    applicable = None if evaluation.output_type != "boolean" else result.value is not None
    # As the judge's answer is read: a score is a float, a categorical answer a list of keys.
    value = result.value
    if evaluation.output_type == "categorical":
        value = [value]
    elif evaluation.output_type == "numeric" and value is not None:
        value = float(value)
    outcome: Verdict | Skip = Verdict(value=value, applicable=applicable)
    judged = JudgeResult(outcome=outcome, reasoning=result.reasoning or f"Seeded result {result.value!r}.",
                         model=result.model, provider="openai", input_tokens=100, output_tokens=20)  # fmt: skip
    event_data = {"uuid": str(target), "event": "$ai_generation", "distinct_id": "user-1", "timestamp": when,
                  "properties": generation}  # fmt: skip
    return evaluation_run_complete(workflow_id=run.id, evaluation=evaluation_snapshot(evaluation),
                                   event_data=event_data, judged=judged, start_time=when.isoformat())  # fmt: skip


def seed_evaluations(*, team: Team, user: User | None = None) -> dict[str, str]:
    """One active LLM-judge evaluation per output type with `RESULTS` recorded; their ids by output type."""
    ids = {}
    for output_type, results in RESULTS.items():
        evaluation = Evaluation.objects.create(
            team=team, name=f"{output_type.capitalize()} check", evaluation_type="llm_judge",
            evaluation_config={"prompt": "Judge the answer."}, output_type=output_type,
            output_config=OUTPUT_CONFIGS[output_type], enabled=True, status="active", created_by=user,
        )  # fmt: skip
        for index, result in enumerate(results):
            seed_result(evaluation, result, index)
        ids[output_type] = str(evaluation.id)
    return ids


def main(project_id: int) -> None:
    """For a server's database (run through `manage.py shell -c`): seed the project, print the ids as JSON."""
    team = Team.objects.get(id=project_id)
    print(json.dumps(seed_evaluations(team=team)))
