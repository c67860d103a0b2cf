"""Evaluation runs: how fast runs start and finish, their latency, and what online evaluation costs ingestion.

Everything runs on this machine: the server under gunicorn (2 processes of 8 threads), one worker process
(`manage.py run_worker`), a Temporal dev server, PostgreSQL, and a judge that answers at once (the tests' fake
OpenAI-compatible server). Baselines are the same operations on a trivial one-activity workflow through the
Temporal Python client, so the ratios show what this server adds to Temporal's own cost.

(a) N runs (default 1,000) started with `POST …/evaluation_runs/` by 8 client threads while the worker is stopped:
    runs started per second, beside raw `start_workflow` calls at the same concurrency. Then the worker is started
    and drains them: runs completed per second (first to last `$ai_evaluation` stored), beside the same worker
    draining as many one-activity workflows.
(b) Latency, closed loop: 8 clients each start a run and wait for its `$ai_evaluation` event before starting the
    next, N more runs in all: p50/p99 from the POST to the event being stored, beside start-to-result of a one-activity
    workflow run the same way.
(d) The same backlog drain and closed-loop latency for a boolean, a numeric (bounded, graded) and a categorical
    (single selection, graded) evaluation, each on N/2 runs of its own, the judge answering each in its shape:
    numeric and categorical beside boolean (ratio).
(e) Backfills, the worker running: B runs (default 10,000) started by POST by 8 clients, from the first POST to the
    last `$ai_evaluation` stored (the manual-run path), beside a backfill over B stored generations, from its
    create to the last `$ai_evaluation` stored (and to its row `completed`: every run dispatched). Then checked: one
    `$ai_evaluation` per event, total = dispatched + skipped, and a second backfill dispatches 0.
(f) `/batch/` ingestion of M events (default 100,000) while a backfill runs in another project (started first and
    at its pace before the first batch), beside the same without one; the worker running in both, rounds
    interleaved, each starting with no online run in flight (a round's online runs not yet started are dropped
    after it): into projects with 5 evaluations sampling 2% (whose online runs the backfill yields to), and with
    none (then it yields only to the requests themselves).
(c) M `$ai_generation` events (default 100,000) sent to `/batch/` by 4 clients into a project without evaluations,
    then into projects with 5 enabled evaluations: every event matching one of them (a pending run per event), and
    each sampling 10% of what it matches; and with 5 Hog evaluations (a JSON check and a regex), every event
    matching one. events/s and the ratio to no evaluations; each round's pending runs are counted, then dropped.
    The worker is stopped for (c): it measures ingestion alone.

    .venv/bin/python bench/evaluation_runs.py [--runs 1000] [--events 100000] [--backfill-events 10000] [--parts …]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import harness
import orjson

MODELS = [f"model-{n}" for n in range(5)]
CLIENT_THREADS = 8
WAIT_SECONDS = 600


def generation_bodies(token: str, count: int, batch: int, seed: int, start: datetime) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for offset in range(0, count, batch):
        events = []
        for n in range(offset, min(offset + batch, count)):
            properties = {
                "$ai_model": rng.choice(MODELS),
                "$ai_provider": "openai",
                "$ai_trace_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "$ai_input": [{"role": "user", "content": f"Question {n}?"}],
                "$ai_output_choices": [{"role": "assistant", "content": f"Answer {n}."}],
                "$ai_input_tokens": rng.randrange(10, 500),
                "$ai_output_tokens": rng.randrange(10, 500),
                "$ai_latency": round(rng.random() * 3, 3),
                "$lib": "posthog-python",
            }
            events.append({"event": "$ai_generation", "distinct_id": f"user-{rng.randrange(5000)}",
                           "properties": properties, "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                           "timestamp": (start + timedelta(milliseconds=n)).isoformat()})  # fmt: skip
        bodies.append(json.dumps({"api_key": token, "batch": events}).encode())
    return bodies


def session(key: str) -> Any:
    import requests

    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {key}"
    return client


START_ATTEMPTS = 5


def post_run(client: Any, url: str, body: dict[str, Any]) -> str:
    """Start one run, trying again (a few times, a second apart) on a 503: under a burst of thousands of starts the
    Temporal dev server can miss the start's deadline, and the API says to try again later, as a client would."""
    for _ in range(START_ATTEMPTS):
        response = client.post(url, json=body, timeout=60)
        if response.status_code != 503:
            break
        time.sleep(1)
    if response.status_code != 201:
        raise RuntimeError(f"run not started: {response.status_code} {response.text[:200]}")
    return response.json()["target_event_id"]


