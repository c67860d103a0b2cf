"""`./dev load --hostile [--seconds 20]` (or `bench/hostile.py`): what one hostile tenant costs the others.

On its own stack (loopback only), a well-behaved tenant loops over its usual requests (events list, evaluations
list, a small ingestion batch), first alone and then while a hostile client, at the same time:
- holds 200 slow connections open, each sending a header line every 2 s (slowloris), reopening any the server
  closes;
- sends, with its project's public token, `$ai_generation` events whose `$ai_input` is 10,000 `a`s and a `!` to an
  online evaluation whose condition is the regex `^(a+)+$` (catastrophic for a backtracking engine);
- runs HogQL whose cost a naive printer makes exponential or unbounded: a chain of 16 aliases each doubling the
  last, and `in` lists of 10,000 items.
Rate limits are on, as deployed. Prints the tenant's p50 per request and `/_health`'s worst time in each phase;
exits 1 if `/_health` ever took 1 s or more, or the tenant's p50 more than doubled.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import harness

SLOW_CONNECTIONS = 200
SLOW_LINE_SECONDS = 2.0
HEALTH_EVERY_SECONDS = 0.25
TENANT_USERS = 2
# Paced as people and scripts are, within the rate limits: the figures are each request's time, not throughput.
TENANT_LOOP_SECONDS = 1.0
# The hostile client is paced too, at several times the tenant's rate: what is measured is what each costly input
# costs, not how much CPU any busy client takes on a machine of 2 cores.
HOSTILE_REQUEST_SECONDS = 0.2
TIMEOUT_SECONDS = 30
REDOS_PATTERN = "^(a+)+$"
REDOS_INPUT = "a" * 10_000 + "!"
ALIAS_CHAIN = "select 1 as a0, " + ", ".join(f"a{n - 1} + a{n - 1} as a{n}" for n in range(1, 17)) + " from events"
LONG_IN_LIST = "select count() from events where event in (" + ", ".join(f"'e{n}'" for n in range(10_000)) + ")"


class Latencies:
    def __init__(self) -> None:
        self.by_name: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int | str, int]] = defaultdict(lambda: defaultdict(int))
        self.lock = threading.Lock()

    def timed(self, name: str, send: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        began = time.perf_counter()
        try:
            status: int | str = send(*args, timeout=TIMEOUT_SECONDS, **kwargs).status_code
        except Exception as failure:  # counted and shown; a timeout is an answer here too
            status = f"{type(failure).__name__}: {str(failure)[-80:]}"
        with self.lock:
            self.by_name[name].append(time.perf_counter() - began)
            self.statuses[name][status] += 1


def tenant_user(base_url: str, tenant: dict[str, Any], stop: threading.Event, tally: Latencies) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tenant['key']}"
    api = f"{base_url}/api/environments/{tenant['id']}"
    while not stop.is_set():
        tally.timed("GET events/", session.get, f"{api}/events/", params={"limit": 100})
        tally.timed("GET evaluations/", session.get, f"{api}/evaluations/")
        now = datetime.now(UTC).isoformat()
        events = [{"event": "purchase", "distinct_id": f"user-{n}", "uuid": str(uuid.uuid4()), "timestamp": now,
                   "properties": {"amount": n}} for n in range(10)]  # fmt: skip
        body = {"api_key": tenant["token"], "batch": events}
        tally.timed("POST /batch/ (10 events)", session.post, f"{base_url}/batch/", json=body)
        stop.wait(TENANT_LOOP_SECONDS)


def health_probe(base_url: str, stop: threading.Event, tally: Latencies) -> None:
    import requests

    while not stop.is_set():
        tally.timed("GET /_health", requests.get, f"{base_url}/_health")
        stop.wait(HEALTH_EVERY_SECONDS)


def slowloris(port: int, stop: threading.Event) -> None:
    """SLOW_CONNECTIONS connections that never finish their request head; any the server closes is reopened."""
    open_sockets: list[socket.socket | None] = [None] * SLOW_CONNECTIONS
    while not stop.is_set():
        for index, sock in enumerate(open_sockets):
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                    sock.sendall(b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    open_sockets[index] = sock
                else:
                    sock.sendall(b"X-Slow: 1\r\n")
            except OSError:  # closed by the server (it read for too long) or refused: open another
                if sock is not None:
                    sock.close()
                open_sockets[index] = None
        stop.wait(SLOW_LINE_SECONDS)
    for sock in open_sockets:
        if sock is not None:
            sock.close()


def redos_ingestion(base_url: str, tenant: dict[str, Any], stop: threading.Event, tally: Latencies) -> None:
    import requests

    session = requests.Session()
    while not stop.is_set():
        events = [{"event": "$ai_generation", "distinct_id": "attacker", "uuid": str(uuid.uuid4()),
                   "properties": {"$ai_input": REDOS_INPUT, "$ai_output_choices": "x"}} for _ in range(20)]  # fmt: skip
        body = {"api_key": tenant["token"], "batch": events}
        tally.timed("hostile POST /batch/ (regex)", session.post, f"{base_url}/batch/", json=body)
        stop.wait(HOSTILE_REQUEST_SECONDS)


def costly_hogql(base_url: str, tenant: dict[str, Any], stop: threading.Event, tally: Latencies) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tenant['key']}"
    url = f"{base_url}/api/environments/{tenant['id']}/query/"
    while not stop.is_set():
        for name, query in (("alias chain", ALIAS_CHAIN), ("10,000-item IN", LONG_IN_LIST)):
            body = {"query": {"kind": "HogQLQuery", "query": query}}
            tally.timed(f"hostile POST query/ ({name})", session.post, url, json=body)
            stop.wait(HOSTILE_REQUEST_SECONDS)


def run_phase(seconds: float, workers: list[Callable[[threading.Event], None]]) -> None:
    stop = threading.Event()
    threads = [threading.Thread(target=work, args=(stop,), daemon=True) for work in workers]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT_SECONDS * 2)


def report(idle: Latencies, hostile: Latencies) -> int:
    header = f"{'request':<34} {'idle p50 ms':>12} {'hostile p50 ms':>15} {'ratio':>6} {'worst ms':>9}"
    print(f"\nOne hostile tenant's cost to another\n{header}\n{'-' * len(header)}")
    failed = False
    for name in ("GET events/", "GET evaluations/", "POST /batch/ (10 events)", "GET /_health"):
        quiet, loaded = idle.by_name.get(name, []), hostile.by_name.get(name, [])
        if not quiet or not loaded:
            print(f"{name:<34} no answers (idle {len(quiet)}, hostile {len(loaded)})")
            failed = True
            continue
        before, after = harness.percentile(quiet, 0.5) * 1000, harness.percentile(loaded, 0.5) * 1000
        worst = max(loaded) * 1000
        print(f"{name:<34} {before:>12.1f} {after:>15.1f} {after / before:>6.2f} {worst:>9.1f}")
        harness.record("Hostile tenant", f"{name} p50 under attack", after, "ms", "idle p50", before, target="<= 2")
        failed |= after > 2 * before or (name == "GET /_health" and worst >= 1000)
        failed |= any(status != 200 for status in hostile.statuses[name])
    print("\nAnswers in the hostile phase:")
    for name, statuses in sorted(hostile.statuses.items()):
        p50 = harness.percentile(hostile.by_name[name], 0.5) * 1000
        print(f"  {name}: {dict(statuses)}, p50 {p50:.0f} ms")
    print("\nResult:", "FAILED" if failed else "held")
    return 1 if failed else 0


def main(seconds: float) -> int:
    import tempfile

    with (
        tempfile.TemporaryDirectory(prefix="posthog-clone-hostile-") as data_dir,
        harness.evaluation_services("hostile-evaluation-runs") as env,
        harness.scratch_database("hostile"),
    ):
        tenant = harness.seed_project("Tenant")
        bait = {"key": "$ai_input", "value": REDOS_PATTERN, "operator": "regex", "type": "event"}
        attacker = harness.seed_project("Attacker", online_conditions=[
            {"id": "all", "rollout_percentage": 100, "properties": [bait]}])  # fmt: skip
        env = {**env, "POSTHOG_CLONE_DATA_DIR": data_dir, "RATE_LIMIT_ENABLED": "true"}
        with harness.running_server(env=env) as base_url:
            port = int(base_url.rsplit(":", 1)[1])
            worker = harness.start_worker(env)
            try:
                idle, hostile = Latencies(), Latencies()
                calm = [lambda stop: health_probe(base_url, stop, idle)]
                calm += [lambda stop: tenant_user(base_url, tenant, stop, idle)] * TENANT_USERS
                print(f"Idle phase: {seconds:.0f} s of the tenant alone")
                run_phase(seconds, calm)
                attack = [lambda stop: health_probe(base_url, stop, hostile)]
                attack += [lambda stop: tenant_user(base_url, tenant, stop, hostile)] * TENANT_USERS
                attack += [lambda stop: slowloris(port, stop)]
                attack += [lambda stop: redos_ingestion(base_url, attacker, stop, hostile)] * 2
                attack += [lambda stop: costly_hogql(base_url, attacker, stop, hostile)] * 2
                print(f"Hostile phase: {seconds:.0f} s with {SLOW_CONNECTIONS} slow connections, regex-bait "
                      "ingestion and costly HogQL")  # fmt: skip
                run_phase(seconds, attack)
            finally:
                harness.stop_worker(worker)
    return report(idle, hostile)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    sys.exit(main(parser.parse_args().seconds))
