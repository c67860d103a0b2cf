"""Shared benchmark plumbing: a scratch database, the real server under gunicorn, timing, progress bars, a report
table, and the figures recorded for `bench/run.py` (which writes bench/RESULTS.md).

Benchmarks never touch the database the server normally uses: each gets a fresh database on the same
PostgreSQL server (DATABASE_URL, else the embedded one) and drops it when done.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from posthog_clone import embedded  # noqa: E402

# `bench/run.py` sets this to a file each benchmark appends its figures to (JSON lines).
RESULTS_ENV = "BENCH_RESULTS"
_servers: dict[str, subprocess.Popen[bytes]] = {}


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create a database for one benchmark run, point DATABASE_URL at it, migrate, and drop it afterwards."""
    import psycopg

    embedded.prepare_environment()
    server_url = os.environ["DATABASE_URL"]
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = _with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posthog_clone.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_server(*, workers: int = 2, threads: int = 8, env: dict[str, str] | None = None) -> Iterator[str]:
    """The real WSGI app under gunicorn, as `serve` runs it, on a free loopback port, with SITE_URL pointing at
    it (as `serve` sets it) and `env` added to the environment."""
    port = embedded.free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--config", "python:posthog_clone.gunicorn_conf",
            "posthog_clone.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--threads", str(threads), "--log-level", "warning",
        ],
        cwd=REPO,
        # Rate limits off: the benchmarks measure throughput, far past what one client is allowed.
        env={**os.environ, "LOG_LEVEL": "WARNING", "SITE_URL": base_url, "RATE_LIMIT_ENABLED": "false", **(env or {})},
    )  # fmt: skip
    _servers[base_url] = process
    try:
        embedded.wait_for_port("127.0.0.1", port, timeout=60, process=process)
        yield base_url
    finally:
        del _servers[base_url]
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mib(base_url: str) -> dict[str, float]:
    """Peak resident memory so far (the kernel's VmHWM) of the server at `base_url`: its gunicorn master and each
    worker process, in MiB."""
    import psutil

    master = psutil.Process(_servers[base_url].pid)
    processes = {"master": master} | {f"worker {n}": child for n, child in enumerate(master.children(), start=1)}
    peaks = {}
    for role, process in processes.items():
        status = Path(f"/proc/{process.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        peaks[role] = kib / 1024
    return peaks


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar (on stderr) for one phase; yields `advance(n)`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def record(benchmark: str, figure: str, value: float, unit: str, baseline: str, baseline_value: float | None, *,
           target: str = "") -> None:  # fmt: skip
    """Keep one figure beside its baseline for bench/RESULTS.md (when run by `bench/run.py`). `target` is the
    ratio it should meet, e.g. "<= 2" (figure / baseline) or ">= 0.4"."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    row = {"benchmark": benchmark, "figure": figure, "value": value, "unit": unit, "baseline": baseline,
           "baseline_value": baseline_value, "target": target}  # fmt: skip
    with open(path, "a") as results:
        results.write(json.dumps(row) + "\n")


@contextmanager
def evaluation_services(task_queue: str) -> Iterator[dict[str, str]]:
    """A Temporal dev server and a judge that answers at once (the tests' fake OpenAI-compatible server), exported
    to this process's environment (for Django settings, read later) and returned for the processes it starts."""
    sys.path.insert(0, str(REPO))
    from tests.evaluations.fake_llm import FakeLLM, categories, score

    temporal = embedded.start_temporal_dev_server(namespace="default", db_file=None, ui=False)
    judge = FakeLLM().start()
    # Numeric and categorical evaluations are answered in their shape (the categorical ones offer `polite`).
    judge.by_schema = {"numeric_eval_result": score(8, "Mostly right."),
                       "categorical_eval_result": categories(["polite"], "Courteous.")}  # fmt: skip
    env = {
        "TEMPORAL_ADDRESS": temporal.address,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "LLMA_EVAL_OPENAI_BASE_URL": judge.base_url,
        "LLMA_EVAL_MODEL": "bench-judge",
    }
    os.environ.update(env)
    try:
        yield env
    finally:
        judge.stop()
        temporal.stop()


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`manage.py run_worker` (workflows, activities, the dispatcher of online runs)."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "run_worker"],
        cwd=REPO,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
    )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


def _client(base_url: str, bodies: list[bytes], ready: Any, go: Any, sent: Any, finished: Any) -> None:
    import requests

    session = requests.Session()
    ready.release()
    go.wait()
    for body in bodies:
        response = session.post(f"{base_url}/batch/", data=body, headers={"Content-Type": "application/json"},
                                timeout=120)  # fmt: skip
        if response.status_code != 200 or "rejected" in response.text:
            raise RuntimeError(f"ingestion failed: {response.status_code} {response.text[:200]}")
        with sent.get_lock():
            sent.value += 1
    finished.put(time.perf_counter())  # CLOCK_MONOTONIC: one clock for every process on the machine


BodyMaker = Callable[[str, int, int, int, datetime], list[bytes]]


def send_batches(base_url: str, token: str, total: int, clients: int, batch: int, *, make: BodyMaker,
                 start: datetime | None = None) -> float:  # fmt: skip
    """Seconds for `clients` processes to send `total` events to /batch/ (wall clock from their common start).
    Bodies are made before the clock starts by `make(token, count, batch, seed, start)`; `start` is the first
    event's timestamp (default: 60 days ago)."""
    start = start or datetime.now(UTC) - timedelta(days=60)
    per_client = total // clients
    context = multiprocessing.get_context("fork")
    ready, go, sent, finished = context.Semaphore(0), context.Event(), context.Value("l", 0), context.Queue()
    processes = []
    batches = 0
    with progress(f"encoding {total:,} events", clients) as advance:
        for index in range(clients):
            bodies = make(token, per_client, batch, index, start + timedelta(microseconds=index))
            batches += len(bodies)
            process = context.Process(target=_client, args=(base_url, bodies, ready, go, sent, finished))
            process.start()
            processes.append(process)
            advance(1)
    for _ in processes:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    with progress(f"sending {total:,} events to /batch/", batches) as advance:
        shown = 0
        while any(process.is_alive() for process in processes) and time.perf_counter() - started < 3600:
            time.sleep(0.2)
            advance(sent.value - shown)
            shown = sent.value
            if any(process.exitcode not in (None, 0) for process in processes):
                break
        advance(sent.value - shown)
    for process in processes:
        process.join(timeout=60)
        if process.exitcode != 0:
            for other in processes:
                other.kill()
            raise RuntimeError("a client failed")
    return max(finished.get(timeout=10) for _ in processes) - started


def sample(*operations: Callable[[], object], runs: int, warmup: int = 10, name: str = "") -> list[list[float]]:
    """Seconds taken by each of `runs` calls of each operation, after `warmup` untimed calls. The operations take
    turns, so a figure and its baseline see the same machine (a shared VM's speed drifts over seconds)."""
    for _ in range(warmup):
        for operation in operations:
            operation()
    timings: list[list[float]] = [[] for _ in operations]
    with progress(name or "sampling", runs) as advance:
        for _ in range(runs):
            for operation, taken in zip(operations, timings, strict=True):
                started = time.perf_counter()
                operation()
                taken.append(time.perf_counter() - started)
            advance(1)
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(title: str, rows: list[tuple[str, list[float], list[float]]], *, baseline: str, benchmark: str = "",
           target: str = "") -> None:  # fmt: skip
    """Print p50/p99 in milliseconds of each measured operation beside its baseline, with the p50 ratio, and
    record each p50 under `benchmark` when given."""
    print(f"\n{title}")
    header = f"{'case':<34} {'p50 ms':>9} {'p99 ms':>9} {baseline + ' p50':>13} {baseline + ' p99':>13} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name, measured, base in rows:
        p50, p99 = percentile(measured, 0.5) * 1000, percentile(measured, 0.99) * 1000
        b50, b99 = percentile(base, 0.5) * 1000, percentile(base, 0.99) * 1000
        print(f"{name:<34} {p50:>9.2f} {p99:>9.2f} {b50:>13.2f} {b99:>13.2f} {p50 / b50:>6.1f}x")
        if benchmark:
            record(benchmark, f"{name} p50", p50, "ms", f"{baseline} p50", b50, target=target)
    print(f"(mean of all measured: {statistics.mean(v for _, m, _ in rows for v in m) * 1000:.2f} ms)")


def seed_project(name: str, *, online_conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A user, an organization and a project named after `name`, an all-scopes personal API key and, with
    `online_conditions`, an enabled LLM-judge evaluation that runs on them: `{id, key, token, evaluation}`."""
    from environments import services
    from environments.models import User
    from evaluations.models import Evaluation

    user = User.objects.create_user(email=f"{name.lower()}@example.com", password="bench-password")
    organization = services.organization_create(name=name, owner=user)
    team = services.project_create(organization=organization, name=name, creator=user)
    _, key = services.personal_api_key_create(user=user, label=name, scopes=["*"])
    evaluation = None
    if online_conditions is not None:
        evaluation = Evaluation.objects.create(
            team=team, name="Online", evaluation_type="llm_judge", output_type="boolean", enabled=True,
            evaluation_config={"prompt": "Is it helpful?"}, conditions=online_conditions,
        )  # fmt: skip
    evaluation_id = str(evaluation.id) if evaluation else None
    return {"id": team.id, "key": key, "token": team.api_token, "evaluation": evaluation_id}