def start_runs(url: str, key: str, bodies: list[dict[str, Any]]) -> float:
    """Seconds for CLIENT_THREADS threads to POST every body."""
    local = threading.local()

    def post(body: dict[str, Any]) -> None:
        if not hasattr(local, "client"):
            local.client = session(key)
        post_run(local.client, url, body)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - started


class EmittedEvents:
    """Polls for `$ai_evaluation` events and remembers when each target's was stored (its `created_at`)."""

    def __init__(self, team_id: int) -> None:
        self.team_id = team_id
        self.stored: dict[str, float] = {}
        self.changed = threading.Condition()

    def poll(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT properties ->> '$ai_target_event_id', created_at FROM events_event "
                "WHERE team_id = %s AND event = '$ai_evaluation'",
                [self.team_id],
            )
            rows = cursor.fetchall()
        with self.changed:
            self.stored.update((target, created.timestamp()) for target, created in rows)
            self.changed.notify_all()

    def wait_for(self, targets: set[str]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not targets <= self.stored.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(targets - self.stored.keys())} runs emitted nothing in {WAIT_SECONDS}s")
            self.poll()
            time.sleep(0.05)


def closed_loop(count: int, one: Any) -> list[float]:
    """`count` calls of `one()` (which returns its latency) from CLIENT_THREADS threads, each waiting for its
    previous call."""
    latencies: list[float] = []
    remaining = iter(range(count))
    lock = threading.Lock()

    def user() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            latencies.append(one())

    threads = [threading.Thread(target=user) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


class TemporalBaseline:
    """The same operations on the one-activity `health-check` workflow, through the Temporal Python client."""

    def __init__(self, address: str, task_queue: str) -> None:
        self.address, self.task_queue = address, task_queue
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.client = self._run(self._connect())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT_SECONDS)

    async def _connect(self) -> Any:
        from temporalio.client import Client

        return await Client.connect(self.address)

    def start(self, count: int) -> tuple[float, list[Any]]:
        """(seconds to start `count` workflows at CLIENT_THREADS concurrency, their handles)."""

        async def start_all() -> tuple[float, list[Any]]:
            gate = asyncio.Semaphore(CLIENT_THREADS)

            async def start(n: int) -> Any:
                async with gate:
                    return await self.client.start_workflow(
                        "health-check", str(n), id=f"bench-{uuid.uuid4()}", task_queue=self.task_queue
                    )

            began = time.perf_counter()
            handles = await asyncio.gather(*(start(n) for n in range(count)))
            return time.perf_counter() - began, handles

        return self._run(start_all())

    def completion_times(self, handles: list[Any]) -> list[float]:
        """Wall-clock times at which each workflow's result arrived."""

        async def wait_all() -> list[float]:
            async def finished(handle: Any) -> float:
                await handle.result()
                return time.time()

            return await asyncio.gather(*(finished(handle) for handle in handles))

        return self._run(wait_all())

    def execute(self) -> float:
        async def execute() -> float:
            began = time.perf_counter()
            await self.client.execute_workflow("health-check", "x", id=f"bench-{uuid.uuid4()}",
                                               task_queue=self.task_queue)  # fmt: skip
            return time.perf_counter() - began

        return self._run(execute())


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def measure_runs(
    base_url: str, key: str, team_id: int, bodies: list[dict[str, Any]], env: dict[str, str], runs: int
) -> None:
    """(a) and (b), with their Temporal baselines."""
    url = f"/api/environments/{team_id}/evaluation_runs/"
    baseline = TemporalBaseline(env["TEMPORAL_ADDRESS"], env["TEMPORAL_TASK_QUEUE"])
    emitted = EmittedEvents(team_id)
    throughput_bodies, latency_bodies = bodies[:runs], bodies[runs:]
    # (a) start rate with the worker stopped, then one worker draining the backlog; the same for the baseline
    start_runs(base_url + url, key, throughput_bodies[:20])  # warm-up: every web process connected
    post_seconds = start_runs(base_url + url, key, throughput_bodies[20:])
    worker = harness.start_worker(env)
    try:
        emitted.wait_for({body["target_event_id"] for body in throughput_bodies})
    finally:
        harness.stop_worker(worker)
    drained = sorted(emitted.stored.values())
    raw_start_seconds, handles = baseline.start(len(throughput_bodies) - 20)
    worker = harness.start_worker(env)
    try:
        raw_drained = sorted(baseline.completion_times(handles))

        # (b) closed-loop latency
        latencies = closed_loop_runs(base_url + url, key, latency_bodies, emitted)
        raw_latencies = closed_loop(len(latency_bodies), baseline.execute)
    finally:
        harness.stop_worker(worker)

    started = len(throughput_bodies) - 20
    print(f"\nEvaluation runs, {CLIENT_THREADS} client threads, judge answering at once")
    print(f"  (a) started via POST …/evaluation_runs/ : {rate(started, post_seconds):7.1f} runs/s   "
          f"raw start_workflow: {rate(started, raw_start_seconds):7.1f}/s   "
          f"ratio {raw_start_seconds / post_seconds:.2f}")  # fmt: skip
    run_rate = rate(len(drained) - 1, drained[-1] - drained[0])
    raw_rate = rate(len(raw_drained) - 1, raw_drained[-1] - raw_drained[0])
    print(f"      one worker completing runs          : {run_rate:7.1f} runs/s   "
          f"one-activity workflows: {raw_rate:7.1f}/s   ratio {run_rate / raw_rate:.2f}")  # fmt: skip
    harness.record(BENCHMARK, "(a) runs started by POST …/evaluation_runs/", rate(started, post_seconds), "runs/s",
                   "raw start_workflow", rate(started, raw_start_seconds))  # fmt: skip
    harness.record(BENCHMARK, "(a) one worker completing a backlog", run_rate, "runs/s", "one-activity workflows",
                   raw_rate)  # fmt: skip
    harness.report(
        f"  (b) latency, closed loop of {CLIENT_THREADS}: POST to $ai_evaluation stored, vs a one-activity "
        "workflow's start to result",
        [(f"(b) POST to its event stored, {len(latencies)} runs", latencies, raw_latencies)],
        baseline="Temporal",
        benchmark=BENCHMARK,
    )


