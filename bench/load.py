"""A load test of the whole server: `./dev load [--seconds 60] [--users 16]`.

Starts its own stack on loopback (a scratch database, gunicorn with 2 processes of 8 threads, one worker, a Temporal
dev server, a judge that answers at once, the local object store), then lets `--users` clients loop for `--seconds`
over a fixed mix: ingestion batches (100 events, a tenth of them `$ai_generation`, which an online evaluation
samples at 10%), events list pages, evaluation list/create/retrieve/update, run starts and symbol-set upload starts.
Prints throughput, p50/p99 and errors per endpoint; exits 1 if any request failed.

`./dev load --hostile` runs bench/hostile.py instead: what one hostile tenant costs another.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import harness

# (operation, weight): the share of requests each gets.
MIX = [
    ("POST /batch/ (100 events)", 3),
    ("GET events/", 3),
    ("GET evaluations/", 2),
    ("POST evaluations/", 1),
    ("GET evaluations/:id/", 1),
    ("PATCH evaluations/:id/", 1),
    ("POST evaluation_runs/", 1),
    ("POST symbol_sets/bulk_start_upload/", 1),
]
SEED_GENERATIONS = 500
TIMEOUT_SECONDS = 30


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            if error:
                self.errors[name].append(error)


class Client:
    """One simulated user: its own HTTP session, the shared project, and what it has created so far."""

    def __init__(self, base_url: str, project: dict[str, Any], generations: list[dict[str, Any]], seed: int) -> None:
        import requests

        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {project['key']}"
        self.api = f"{base_url}/api/environments/{project['id']}"
        self.base_url = base_url
        self.project = project
        self.generations = generations
        self.rng = random.Random(seed)
        self.evaluations: list[str] = []

    def _expect(self, response: Any, status: int) -> Any:
        if response.status_code != status:
            raise RuntimeError(f"{response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    def batch(self) -> None:
        events = []
        for n in range(100):
            generation = n % 10 == 0
            events.append({
                "event": "$ai_generation" if generation else self.rng.choice(["$pageview", "signed_up", "purchase"]),
                "distinct_id": f"user-{self.rng.randrange(1000)}", "uuid": str(uuid.uuid4()),
                "timestamp": datetime.now(UTC).isoformat(),
                "properties": {"$ai_model": "gpt-4o-mini", "$ai_input": "hi", "$ai_output_choices": "hello"}
                if generation else {"plan": self.rng.choice(["free", "pro"]), "amount": self.rng.random()},
            })  # fmt: skip
        body = {"api_key": self.project["token"], "batch": events}
        self._expect(self.session.post(f"{self.base_url}/batch/", json=body, timeout=TIMEOUT_SECONDS), 200)

    def events(self) -> None:
        self._expect(self.session.get(f"{self.api}/events/", params={"limit": 100}, timeout=TIMEOUT_SECONDS), 200)

    def list_evaluations(self) -> None:
        self._expect(self.session.get(f"{self.api}/evaluations/", timeout=TIMEOUT_SECONDS), 200)

    def create_evaluation(self) -> None:
        body = {"name": f"load {uuid.uuid4().hex[:8]}", "evaluation_type": "llm_judge", "output_type": "boolean",
                "evaluation_config": {"prompt": "Is the answer helpful?"}}  # fmt: skip
        created = self._expect(self.session.post(f"{self.api}/evaluations/", json=body, timeout=TIMEOUT_SECONDS), 201)
        self.evaluations.append(created["id"])

    def _some_evaluation(self) -> str:
        if not self.evaluations:
            self.create_evaluation()
        return self.rng.choice(self.evaluations)

    def retrieve_evaluation(self) -> None:
        url = f"{self.api}/evaluations/{self._some_evaluation()}/"
        self._expect(self.session.get(url, timeout=TIMEOUT_SECONDS), 200)

    def update_evaluation(self) -> None:
        url = f"{self.api}/evaluations/{self._some_evaluation()}/"
        body = {"description": f"updated {time.time()}"}
        self._expect(self.session.patch(url, json=body, timeout=TIMEOUT_SECONDS), 200)

    def start_run(self) -> None:
        target = self.rng.choice(self.generations)
        body = {"evaluation_id": self.project["evaluation"], "target_event_id": target["uuid"],
                "timestamp": target["timestamp"]}  # fmt: skip
        self._expect(self.session.post(f"{self.api}/evaluation_runs/", json=body, timeout=TIMEOUT_SECONDS), 201)

    def start_symbol_sets(self) -> None:
        body = {"chunk_ids": [str(uuid.uuid4()) for _ in range(5)]}
        url = f"{self.api}/error_tracking/symbol_sets/bulk_start_upload/"
        self._expect(self.session.post(url, json=body, timeout=TIMEOUT_SECONDS), 200)

    def operations(self) -> dict[str, Callable[[], None]]:
        return dict(zip([name for name, _ in MIX], [
            self.batch, self.events, self.list_evaluations, self.create_evaluation, self.retrieve_evaluation,
            self.update_evaluation, self.start_run, self.start_symbol_sets,
        ], strict=True))  # fmt: skip


def run_user(client: Client, deadline: float, tally: Tally) -> None:
    operations = client.operations()
    names, weights = [name for name, _ in MIX], [weight for _, weight in MIX]
    while time.monotonic() < deadline:
        name = client.rng.choices(names, weights)[0]
        began = time.perf_counter()
        error = None
        try:
            operations[name]()
        except Exception as failure:  # every failure is counted and shown, none stops the run
            error = str(failure)[:200]
        tally.record(name, time.perf_counter() - began, error)


def seed(project_name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A project with a key, an evaluation sampling 10% of `$ai_generation` events online, and generations to run
    evaluations on."""
    from django.utils import timezone

    from environments.models import Team
    from events.records import EventInput
    from events.services import events_capture

    project = harness.seed_project(project_name, online_conditions=[
        {"id": "sampled", "rollout_percentage": 10, "properties": []}])  # fmt: skip
    generations = [EventInput(uuid=uuid.uuid4(), event="$ai_generation", distinct_id=f"user-{n}",
                              properties={"$ai_input": "hi", "$ai_output_choices": "hello"},
                              timestamp=timezone.now()) for n in range(SEED_GENERATIONS)]  # fmt: skip
    events_capture(team=Team.objects.get(id=project["id"]), events=generations)
    return project, [{"uuid": str(g.uuid), "timestamp": g.timestamp.isoformat()} for g in generations]


