"""Reads for evaluation summaries: an evaluation's newest results, from its `$ai_evaluation` events in the events
store (PostgreSQL or ClickHouse), narrowed by verdict and generation in the store's own query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.utils import timezone

from environments.models import Team
from events.selectors import events_list
from query_languages import parse_property_filters, team_timezone

SummaryFilter = Literal["all", "pass", "fail", "na"]
Verdict = Literal["pass", "fail", "na"]
RESULT_EVENT = "$ai_evaluation"
MAX_RESULTS = 250
MAX_REASONING_CHARS = 500


@dataclass(frozen=True)
class ResultRow:
    """One result as the summary reads it: its generation, verdict (None: a score with no passing rule) and why."""

    generation_id: str
    verdict: Verdict | None
    reasoning: str


def _leaf(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "event"}


def _applicable(applicable: bool) -> dict[str, Any]:
    # Runs of evaluations without N/A carry no `$ai_evaluation_applicable`: only an explicit false is N/A.
    return _leaf("$ai_evaluation_applicable", False, "exact" if not applicable else "is_not")


# Boolean runs say `$ai_evaluation_result`; numeric and categorical ones `$ai_evaluation_passed` (when they have
# a passing rule).
VERDICT_FILTERS: dict[str, list[dict[str, Any]]] = {
    "pass": [{"type": "OR", "values": [_leaf("$ai_evaluation_result", True), _leaf("$ai_evaluation_passed", True)]},
             {"type": "AND", "values": [_applicable(True)]}],
    "fail": [{"type": "OR", "values": [_leaf("$ai_evaluation_result", False), _leaf("$ai_evaluation_passed", False)]},
             {"type": "AND", "values": [_applicable(True)]}],
    "na": [{"type": "AND", "values": [_applicable(False)]}],
    "all": [],
}  # fmt: skip


def verdict_of(properties: dict[str, Any]) -> Verdict | None:
    if properties.get("$ai_evaluation_applicable") is False:
        return "na"
    result = properties.get("$ai_evaluation_result", properties.get("$ai_evaluation_passed"))
    if isinstance(result, bool):
        return "pass" if result else "fail"
    return None


def evaluation_results(
    *,
    team: Team,
    evaluation_id: uuid.UUID,
    filter: SummaryFilter,
    generation_ids: Sequence[uuid.UUID] | None = None,
    limit: int = MAX_RESULTS,
) -> list[ResultRow]:
    """The newest `limit` results of the evaluation matching `filter` (and `generation_ids`, when given). Skipped
    runs are not results: a skipped boolean run still says false (PostHog's), so they are left out by their flag."""
    base: list[dict[str, Any]] = [
        _leaf("$ai_evaluation_id", str(evaluation_id)),
        _leaf("$ai_evaluation_skipped", True, "is_not"),
    ]
    if generation_ids:
        base.append(_leaf("$ai_target_event_id", sorted({str(generation) for generation in generation_ids})))
    filters = parse_property_filters([{"type": "AND", "values": base}, *VERDICT_FILTERS[filter]])
    rows, _ = events_list(team_id=team.id, tz=team_timezone(team.timezone), now=timezone.now(), event=RESULT_EVENT,
                          properties=filters, limit=limit)  # fmt: skip
    return [
        ResultRow(
            generation_id=str(row.properties.get("$ai_target_event_id") or row.uuid),
            verdict=verdict_of(row.properties),
            reasoning=str(row.properties.get("$ai_evaluation_reasoning") or "")[:MAX_REASONING_CHARS],
        )
        for row in rows
    ]