BENCHMARK = "Evaluation runs"

# (d): one evaluation per output type, its output_config.
TYPED_OUTPUT_CONFIGS: dict[str, dict[str, Any]] = {
    "boolean": {"allows_na": False},
    "numeric": {"min": 0, "max": 10, "passing_rule": {"operator": "gte", "threshold": 7}},
    "categorical": {"options": [{"key": "polite", "label": "Polite"}, {"key": "rude", "label": "Rude"}],
                    "selection_mode": "single", "passing_rule": {"categories": ["polite"]}},
}  # fmt: skip


def closed_loop_runs(url: str, key: str, bodies: list[dict[str, Any]], emitted: EmittedEvents) -> list[float]:
    """Latencies from POST to the run's `$ai_evaluation` stored, CLIENT_THREADS clients each waiting for its run."""
    pending = iter(bodies)
    pending_lock = threading.Lock()
    local = threading.local()

    def one_run() -> float:
        with pending_lock:
            body = next(pending)
        if not hasattr(local, "client"):
            local.client = session(key)
        began = time.time()
        post_run(local.client, url, body)
        emitted.wait_for({body["target_event_id"]})
        return emitted.stored[body["target_event_id"]] - began

    return closed_loop(len(bodies), one_run)


def measure_output_types(
    base_url: str, key: str, team_id: int, bodies_by_type: dict[str, list[dict[str, Any]]], env: dict[str, str]
) -> None:
    """(d): for each output type, a backlog drained by one worker, then a closed loop; numeric and categorical
    beside boolean."""
    url = base_url + f"/api/environments/{team_id}/evaluation_runs/"
    emitted = EmittedEvents(team_id)
    figures: dict[str, tuple[float, list[float]]] = {}
    for output_type, bodies in bodies_by_type.items():
        backlog, loop = bodies[: len(bodies) // 2], bodies[len(bodies) // 2 :]
        start_runs(url, key, backlog)
        worker = harness.start_worker(env)
        try:
            targets = {body["target_event_id"] for body in backlog}
            emitted.wait_for(targets)
            drained = sorted(emitted.stored[target] for target in targets)
            latencies = closed_loop_runs(url, key, loop, emitted)
        finally:
            harness.stop_worker(worker)
        figures[output_type] = (rate(len(drained) - 1, drained[-1] - drained[0]), latencies)

    boolean_rate, boolean_latencies = figures["boolean"]
    boolean_p50 = harness.percentile(boolean_latencies, 0.5)
    print(f"\n  (d) by output type, one worker, {CLIENT_THREADS} client threads (beside boolean):")
    for output_type, (run_rate, latencies) in figures.items():
        p50, p99 = harness.percentile(latencies, 0.5), harness.percentile(latencies, 0.99)
        print(f"      {output_type:<12} backlog {run_rate:7.1f} runs/s (ratio {run_rate / boolean_rate:.2f})   "
              f"POST to event p50 {p50 * 1000:7.1f} ms p99 {p99 * 1000:7.1f} ms "
              f"(p50 ratio {p50 / boolean_p50:.2f})")  # fmt: skip
        if output_type != "boolean":
            harness.record(BENCHMARK, f"(d) {output_type}: one worker completing a backlog", run_rate, "runs/s",
                           "boolean", boolean_rate)  # fmt: skip
            harness.record(BENCHMARK, f"(d) {output_type}: POST to its event stored, p50", p50 * 1000, "ms",
                           "boolean", boolean_p50 * 1000)  # fmt: skip


def store_generations(team: Any, count: int) -> list[tuple[str, str]]:
    """`count` generations stored directly (no evaluation sees them at ingestion), newest a second ago."""
    from django.utils import timezone

    from events.records import EventInput
    from events.services import events_capture
    from posthog_clone.ids import uuid7

    now = timezone.now()
    events = [EventInput(uuid=uuid7(), event="$ai_generation", distinct_id=f"user-{n % 100}",
                         properties={"$ai_input": f"Question {n}?", "$ai_output_choices": f"Answer {n}.",
                                     "$ai_model": MODELS[n % len(MODELS)]},
                         timestamp=now - timedelta(seconds=1, milliseconds=n)) for n in range(count)]  # fmt: skip
    for offset in range(0, count, 1000):
        events_capture(team=team, events=events[offset : offset + 1000])
    return [(str(event.uuid), event.timestamp.isoformat()) for event in events]


def judged_evaluation(team: Any, name: str, conditions: list[dict[str, Any]] | None = None) -> Any:
    from evaluations.models import Evaluation

    return Evaluation.objects.create(
        team=team, name=name, evaluation_type="llm_judge", output_type="boolean", enabled=True,
        evaluation_config={"prompt": "Is the answer correct?"},
        conditions=conditions or [{"id": "all", "rollout_percentage": 100, "properties": []}],
    )  # fmt: skip


def start_backfill(client: Any, base_url: str, team_id: int, evaluation_id: str) -> tuple[str, float]:
    now = datetime.now().astimezone()
    url = f"{base_url}/api/environments/{team_id}/evaluations/{evaluation_id}/backfills/"
    began = time.time()
    response = client.post(url, json={"window_start": (now - timedelta(days=1)).isoformat(),
                                      "window_end": now.isoformat()}, timeout=600)  # fmt: skip
    if response.status_code != 201:
        raise RuntimeError(f"backfill not started: {response.status_code} {response.text[:300]}")
    return response.json()["id"], began


def wait_for_backfill(backfill_id: str) -> Any:
    from evaluations.models import EvaluationBackfill

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        backfill = EvaluationBackfill.objects.get(id=backfill_id)
        if backfill.status != "running":
            return backfill
        time.sleep(0.05)
    raise TimeoutError(f"backfill {backfill_id} still running after {WAIT_SECONDS}s")


def measure_backfills(base_url: str, key: str, organization: Any, user: Any, env: dict[str, str],
                      args: argparse.Namespace) -> None:  # fmt: skip
    """(e)."""
    from django.db import connection

    from environments import services

    count = args.backfill_events
    client = session(key)
    manual_project = services.project_create(organization=organization, name="Manual path", creator=user)
    # Stored before the evaluation exists, as for the backfill: online evaluation must not judge them too.
    manual_targets = store_generations(manual_project, args.manual_runs or count)
    manual = judged_evaluation(manual_project, "Manual")
    backfill_project = services.project_create(organization=organization, name="Backfill", creator=user)
    backfill_targets = store_generations(backfill_project, count)
    backfilled = judged_evaluation(backfill_project, "Backfilled")
    worker = harness.start_worker(env)
    try:
        emitted = EmittedEvents(manual_project.id)
        bodies = [{"evaluation_id": str(manual.id), "target_event_id": target, "timestamp": timestamp}
                  for target, timestamp in manual_targets]  # fmt: skip
        began = time.time()
        start_runs(f"{base_url}/api/environments/{manual_project.id}/evaluation_runs/", key, bodies)
        emitted.wait_for({target for target, _ in manual_targets})
        manual_rate = rate(len(manual_targets), max(emitted.stored.values()) - began)

        emitted = EmittedEvents(backfill_project.id)
        backfill_id, began = start_backfill(client, base_url, backfill_project.id, str(backfilled.id))
        backfill = wait_for_backfill(backfill_id)
        dispatched_seconds = time.time() - began
        emitted.wait_for({target for target, _ in backfill_targets})
        backfill_rate = rate(count, max(emitted.stored.values()) - began)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(DISTINCT properties ->> '$ai_target_event_id') FROM events_event "
                           "WHERE team_id = %s AND event = '$ai_evaluation'", [backfill_project.id])  # fmt: skip
            stored_events, distinct_targets = cursor.fetchone()
        second = wait_for_backfill(start_backfill(client, base_url, backfill_project.id, str(backfilled.id))[0])
    finally:
        harness.stop_worker(worker)

    print(f"\n  (e) backfills, one worker, judge answering at once, {count:,} generations")
    print(f"      manual runs, POST to last event         : {manual_rate:7.1f} runs/s ({len(manual_targets):,} runs)")
    print(f"      backfill, create to last event          : {backfill_rate:7.1f} runs/s   ratio "
          f"{backfill_rate / manual_rate:.2f}   (every run dispatched after {dispatched_seconds:.1f} s)")  # fmt: skip
    counts = f"total {backfill.total_count:,} = dispatched {backfill.dispatched_count:,} + skipped"
    again = f"a second backfill dispatched {second.dispatched_count:,}, skipped {second.skipped_count:,}"
    print(f"      checked: {stored_events:,} $ai_evaluation for {distinct_targets:,} events; {counts} "
          f"{backfill.skipped_count:,}; {again}")  # fmt: skip
    harness.record(BENCHMARK, f"(e) backfill of {count:,} generations, create to last event", backfill_rate,
                   "runs/s", "manual runs, POST to last event", manual_rate)  # fmt: skip


