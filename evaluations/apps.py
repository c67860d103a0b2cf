from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from events.hooks import CaptureTransaction
    from events.records import EventInput


def _schedule_online_runs(*, team_id: int, events: Sequence[EventInput], capture: CaptureTransaction) -> None:
    # Imported when a batch first holds a generation: the scheduling module (and the query languages it compiles
    # conditions with) is not loaded by every process start.
    from evaluations.scheduling import evaluation_runs_schedule_online

    evaluation_runs_schedule_online(team_id=team_id, events=events, capture=capture)


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "LLM evaluations"

    def ready(self) -> None:
        from evaluations.metrics import EvaluationRunsCollector
        from events.hooks import register_events_inserted_hook
        from posthog_clone.metrics import register_collector

        register_collector(EvaluationRunsCollector)
        register_events_inserted_hook(["$ai_generation"], _schedule_online_runs)
