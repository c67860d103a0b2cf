"""Errors a client causes before any view runs, from gunicorn (request line, headers) or Django (Host, CSRF),
still answer PostHog's JSON error body."""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

import pytest
import requests
from django.test import Client

from tests.faults.processes import WebServer
from tests.support.errors import ERROR_KEYS
from tests.support.servers import SharedWebServer

pytestmark = pytest.mark.xdist_group("shared_web_server")


@pytest.fixture
def served(shared_web_server: SharedWebServer) -> tuple[WebServer, dict[str, str]]:
    shared = shared_web_server
    return shared.server, {"project_id": shared.project_id, "personal_api_key": shared.personal_api_key}


def raw_request(server: WebServer, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_a_long_filter_is_not_refused_by_the_request_line_limit(served: Any) -> None:
    server, bootstrapped = served
    filters = [{"key": f"property_{n}", "value": "x" * 50, "operator": "is_not"} for n in range(200)]  # ~25 KB
    response = requests.get(f"{server.base_url}/api/environments/{bootstrapped['project_id']}/events/",
                            params={"properties": json.dumps(filters)}, timeout=30,
                            headers={"Authorization": f"Bearer {bootstrapped['personal_api_key']}"})  # fmt: skip
    assert response.status_code == 200, response.text[:300]
    assert response.json()["results"] == []


@pytest.mark.timeout(60)  # the pure-Python parser took a minute over a 16 MiB line; the bound answers at 1 MiB
def test_a_request_line_over_a_mebibyte_is_refused_in_json(served: Any) -> None:
    server, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        # The server answers and closes once the line passes the bound, before reading the rest.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(b"GET /_health?" + b"a" * (16 * 2**20) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    # gunicorn's C parser stops reading at its 1 MiB buffer bound (431), before the line is complete.
    assert head.split()[1] in (b"414", b"431"), head
    assert json.loads(body)["code"] in ("uri_too_long", "request_header_fields_too_large")
    assert server.healthy()


def test_headers_too_large_answer_json(served: Any) -> None:
    server, _ = served
    request = b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    status, headers, body = raw_request(server, request)
    assert status == 431
    assert headers["Content-Type"] == "application/json"
    assert set(json.loads(body)) == ERROR_KEYS


def test_a_malformed_request_line_answers_json(served: Any) -> None:
    server, _ = served
    status, headers, body = raw_request(server, b"GET /\x01bad HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["type"] == "invalid_request"


def test_a_disallowed_host_answers_json(served: Any) -> None:
    server, _ = served
    response = requests.get(f"{server.base_url}/api/projects/", headers={"Host": "evil.example"}, timeout=30)
    assert response.status_code == 400
    assert response.json() == {"type": "invalid_request", "code": "bad_request", "detail": "Bad request.",
                               "attr": None}  # fmt: skip


@pytest.mark.django_db
def test_a_session_write_without_its_csrf_token_is_refused_in_json(tenant: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenant.user)
    response = client.post("/api/projects/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["detail"].startswith("CSRF Failed")


def test_django_level_csrf_failures_render_json(rf: Any, settings: Any) -> None:
    from django.urls import get_callable

    response = get_callable(settings.CSRF_FAILURE_VIEW)(rf.post("/"), reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content) == {"type": "authentication_error", "code": "csrf_failed",
                                            "detail": "CSRF Failed: CSRF cookie not set.", "attr": None}  # fmt: skip