def measure_ingestion_beside_backfills(base_url: str, key: str, organization: Any, user: Any, env: dict[str, str],
                                       args: argparse.Namespace) -> None:  # fmt: skip
    """(f)."""
    worker = harness.start_worker(env)
    try:
        ingestion = measure_ingestion_beside_a_backfill(session(key), base_url, organization, user, args)
    finally:
        harness.stop_worker(worker)
    print(f"\n  (f) {args.events:,} $ai_generation events to /batch/ ({args.clients} clients), the worker running")
    for scenario in INGESTION_BESIDE_BACKFILL:
        baseline = statistics.median(ingestion[(scenario, False)])
        loaded = statistics.median(ingestion[(scenario, True)])
        print(f"      {scenario:<24}: {loaded:9,.0f} events/s with a backfill running, "
              f"{baseline:9,.0f} without   ratio {loaded / baseline:.2f}   (median of {args.rounds})")  # fmt: skip
        harness.record(BENCHMARK, f"(f) $ai_generation ingestion, {scenario}, a backfill running", loaded,
                       "events/s", "without a backfill", baseline)  # fmt: skip


# (f)'s ingestion scenarios: online evaluation (5 evaluations sampling 2% each: a backfill yields to their runs), and
# none at all (nothing to yield to: what a backfill at full pace costs ingestion on the same machine).
INGESTION_BESIDE_BACKFILL = {"5 evaluations at 2%": 2, "no evaluations": 0}


