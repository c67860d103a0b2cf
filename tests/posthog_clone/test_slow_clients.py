"""Slow clients cannot starve the server: requests are read in each worker's event loop before a thread is spent on
them (`posthog_clone.http_worker`). gunicorn with 1 worker and 2 threads, as small as a server gets: with its stock
threaded worker two slow connections were enough to stop it answering. Every wait here is bounded; a timeout of a
few seconds on `/_health` is a hang detector, not a measurement."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from posthog_clone.http_worker import request_is_complete
from tests.faults.processes import WebServer, server_env

SLOW_CONNECTIONS = 200


@pytest.fixture
def server(tmp_path: Path, scratch_database: str, request: Any) -> Iterator[WebServer]:
    overrides = getattr(request, "param", {})
    web = WebServer(server_env(tmp_path, DATABASE_URL=scratch_database, **overrides), workers=1, threads=2)
    try:
        # The port opens with gunicorn's master; the worker answers once it has imported the app.
        deadline = time.monotonic() + 60
        while not healthy_within(web, 5) and time.monotonic() < deadline:
            time.sleep(0.2)
        yield web
    finally:
        web.stop()


def connect(web: WebServer, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", web.port), timeout=10, source_address=(source, 0))


def healthy_within(web: WebServer, seconds: float) -> bool:
    try:
        return requests.get(f"{web.base_url}/_health", timeout=seconds).status_code == 200
    except requests.RequestException:
        return False


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` within `within` seconds (EOF or reset)."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_hundreds_of_slow_clients_leave_the_server_answering(server: WebServer) -> None:
    slow = [connect(server) for _ in range(SLOW_CONNECTIONS)]
    try:
        for n, sock in enumerate(slow):
            if n % 3 == 0:  # headers a line at a time (slowloris)
                sock.sendall(b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-1: a\r\n")
            elif n % 3 == 1:  # a body that never arrives
                sock.sendall(b"POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000\r\n\r\n{\"a")  # fmt: skip
            # else: connected, and nothing sent at all
        for round_ in range(3):
            for n, sock in enumerate(slow):
                if n % 3 == 0:
                    sock.sendall(b"X-Slow-%d: a\r\n" % (round_ + 2))
            assert healthy_within(server, 5)
        # A kept-alive connection whose next request trickles in holds no thread either.
        kept = connect(server)
        kept.sendall(b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(kept)
        assert healthy_within(server, 5)
        # Nor do clients that send a whole request and, in the same packet, the start of the next.
        for _ in range(3):
            pipelined = connect(server)
            pipelined.sendall(b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /_health HTTP/1.1\r\n")
            slow.append(pipelined)
        time.sleep(0.5)  # their first requests are answered meanwhile
        assert healthy_within(server, 5)
        # The slow ones are served once they finish.
        slow[0].sendall(b"\r\n")
        slow[0].settimeout(10)
        assert slow[0].recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for sock in slow:
            sock.close()


@pytest.mark.parametrize("server", [{"REQUEST_READ_SECONDS": "2"}], indirect=True)
def test_a_request_not_sent_in_time_is_closed(server: WebServer) -> None:
    trickling = connect(server)
    trickling.sendall(b"GET /_health HTTP/1.1\r\n")
    started = time.monotonic()
    assert closed_by_server(trickling, within=10)
    assert 1.5 < time.monotonic() - started < 10
    assert healthy_within(server, 5)


@pytest.mark.parametrize("server", [{"MAX_CONNECTIONS_PER_ADDRESS": "5"}], indirect=True)
def test_one_address_holds_a_bounded_number_of_connections(server: WebServer) -> None:
    # From an address of their own (all of 127.0.0.0/8 is loopback), which nothing else here connects from.
    held = [connect(server, source="127.0.0.2") for _ in range(5)]
    for sock in held:  # each accepted, then waiting for its request
        sock.sendall(b"GET /_health HTTP/1.1\r\n")
    try:
        assert not any(closed_by_server(sock, within=0.5) for sock in held)
        extra = connect(server, source="127.0.0.2")
        assert closed_by_server(extra, within=10)
        extra.close()
        assert healthy_within(server, 5)  # another address is served meanwhile
    finally:
        for sock in held:
            sock.close()
    # The address's slots come back once its connections close.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        again = connect(server, source="127.0.0.2")
        again.sendall(b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        again.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            if again.recv(65536).startswith(b"HTTP/1.1 200"):
                break
        again.close()
        time.sleep(0.1)
    else:
        raise AssertionError("127.0.0.2 was not served again within 10 s of closing its connections")


def test_a_body_larger_than_the_buffer_is_still_served(server: WebServer) -> None:
    body = (
        b'{"api_key": "phc_unknown", "batch": [' + b",".join([b'{"event": "e", "distinct_id": "d"}'] * 200_000) + b"]}"
    )
    assert len(body) > 4 * 2**20
    response = requests.post(f"{server.base_url}/batch/", data=body, timeout=60,
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code in (401, 413), response.text[:200]  # read whole and answered, not dropped


def test_a_client_that_expects_100_continue_is_told_to_send_its_body(server: WebServer) -> None:
    """curl sends `Expect: 100-continue` for bodies over 1 MiB and waits (1 s) for the go-ahead before sending."""
    body = (
        b'{"api_key": "phc_unknown", "batch": [' + b",".join([b'{"event": "e", "distinct_id": "d"}'] * 40_000) + b"]}"
    )
    assert 2**20 < len(body) < 4 * 2**20  # read in the event loop, not by a thread
    sock = connect(server)
    try:
        sock.sendall(b"POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))  # fmt: skip
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"  # before any byte of the body
        sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        assert answer.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n").startswith(b"HTTP/1.1 413"), answer[
            :300
        ]  # read: 40,000 events
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", False),
        (b"POST / HTTP/1.1\r\ncontent-length:5\r\n\r\nabcde", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", True),  # over the buffer: the thread reads it
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", True),
        (b"GET /" + b"a" * (3 * 2**20), True),  # an endless head: gunicorn's parser refuses it from memory
    ],
)
def test_request_is_complete(data: bytes, complete: bool) -> None:
    assert request_is_complete(data) is complete