def report(tally: Tally, seconds: float, users: int) -> int:
    total = sum(len(values) for values in tally.latencies.values())
    failures = sum(len(values) for values in tally.errors.values())
    print(
        f"\nLoad: {users} users for {seconds:.0f} s, {total:,} requests ({total / seconds:,.1f}/s), {failures} errors"
    )
    header = f"{'endpoint':<38} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for name, _ in MIX:
        values = tally.latencies.get(name, [])
        if not values:
            continue
        p50, p99 = harness.percentile(values, 0.5) * 1000, harness.percentile(values, 0.99) * 1000
        print(f"{name:<38} {len(values):>9,} {len(values) / seconds:>8.1f} {p50:>8.1f} {p99:>8.1f} "
              f"{len(tally.errors.get(name, [])):>7}")  # fmt: skip
        harness.record(f"Load, {users} users", f"{name} p50", p50, "ms", "", None)
    harness.record(f"Load, {users} users", "requests, all endpoints", total / seconds, "req/s", "", None)
    harness.record(f"Load, {users} users", "errors", failures, "", "", None, target="= 0")
    for name, messages in tally.errors.items():
        print(f"  {name}: {messages[0]}" + (f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""))
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="how long it runs (default 60; with --hostile 20 per phase)")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--hostile", action="store_true", help="what a hostile tenant costs another (bench/hostile.py)")
    args = parser.parse_args()
    if args.hostile:
        import hostile

        return hostile.main(args.seconds or 20)
    args.seconds = args.seconds or 60

    with (
        tempfile.TemporaryDirectory(prefix="posthog-clone-load-") as data_dir,
        harness.evaluation_services("load-evaluation-runs") as env,
        harness.scratch_database("load"),
    ):
        env = {**env, "POSTHOG_CLONE_DATA_DIR": data_dir}  # the local object store keeps its files there
        project, generations = seed("Load")
        with harness.running_server(env=env) as base_url:
            worker = harness.start_worker(env)
            try:
                tally = Tally()
                clients = [Client(base_url, project, generations, seed=n) for n in range(args.users)]
                deadline = time.monotonic() + args.seconds
                began = time.monotonic()
                threads = [threading.Thread(target=run_user, args=(c, deadline, tally)) for c in clients]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=args.seconds + TIMEOUT_SECONDS * 2)
                elapsed = time.monotonic() - began
            finally:
                harness.stop_worker(worker)
    return report(tally, elapsed, args.users)


if __name__ == "__main__":
    sys.exit(main())