def live_runs_drained() -> None:
    """Drop the online runs not started yet (the dispatcher would take minutes over a round's), then wait (bounded)
    until none is running: each round starts from an idle worker."""
    from evaluations.models import EvaluationRun, OnlineRunIntake

    OnlineRunIntake.objects.all().delete()
    EvaluationRun.objects.filter(trigger="online", status="pending", dispatched_at__isnull=True).delete()
    deadline = time.monotonic() + WAIT_SECONDS
    while (
        OnlineRunIntake.objects.exists()
        or EvaluationRun.objects.filter(status__in=["pending", "running"]).exclude(trigger="backfill").exists()
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"online runs still in flight after {WAIT_SECONDS}s")
        time.sleep(0.2)


def at_pace(backfill_id: str) -> None:
    """Wait (bounded) until the backfill has dispatched twice its runs in flight: past its start, at its pace."""
    from django.conf import settings

    from evaluations.models import EvaluationBackfill

    deadline = time.monotonic() + WAIT_SECONDS
    while EvaluationBackfill.objects.get(id=backfill_id).dispatched_count < 2 * settings.BACKFILL_RUNS_IN_FLIGHT:
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not at its pace after {WAIT_SECONDS}s")
        time.sleep(0.05)


def measure_ingestion_beside_a_backfill(client: Any, base_url: str, organization: Any, user: Any,
                                        args: argparse.Namespace) -> dict[tuple[str, bool], list[float]]:  # fmt: skip
    """(e)'s ingestion: each scenario with and without a backfill running (in another project), interleaved over
    `args.rounds` rounds, each round into a new project; a round's backfill is cancelled after it and its runs in
    flight finish before the next."""
    from environments import services
    from evaluations.models import EvaluationBackfill, EvaluationRun

    running_project = services.project_create(organization=organization, name="Backfill running", creator=user)
    store_generations(running_project, args.backfill_events)
    running = judged_evaluation(running_project, "Running")
    rates: dict[tuple[str, bool], list[float]] = {}
    for round_number in range(args.rounds):
        for scenario, rollout in INGESTION_BESIDE_BACKFILL.items():
            # Each round swaps which goes first, so what the first leaves behind (vacuum, a warm cache) is no bias.
            for backfilling in (False, True) if round_number % 2 == 0 else (True, False):
                live_runs_drained()
                backfill_id = None
                if backfilling:
                    backfill_id, _ = start_backfill(client, base_url, running_project.id, str(running.id))
                    at_pace(backfill_id)
                name = f"Ingestion {scenario} {backfilling} {round_number}"
                project = services.project_create(organization=organization, name=name, creator=user)
                for n in range(5 if rollout else 0):
                    judged_evaluation(project, f"e{n}", [{"id": f"c{n}", "rollout_percentage": rollout, "properties": [
                        {"key": "$ai_model", "value": MODELS[n], "operator": "exact", "type": "event"}]}])  # fmt: skip
                seconds = harness.send_batches(base_url, project.api_token, args.events, args.clients, args.batch,
                                               make=generation_bodies)  # fmt: skip
                rates.setdefault((scenario, backfilling), []).append(args.events / seconds)
                if backfill_id is not None:
                    client.post(f"{base_url}/api/environments/{running_project.id}/evaluations/{running.id}/"
                                f"backfills/{backfill_id}/cancel/", timeout=60)  # fmt: skip
                    wait_for_backfill(backfill_id)
                    deadline = time.monotonic() + WAIT_SECONDS
                    while EvaluationRun.objects.filter(backfill_id=backfill_id, status__in=["pending", "running"]
                                                       ).exists() and time.monotonic() < deadline:  # fmt: skip
                        time.sleep(0.2)
                    assert EvaluationBackfill.objects.get(id=backfill_id).status == "cancelled"
    return rates


