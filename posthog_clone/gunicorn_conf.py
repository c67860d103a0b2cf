"""gunicorn's settings for every way this server is run (`serve`, docker-compose, benchmarks, tests):
`gunicorn -c python:posthog_clone.gunicorn_conf posthog_clone.wsgi:application --bind … --workers …`.

Requests gunicorn itself refuses (a malformed request line, headers too large) would otherwise get an HTML page;
they get PostHog's JSON error body like every other error."""

from __future__ import annotations

import json
import os
from typing import Any

from gunicorn import util
from gunicorn.glogging import Logger

from posthog_clone.process_roles import ROLE_VARIABLE, WEB_ROLE
from posthog_clone.redaction import redact

# Before the app (and its settings) load: this process's database connections say they serve requests.
os.environ[ROLE_VARIABLE] = WEB_ROLE

# gunicorn's threaded worker, reading each request in its event loop before a thread is spent on it (slow clients
# cost a socket, not a thread): see `posthog_clone.http_worker`.
worker_class = "posthog_clone.http_worker.BufferingThreadWorker"
# Long filters travel in the query string (`properties=[…]`), so request lines may be long: gunicorn's C parser
# (gunicorn-h1c) reads "unlimited" as 1 MiB, in linear time (the pure-Python one has no bound and rescans the line as
# it grows: a 16 MiB line took a minute). "fast" makes a missing C parser an error at start, not a silent fallback.
# Django bounds what matters past that (1,000 query parameters, body sizes).
http_parser = "fast"
limit_request_line = 0
# Headers up to 64 KiB each (a large cookie or a long Authorization header), at most 100 of them.
limit_request_field_size = 65536
limit_request_fields = 100
timeout = 120
control_socket_disable = True


class RedactingLogger(Logger):
    """gunicorn's access log without secrets: the request line, path, query and referer are redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger
ERROR_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
               431: "request_header_fields_too_large", 500: "error", 501: "not_implemented"}  # fmt: skip


def _write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({
        "type": "server_error" if status_int >= 500 else "invalid_request",
        "code": ERROR_CODES.get(status_int, "error"),
        "detail": mesg or reason,
        "attr": None,
    }).encode()  # fmt: skip
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin1")  # fmt: skip
    util.write_nonblock(sock, head + body)


def when_ready(server: Any) -> None:
    # Checked before importing anything: the master forks its workers only after this hook.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from posthog_clone.process_metrics import register_process

        register_process("web-master")


def on_exit(server: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from posthog_clone.process_metrics import unregister_process

        unregister_process()


def post_worker_init(worker: Any) -> None:
    # gunicorn writes its own error pages with `util.write_error`; in each worker, that writer speaks JSON.
    util.write_error = _write_json_error
    # Import every view now, before this worker accepts a connection, rather than in its first request (seconds
    # on a loaded machine).
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property imports the URLconf
    from posthog_clone.process_metrics import register_process

    register_process("web")


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's metric files stop counting as live (prometheus-client's multiprocess mode).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
