"""What the logs give away: a personal API key sent in a query string authenticates (as in PostHog) but never
reaches a log line, in gunicorn's access log or in the server's structured lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from posthog_clone.redaction import redact
from tests.faults.processes import WebServer, bootstrap, server_env


@pytest.fixture
def served(tmp_path: Path, migrated_database: str) -> Iterator[tuple[WebServer, dict[str, str], Path]]:
    env = server_env(tmp_path, DATABASE_URL=migrated_database)
    bootstrapped = bootstrap(env)
    log = tmp_path / "web.log"
    server = WebServer(env, workers=1, threads=2, log=log)
    try:
        yield server, bootstrapped, log
    finally:
        server.stop()


def test_a_key_in_the_query_string_authenticates_and_is_never_logged(served: Any) -> None:
    server, bootstrapped, log = served
    key, project = bootstrapped["personal_api_key"], bootstrapped["project_id"]
    evaluations = f"{server.base_url}/api/environments/{project}/evaluations/"
    assert requests.get(evaluations, params={"personal_api_key": key}, timeout=30).status_code == 200
    # A refused request logs a warning line of its own (Django's request log), with the path.
    missing = f"{server.base_url}/api/environments/{project}/evaluations/{'0' * 8}-0000-0000-0000-000000000000/"
    assert requests.get(missing, params={"personal_api_key": key, "x": key}, timeout=30).status_code == 404
    server.stop()  # the access log is written out
    text = log.read_text()
    assert key not in text and key[4:] not in text
    assert f"/api/environments/{project}/evaluations/?personal_api_key=[redacted]" in text
    assert "x=phx_[redacted]" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "GET /api/x/?personal_api_key=phx_abc123&y=1 HTTP/1.1",
            "GET /api/x/?personal_api_key=[redacted]&y=1 HTTP/1.1",
        ),
        ("GET /?Personal_Api_Key%3Dphx_abc HTTP/1.1", "GET /?Personal_Api_Key%3D[redacted] HTTP/1.1"),
        ("Bearer phx_Zz09-_x refused", "Bearer phx_[redacted] refused"),
        ("password=hunter2;next=/", "password=[redacted];next=/"),
        ("nothing to hide: phc_public_token", "nothing to hide: phc_public_token"),
        ("Incorrect API key provided: sk-proj-Ab_12-xyz.", "Incorrect API key provided: sk-[redacted]."),
        ("risk-management and task-list", "risk-management and task-list"),
    ],
)
def test_redaction(line: str, expected: str) -> None:
    assert redact(line) == expected