# (label, evaluations, rollout %, evaluation type): a Hog evaluation is scheduled exactly as a judge is (its runs in
# the batch's intake row) and runs in the worker, so at ingestion it costs what a judge costs.
INGESTION_SCENARIOS = (
    ("no evaluations", 0, 100, "llm_judge"),
    ("5 evaluations, a run per event", 5, 100, "llm_judge"),
    ("5 evaluations sampling 10%", 5, 10, "llm_judge"),
    ("5 Hog evaluations, a run per event", 5, 100, "hog"),
)
HOG_CONFIG = {"source": "print(length(output)); return isValidJSON(output) and not match(output, '[0-9]{16}')"}


def hog_config() -> dict[str, Any]:
    """The stored config of a Hog evaluation (its source and compiled form), as the API saves it."""
    from evaluations.configs import validate_configs

    config, _ = validate_configs(evaluation_type="hog", output_type="boolean", evaluation_config=HOG_CONFIG,
                                 output_config={})  # fmt: skip
    return config


def measure_ingestion(base_url: str, organization: Any, user: Any, args: argparse.Namespace) -> None:
    """(c): the scenarios interleaved, `args.rounds` times each, each round into new projects; medians reported."""
    from environments import services
    from evaluations.models import Evaluation, OnlineRunIntake

    rates: dict[str, list[float]] = {label: [] for label, *_ in INGESTION_SCENARIOS}
    pending: dict[str, int] = {}
    for round_number in range(args.rounds):
        # Each round starts one scenario later, so none always follows the same one (or the events table's growth).
        shift = round_number % len(INGESTION_SCENARIOS)
        for label, evaluations, rollout, evaluation_type in INGESTION_SCENARIOS[shift:] + INGESTION_SCENARIOS[:shift]:
            project = services.project_create(organization=organization, name=f"{label} {round_number}", creator=user)
            config = hog_config() if evaluation_type == "hog" else {"prompt": "Is it right?"}
            for n in range(evaluations):
                Evaluation.objects.create(
                    team=project, name=f"e{n}", evaluation_type=evaluation_type, output_type="boolean",
                    evaluation_config=config, enabled=True,
                    conditions=[{"id": f"c{n}", "rollout_percentage": rollout, "properties": [
                        {"key": "$ai_model", "value": MODELS[n], "operator": "exact", "type": "event"}]}],
                )  # fmt: skip
            seconds = harness.send_batches(
                base_url, project.api_token, args.events, args.clients, args.batch, make=generation_bodies
            )
            rates[label].append(args.events / seconds)
            intake = OnlineRunIntake.objects.filter(team=project)
            pending[label] = sum(len(orjson.loads(bytes(payload))["runs"]) for payload in
                                 intake.values_list("payload", flat=True))  # fmt: skip
            # Dropped once counted: a later part's worker would otherwise start them all (hundreds of thousands).
            intake.delete()
    baseline = statistics.median(rates["no evaluations"])
    print(
        f"\n  (c) {args.events:,} $ai_generation events to /batch/ ({args.clients} clients), median of {args.rounds}:"
    )
    for label, *_ in INGESTION_SCENARIOS:
        median = statistics.median(rates[label])
        print(f"      {label:<32} {median:9,.0f} events/s  ratio {median / baseline:.2f}  "
              f"({pending[label]:,} pending runs per round)")  # fmt: skip
        if label != "no evaluations":
            harness.record(BENCHMARK, f"(c) $ai_generation ingestion, {label}", median, "events/s",
                           "no evaluations", baseline)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000, help="events (c) and (f) ingest per round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of (c) and (e), interleaving their scenarios")
    parser.add_argument("--backfill-events", type=int, default=10_000, help="generations (e) backfills")
    parser.add_argument("--manual-runs", type=int, default=None, help="(e)'s manual runs (default: as many)")
    parser.add_argument(
        "--parts",
        default="abcdef",
        help="which of (a)+(b) ('ab'), (c) ('c'), (d) ('d', by output type), (e) ('e', backfills) and (f) ('f', "
        "ingestion beside a backfill) to run",
    )
    parser.add_argument("--quick", action="store_true", help="300 runs; (c) with 30,000 events, one round")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.events, args.rounds = 300, 30_000, 1
        args.backfill_events = 2_000

    with harness.evaluation_services("bench-evaluation-runs") as env, harness.scratch_database("runs"):
        from django.utils import timezone

        from environments import services
        from environments.models import User
        from evaluations.models import Evaluation
        from events.records import EventInput
        from events.services import events_capture
        from posthog_clone.ids import uuid7

        user = User.objects.create_user(email="bench@example.com", password="bench-password")
        organization = services.organization_create(name="Bench", owner=user)
        team = services.project_create(organization=organization, name="Runs", creator=user)
        _, key = services.personal_api_key_create(user=user, label="bench", scopes=["evaluation:write"])
        evaluation = Evaluation.objects.create(
            team=team, name="Correctness", evaluation_type="llm_judge", output_type="boolean",
            evaluation_config={"prompt": "Is the answer correct?"}, enabled=True,
        )  # fmt: skip
        targets = [EventInput(uuid=uuid7(), event="$ai_generation", distinct_id=f"user-{n % 100}",
                              properties={"$ai_input": f"Question {n}?", "$ai_output_choices": f"Answer {n}."},
                              timestamp=timezone.now()) for n in range(2 * args.runs)]  # fmt: skip
        for offset in range(0, len(targets), 1000):
            events_capture(team=team, events=targets[offset : offset + 1000])
        bodies = [{"evaluation_id": str(evaluation.id), "target_event_id": str(t.uuid),
                   "timestamp": t.timestamp.isoformat()} for t in targets]  # fmt: skip
        typed_bodies: dict[str, list[dict[str, Any]]] = {}
        if "d" in args.parts:
            for output_type, output_config in TYPED_OUTPUT_CONFIGS.items():
                typed = Evaluation.objects.create(
                    team=team, name=f"Typed {output_type}", evaluation_type="llm_judge", output_type=output_type,
                    output_config=output_config, evaluation_config={"prompt": "Is the answer correct?"},
                )  # fmt: skip
                typed_targets = [EventInput(uuid=uuid7(), event="$ai_generation", distinct_id=f"user-{n % 100}",
                                            properties={"$ai_input": f"Question {n}?",
                                                        "$ai_output_choices": f"Answer {n}."},
                                            timestamp=timezone.now()) for n in range(args.runs)]  # fmt: skip
                for offset in range(0, len(typed_targets), 1000):
                    events_capture(team=team, events=typed_targets[offset : offset + 1000])
                typed_bodies[output_type] = [{"evaluation_id": str(typed.id), "target_event_id": str(t.uuid),
                                              "timestamp": t.timestamp.isoformat()} for t in typed_targets]  # fmt: skip

        with harness.running_server(env=env) as base_url:
            if "ab" in args.parts:
                measure_runs(base_url, key, team.id, bodies, env, args.runs)
            if "d" in args.parts:
                measure_output_types(base_url, key, team.id, typed_bodies, env)
            if "c" in args.parts:
                measure_ingestion(base_url, organization, user, args)
            if "e" in args.parts:
                measure_backfills(base_url, key, organization, user, env, args)
            if "f" in args.parts:
                measure_ingestion_beside_backfills(base_url, key, organization, user, env, args)


if __name__ == "__main__":
    main()
