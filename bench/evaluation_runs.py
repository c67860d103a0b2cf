"""Evaluation runs: how fast runs start through the endpoint and finish, and what online evaluation costs ingestion.

(a) N runs (default 1,000) started with `POST …/evaluation_runs/` by 8 client threads against the server
    (gunicorn, 2 processes of 8 threads), one worker process (`manage.py run_worker`), a Temporal dev server and a
    judge that answers at once (the tests' fake OpenAI-compatible server). Figures: runs started per second, beside
    raw starts of a
    trivial workflow with the Temporal Python client at the same concurrency; and p50/p99 from each POST to its
    `$ai_evaluation` event being stored, beside start-to-result of a one-activity workflow on the same worker.
(b) M `$ai_generation` events (default 100,000) sent to `/batch/` by 4 clients into a project with no evaluations,
    then into one with 5 enabled evaluations (each matching a fifth of the events, so every event gets one pending
    run); events/s for both and the ratio. The worker is stopped for (b): it measures ingestion alone.

    .venv/bin/python bench/evaluation_runs.py [--runs 1000] [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import harness

from posthog_clone import embedded

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


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(harness.REPO / "manage.py"), "run_worker"],
        cwd=harness.REPO,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


def start_runs(base_url: str, key: str, path: str, bodies: list[dict[str, Any]]) -> tuple[float, dict[str, float]]:
    """POST every body from CLIENT_THREADS threads; (wall seconds, {workflow_id: wall-clock time of its POST})."""
    import requests

    local = threading.local()
    sent: dict[str, float] = {}

    def post(body: dict[str, Any]) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {key}"
        began = time.time()
        response = local.session.post(base_url + path, json=body, timeout=60)
        if response.status_code != 201:
            raise RuntimeError(f"run not started: {response.status_code} {response.text[:200]}")
        sent[response.json()["workflow_id"]] = began

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - started, sent


def emitted_at(team_id: int, expected: int) -> dict[str, float]:
    """Wait until `expected` `$ai_evaluation` events are stored; {target event uuid: stored at (created_at)}."""
    from django.db import connection

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT properties ->> '$ai_target_event_id', created_at FROM events_event "
                "WHERE team_id = %s AND event = '$ai_evaluation'",
                [team_id],
            )
            rows = cursor.fetchall()
        if len(rows) >= expected:
            return {target: created.timestamp() for target, created in rows}
        time.sleep(0.2)
    raise TimeoutError(f"only {len(rows)} of {expected} runs emitted their event within {WAIT_SECONDS}s")


def temporal_baseline(address: str, task_queue: str, count: int) -> tuple[float, list[float]]:
    """Raw Temporal at CLIENT_THREADS concurrency: (seconds to start `count` health-check workflows, start-to-result
    seconds of `count` more, executed by the worker)."""
    from temporalio.client import Client

    async def measure() -> tuple[float, list[float]]:
        client = await Client.connect(address)
        gate = asyncio.Semaphore(CLIENT_THREADS)
        latencies: list[float] = []

        async def start(n: int) -> None:
            async with gate:
                await client.start_workflow("health-check", str(n), id=f"bench-start-{uuid.uuid4()}",
                                            task_queue=task_queue)  # fmt: skip

        async def execute(n: int) -> None:
            async with gate:
                began = time.perf_counter()
                await client.execute_workflow("health-check", str(n), id=f"bench-run-{uuid.uuid4()}",
                                              task_queue=task_queue)  # fmt: skip
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(start(n) for n in range(count)))
        start_seconds = time.perf_counter() - began
        await asyncio.gather(*(execute(n) for n in range(count)))
        return start_seconds, latencies

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    sys.path.insert(0, str(harness.REPO))
    from tests.evaluations.fake_llm import FakeLLM

    temporal = embedded.start_temporal_dev_server(namespace="default", db_file=None, ui=False)
    judge = FakeLLM().start()
    env = {
        "TEMPORAL_ADDRESS": temporal.address,
        "TEMPORAL_TASK_QUEUE": "bench-evaluation-runs",
        "LLMA_EVAL_OPENAI_BASE_URL": judge.base_url,
        "LLMA_EVAL_MODEL": "bench-judge",
    }
    os.environ.update(env)
    try:
        with harness.scratch_database("runs"):
            from django.utils import timezone

            from environments import services
            from environments.models import User
            from evaluations.models import Evaluation, EvaluationRun
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
                                  timestamp=timezone.now()) for n in range(args.runs)]  # fmt: skip
            for offset in range(0, len(targets), 1000):
                events_capture(team=team, events=targets[offset : offset + 1000])
            bodies = [{"evaluation_id": str(evaluation.id), "target_event_id": str(t.uuid),
                       "timestamp": t.timestamp.isoformat()} for t in targets]  # fmt: skip

            with harness.running_server(env=env) as base_url:
                worker = start_worker(env)
                try:
                    # Warm-up: every web process and the worker connected, caches filled.
                    start_runs(base_url, key, f"/api/environments/{team.id}/evaluation_runs/", bodies[:20])
                    emitted_at(team.id, 20)
                    seconds, sent = start_runs(
                        base_url, key, f"/api/environments/{team.id}/evaluation_runs/", bodies[20:]
                    )
                    stored = emitted_at(team.id, len(bodies))
                    finished = max(stored.values()) - min(sent.values())
                    target_of = {run.id: str(run.target_event_id) for run in EvaluationRun.objects.all()}
                    latencies = [stored[target_of[workflow_id]] - began for workflow_id, began in sent.items()]
                    raw_start_seconds, raw_latencies = temporal_baseline(
                        temporal.address, env["TEMPORAL_TASK_QUEUE"], len(sent)
                    )
                finally:
                    stop(worker)

                count = len(sent)
                print(f"\nEvaluation runs: {count:,} runs, {CLIENT_THREADS} client threads, judge answering at once")
                print(f"  started via POST …/evaluation_runs/ : {count / seconds:8.1f} runs/s")
                print(f"  raw Temporal start_workflow          : {count / raw_start_seconds:8.1f} starts/s"
                      f"  (ratio {raw_start_seconds / seconds:.2f})")  # fmt: skip
                print(f"  all {count:,} $ai_evaluation events stored {finished:.1f} s after the first POST "
                      f"({count / finished:.1f} runs/s end to end)")  # fmt: skip
                harness.report(
                    "Latency: POST to its $ai_evaluation event stored, vs a one-activity workflow's start to result",
                    [("run through the endpoint", latencies, raw_latencies)],
                    baseline="Temporal",
                )

                rates = {}
                for label, evaluations in (("no evaluations", 0), ("5 enabled evaluations", 5)):
                    project = services.project_create(organization=organization, name=label, creator=user)
                    for n in range(evaluations):
                        Evaluation.objects.create(
                            team=project, name=f"e{n}", evaluation_type="llm_judge", output_type="boolean",
                            evaluation_config={"prompt": "Is it right?"}, enabled=True,
                            conditions=[{"id": f"c{n}", "rollout_percentage": 100, "properties": [
                                {"key": "$ai_model", "value": MODELS[n], "operator": "exact", "type": "event"}]}],
                        )  # fmt: skip
                    seconds = harness.send_batches(
                        base_url, project.api_token, args.events, args.clients, args.batch, make=generation_bodies
                    )
                    pending = EvaluationRun.objects.filter(team=project).count()
                    rates[label] = args.events / seconds
                    print(f"\nIngestion of {args.events:,} $ai_generation events, {label}: {seconds:6.1f} s "
                          f"{rates[label]:10,.0f} events/s ({pending:,} pending runs recorded)")  # fmt: skip
                ratio = rates["5 enabled evaluations"] / rates["no evaluations"]
                print(f"  ratio (5 evaluations / none): {ratio:.2f}")
    finally:
        judge.stop()
        temporal.stop()


if __name__ == "__main__":
    main()
