"""How the pages show numbers: pass rates, a 7-day trend as SVG points, a run's result, a breakdown's totals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluations.models import EvaluationRun, RunStatus

SPARK_WIDTH, SPARK_HEIGHT = 84, 20


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def sparkline_points(values: Sequence[float | int | None]) -> str:
    """A polyline's `points` for a small trend line drawn by the server (no JavaScript): days without a value sit on
    the baseline, and the highest value touches the top."""
    if not values:
        return ""
    numbers = [float(value or 0) for value in values]
    top = max(numbers) or 1.0
    step = SPARK_WIDTH / max(len(numbers) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{SPARK_HEIGHT - 1 - (value / top) * (SPARK_HEIGHT - 2):.1f}"
        for index, value in enumerate(numbers)
    )


def run_result(run: EvaluationRun) -> str:
    """A run's verdict as a reader says it: Pass / Fail / N/A for booleans, the score or the keys otherwise."""
    if run.status != RunStatus.COMPLETED:
        return run.get_status_display()
    if run.applicable is False:
        return "N/A"
    value = run.verdict if run.result is None else run.result
    if isinstance(value, bool) or value is None:
        return {True: "Pass", False: "Fail", None: "—"}[value]
    if isinstance(value, list):
        return ", ".join(str(key) for key in value)
    return str(value)


@dataclass(frozen=True)
class BreakdownRow:
    value: str
    runs: int
    passed: int
    failed: int
    na: int
    errored: int

    @property
    def pass_rate(self) -> str:
        judged = self.passed + self.failed
        return percent(self.passed / judged if judged else None)


def breakdown_rows(series: Iterable[Mapping[str, Any]]) -> list[BreakdownRow]:
    """The per-interval items of a `stats/` answer broken down by a property, summed per value, most runs first."""
    totals: dict[str, dict[str, int]] = {}
    for item in series:
        value = item.get("breakdown_value")
        counts = totals.setdefault("(none)" if value in (None, "") else str(value), dict.fromkeys(
            ("runs", "passed", "failed", "na", "errored"), 0))  # fmt: skip
        for key in counts:
            counts[key] += int(item.get(key) or 0)
    rows = [BreakdownRow(value=value, **counts) for value, counts in totals.items() if counts["runs"]]
    return sorted(rows, key=lambda row: (-row.runs, row.value))
