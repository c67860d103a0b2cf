"""(e) A gunicorn worker SIGKILLed while it inserts a batch: the batch is wholly absent (or, had it committed,
wholly present), and the client's retry with the same uuids stores it once."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.faults.processes import WebServer, bootstrap, server_env

# Processes of their own, killed and restarted: one xdist worker runs the module's tests, first (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("faults")

EVENTS = 2_000
WAIT_SECONDS = 60


def test_a_batch_killed_mid_insert_is_all_or_nothing(migrated_database: str, tmp_path: Path) -> None:
    env = server_env(tmp_path, DATABASE_URL=migrated_database)
    bootstrapped = bootstrap(env)
    uuids = [str(uuid.uuid4()) for _ in range(EVENTS)]
    body = {"api_key": bootstrapped["project_api_token"], "batch": [
        {"event": "$pageview", "distinct_id": f"user-{n % 50}", "uuid": event_uuid, "properties": {"n": n}}
        for n, event_uuid in enumerate(uuids)]}  # fmt: skip
    server = WebServer(env, workers=1, threads=2, log=tmp_path / "server.log")
    blocker = psycopg.connect(migrated_database)
    try:
        # An uncommitted event with the batch's last uuid: the batch's INSERT must wait for this transaction, so the
        # worker is caught inside its insert, with its transaction open.
        blocker.execute(
            "INSERT INTO events_event (team_id, uuid, event, distinct_id, properties, timestamp, created_at, "
            "elements_chain) VALUES (%s, %s, 'blocker', 'b', '{}', now(), now(), '')",
            [bootstrapped["project_id"], uuids[-1]],
        )
        outcome: dict[str, Any] = {}

        def post() -> None:
            try:
                outcome["response"] = requests.post(f"{server.base_url}/batch/", json=body, timeout=WAIT_SECONDS)
            except requests.RequestException as error:
                outcome["error"] = error

        client = threading.Thread(target=post)
        client.start()
        [worker_pid] = server.worker_pids()
        waiting_insert(migrated_database)
        os.kill(worker_pid, signal.SIGKILL)
        client.join(timeout=WAIT_SECONDS)
        assert "response" not in outcome, "the killed worker cannot have answered"
        blocker.rollback()

        assert stored(migrated_database, uuids) == 0  # the worker's transaction died with it
        deadline = time.monotonic() + WAIT_SECONDS
        while not server.healthy():  # gunicorn replaces the worker
            assert time.monotonic() < deadline, "no worker came back"
            time.sleep(0.2)
        retried = requests.post(f"{server.base_url}/batch/", json=body, timeout=WAIT_SECONDS)
        assert retried.status_code == 200, retried.text
        assert stored(migrated_database, uuids) == EVENTS
        again = requests.post(f"{server.base_url}/batch/", json=body, timeout=WAIT_SECONDS)
        assert again.status_code == 200
        assert stored(migrated_database, uuids) == EVENTS
    finally:
        blocker.close()
        server.stop()


def waiting_insert(database_url: str) -> None:
    """Wait until a backend is blocked inside the events INSERT."""
    deadline = time.monotonic() + WAIT_SECONDS
    with psycopg.connect(database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%INSERT INTO events_event%'"
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)
    raise TimeoutError("the batch never reached its INSERT")


def stored(database_url: str, uuids: list[str]) -> int:
    with psycopg.connect(database_url) as connection:
        return connection.execute(
            "SELECT count(*) FROM events_event WHERE uuid = ANY(%s::uuid[]) AND event = '$pageview'", [uuids]
        ).fetchone()[0]
