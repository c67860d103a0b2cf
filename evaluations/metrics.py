"""What the evaluations app adds to `/metrics`."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from prometheus_client.core import GaugeMetricFamily


class EvaluationRunsCollector:
    """`evaluation_runs{trigger, status}`: how many runs are in each state, and `evaluation_online_intake_batches`:
    ingested batches whose runs the dispatcher has not recorded yet (a growing figure: no worker is dispatching),
    read from the database."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("evaluation_runs", "Evaluation runs by trigger and status.",
                                   labels=["trigger", "status"])  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("SELECT trigger, status, count(*) FROM evaluations_evaluationrun GROUP BY 1, 2")
            for trigger, status, count in cursor.fetchall():
                family.add_metric([trigger, status], count)
            cursor.execute("SELECT count(*) FROM evaluations_onlinerunintake")
            (intake,) = cursor.fetchone()
        yield family
        yield GaugeMetricFamily("evaluation_online_intake_batches",
                                "Ingested batches whose online runs are not recorded yet.", value=intake)  # fmt: skip
