"""`/metrics` of a multi-process server (`PROMETHEUS_MULTIPROC_DIR`): every process's counters summed, and process
metrics (CPU, memory, file descriptors, start time) for each live process, labelled with its `pid` and `role`.

Each server process registers itself at start (`register_process`) in a `liveall` gauge whose value is its start
time; gunicorn marks dead workers' files, other processes mark their own at exit. At scrape time the collector reads
each registered pid's numbers fresh from /proc (prometheus_client's ProcessCollector) and skips a pid whose start
time differs (it died and the pid was reused) or that is gone. Nothing here imports Django: gunicorn's master uses it.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterable, Iterator

from prometheus_client import Gauge, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)

REGISTRATION = "server_process_start_time_seconds"
START_TIME = "process_start_time_seconds"
# Start times come from /proc in clock ticks; the registered one and a fresh read agree exactly for the same process.
START_TIME_TOLERANCE_SECONDS = 1.0

_registered = Gauge(REGISTRATION, "Start time of each live server process, by role (how /metrics finds them).",
                    ["role"], multiprocess_mode="liveall", registry=None)  # fmt: skip


def _start_time(pid: int | str) -> float | None:
    for family in ProcessCollector(pid=lambda: pid, registry=None).collect():
        if family.name == START_TIME:
            return float(family.samples[0].value)
    return None


def register_process(role: str) -> None:
    """Count this process in `/metrics`' process metrics (a no-op outside multiprocess mode)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    started = _start_time("self")
    if started is not None:  # None without /proc: there would be nothing to read at scrape time either
        _registered.labels(role).set(started)


def unregister_process() -> None:
    """At a clean exit: this process's live gauges (its registration) stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(os.getpid())


def _readable(path: str) -> bool:
    try:
        MultiProcessCollector.merge([path])
    except Exception:  # whatever a truncated or foreign file raises, it is left out rather than failing the scrape
        logger.warning("metrics file %s is unreadable; left out of /metrics", path)
        return False
    return True


class ServerMetricsCollector:
    """The multiprocess directory's metrics, minus unreadable files, plus each live process's process metrics."""

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        files = sorted(glob.glob(os.path.join(self.path, "*.db")))
        try:
            merged = MultiProcessCollector.merge(files, accumulate=True)
        except Exception:  # a truncated or foreign file: merge again without the files that cannot be read
            merged = MultiProcessCollector.merge([path for path in files if _readable(path)], accumulate=True)
        processes: list[tuple[str, str, float]] = []
        for family in merged:
            if family.name == REGISTRATION:
                processes = [(s.labels["pid"], s.labels["role"], s.value) for s in family.samples]
                continue
            yield family
        yield from _process_families(processes)


def _process_families(processes: Iterable[tuple[str, str, float]]) -> Iterable[Metric]:
    families: dict[str, Metric] = {}
    for pid, role, registered_start in sorted(processes):
        collected = list(ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect())
        start = next((family.samples[0].value for family in collected if family.name == START_TIME), None)
        if start is None or abs(start - registered_start) > START_TIME_TOLERANCE_SECONDS:
            continue  # exited without marking itself dead, or its pid now belongs to another process
        for family in collected:
            merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
            for sample in family.samples:
                merged.add_sample(sample.name, {**sample.labels, "pid": pid, "role": role}, sample.value)
    return families.values()
