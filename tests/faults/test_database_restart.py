"""(a) PostgreSQL stopped and started under ingestion load: what was acknowledged is stored, what failed said so
with a retryable 503, retries with the same uuids leave no duplicates and no gaps, and the server recovers without
a restart."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.faults.processes import TemporaryPostgres, WebServer, bootstrap, migrate, server_env

# Processes of their own, killed and restarted: one xdist worker runs the module's tests, first (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("faults")

CLIENTS = 4
BATCHES_PER_CLIENT = 40
EVENTS_PER_BATCH = 50
REQUEST_TIMEOUT_SECONDS = 30
RETRY_ROUNDS = 20


@pytest.fixture
def database() -> Iterator[TemporaryPostgres]:
    # Not under pytest's temporary root: every pytest process that starts resets that root to mode 0700, which
    # locks PostgreSQL's own user (we run it as another user when root) out of its data directory mid-test.
    with tempfile.TemporaryDirectory(prefix="posthog-clone-faults-") as root:
        postgres = TemporaryPostgres(Path(root) / "postgres").start()
        with psycopg.connect(postgres.url(), autocommit=True) as connection:
            connection.execute('CREATE DATABASE "clone"')
        try:
            yield postgres
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by a failing test
                postgres.stop()


def batch_body(token: str, client: int, number: int) -> dict[str, Any]:
    return {
        "api_key": token,
        "batch": [
            {"event": "$pageview", "distinct_id": f"user-{client}-{n % 7}",
             "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fault/{client}/{number}/{n}")),
             "properties": {"client": client, "batch": number, "n": n}}
            for n in range(EVENTS_PER_BATCH)
        ],
    }  # fmt: skip


def send(session: requests.Session, url: str, body: dict[str, Any]) -> requests.Response:
    """One attempt; a request that outlives its timeout fails the test (nothing may hang)."""
    return session.post(f"{url}/batch/", json=body, timeout=REQUEST_TIMEOUT_SECONDS)


def test_ingestion_through_a_database_restart(database: TemporaryPostgres, tmp_path: Path) -> None:
    env = server_env(tmp_path, DATABASE_URL=database.url("clone"))
    migrate(env)
    bootstrapped = bootstrap(env)
    token = bootstrapped["project_api_token"]
    server = WebServer(env, log=tmp_path / "server.log")
    answers: dict[tuple[int, int], requests.Response] = {}
    sent = threading.Semaphore(0)

    def client(index: int) -> None:
        with requests.Session() as session:
            for number in range(BATCHES_PER_CLIENT):
                answers[(index, number)] = send(session, server.base_url, batch_body(token, index, number))
                sent.release()

    try:
        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for _ in range(CLIENTS * 5):  # the outage starts once ingestion is well under way
            assert sent.acquire(timeout=60)
        database.stop()
        api = requests.get(f"{server.base_url}/api/projects/", timeout=REQUEST_TIMEOUT_SECONDS,
                           headers={"Authorization": f"Bearer {bootstrapped['personal_api_key']}"})  # fmt: skip
        assert api.status_code == 503, api.text
        assert api.json()["code"] == "database_unavailable"
        assert api.headers["Retry-After"] == "1"
        time.sleep(1.5)
        database.start()
        for thread in threads:
            thread.join(timeout=300)
            assert not thread.is_alive()

        statuses = {response.status_code for response in answers.values()}
        assert statuses <= {200, 503}, statuses
        failed = [key for key, response in answers.items() if response.status_code != 200]
        assert failed, "no batch met the outage: the test did not test anything"
        for key in failed:
            response = answers[key]
            assert response.json() == {
                "type": "server_error",
                "code": "database_unavailable",
                "detail": "The database is unavailable; try again shortly.",
                "attr": None,
            }
            assert response.headers["Retry-After"] == "1"

        stored = stored_uuids(database)
        for key, response in answers.items():
            if response.status_code == 200:
                expected = {event["uuid"] for event in batch_body(token, *key)["batch"]}
                assert expected <= stored, f"batch {key} was acknowledged but is not stored"

        with requests.Session() as session:  # the clients retry their failures, same uuids
            for _ in range(RETRY_ROUNDS):
                failed = [key for key in failed
                          if send(session, server.base_url, batch_body(token, *key)).status_code != 200]  # fmt: skip
                if not failed:
                    break
                time.sleep(0.5)
        assert failed == []

        total = CLIENTS * BATCHES_PER_CLIENT * EVENTS_PER_BATCH
        with psycopg.connect(database.url("clone")) as connection:
            count, distinct = connection.execute("SELECT count(*), count(DISTINCT uuid) FROM events_event").fetchone()
        assert (count, distinct) == (total, total)
        assert server.process.poll() is None, "the server process must survive the outage"
        assert server.healthy()
    finally:
        server.stop()


def stored_uuids(database: TemporaryPostgres) -> set[str]:
    with psycopg.connect(database.url("clone")) as connection:
        return {str(row[0]) for row in connection.execute("SELECT uuid FROM events_event")}
