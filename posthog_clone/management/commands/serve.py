"""`manage.py serve`: the whole stack in one command, on embedded defaults unless configured otherwise."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from posthog_clone import embedded, serve_lock
from posthog_clone.process_metrics import register_process, unregister_process

ALL_INTERFACES = serve_lock.ALL_INTERFACES
SHUTDOWN_GRACE_SECONDS = 20.0
READY_TIMEOUT_SECONDS = 180.0
READY_PROBE_SLICE_SECONDS = 0.5
# Temporal and the worker are started again when they exit, this many times within this window at most.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 600.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
GUNICORN_CONFIG = "python:posthog_clone.gunicorn_conf"  # worker class, limits, JSON error pages
# Children run this package's command line, so serve works from a checkout and from an installed package alike.
COMMAND_LINE = [sys.executable, "-m", "posthog_clone"]

Child = subprocess.Popen[bytes] | embedded.TemporalDevServer


class Command(BaseCommand):
    help = (
        "Run the server: migrate, then start Temporal (embedded unless TEMPORAL_ADDRESS is set), "
        "one Temporal worker and the HTTP server (gunicorn). One serve per data dir. Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=serve_lock.DEFAULT_HOST)
        parser.add_argument("--port", type=int, default=serve_lock.DEFAULT_PORT)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8")))

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CLICKHOUSE_URL.startswith("chdb:"):
            # chdb locks its directory to one process; the server runs several.
            raise CommandError("CLICKHOUSE_URL=chdb://... is for tests and single-process tools; serve needs "
                               "a ClickHouse server (http://user:password@host:8123/database).")  # fmt: skip
        host: str = options["host"]
        port: int = options["port"]
        try:
            # Claimed already by `python -m posthog_clone serve`, before the embedded database started.
            run = serve_lock.held() or serve_lock.claim(host, port)
        except serve_lock.ServeRefused as refusal:
            raise CommandError(str(refusal)) from None
        data_dir = run.data_dir
        child_env = dict(os.environ)  # includes DATABASE_URL: settings resolved the embedded one if it was unset
        child_env["POSTHOG_CLONE_DATA_DIR"] = str(data_dir)
        child_env["SECRET_KEY"] = settings.SECRET_KEY
        if host in ALL_INTERFACES and "ALLOWED_HOSTS" not in os.environ:
            child_env["ALLOWED_HOSTS"] = "*"  # binding every interface says "reach me by any name"
        child_env.setdefault("SITE_URL", serve_lock.listen_url(host, port))
        if host in LOOPBACK_HOSTS:
            child_env.setdefault("METRICS_LOOPBACK", "true")  # only this machine can connect at all

        self._say("Applying migrations...")
        call_command("migrate", interactive=False, verbosity=0)
        if settings.CLICKHOUSE_URL:
            call_command("clickhouse_migrate", verbosity=0)

        children: list[tuple[str, Child]] = []
        stopping = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        register_process("serve")
        try:
            temporal_ui = None
            # What serve starts again when it exits: the web server and the worker keep their clients, and the
            # HTTP API keeps serving while Temporal or the worker come back.
            restarters: dict[str, Callable[[], Child]] = {}
            if not settings.TEMPORAL_ADDRESS:

                def start_temporal(port: int | None = None) -> embedded.TemporalDevServer:
                    return embedded.start_temporal_dev_server(
                        namespace=settings.TEMPORAL_NAMESPACE,
                        db_file=data_dir / "temporal.sqlite",
                        ui=True,
                        log_file=data_dir / "temporal.log",
                        port=port,
                        preexec_fn=embedded.terminated_with_parent(),
                        start_new_session=True,
                    )

                temporal = start_temporal()
                children.append(("temporal", temporal))
                child_env["TEMPORAL_ADDRESS"] = temporal.address
                temporal_ui = f"http://127.0.0.1:{temporal.ui_port}"
                # On the same port: the web server's and the worker's clients reconnect to it.
                restarters["temporal"] = partial(start_temporal, int(temporal.address.rsplit(":", 1)[1]))
            restarters["worker"] = partial(self._spawn, [*COMMAND_LINE, "run_worker"], child_env)
            children.append(("worker", restarters["worker"]()))
            web_command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                GUNICORN_CONFIG,
                "posthog_clone.wsgi:application",
                "--bind",
                f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}",
                "--workers",
                str(options["workers"]),
                "--threads",
                str(options["threads"]),
                "--graceful-timeout",
                str(int(SHUTDOWN_GRACE_SECONDS)),
                "--access-logfile",
                "-",
            ]
            children.append(("web", self._spawn(web_command, child_env)))
            if not self._wait_until_ready(host, port, child_env["SITE_URL"], children, lambda: stopping):
                return
            self._say(
                f"posthog-clone is listening on {child_env['SITE_URL']} (ready in "
                f"{time.monotonic() - run.started_monotonic:.1f} s; data in {data_dir})\n"
                f"  Temporal: {child_env.get('TEMPORAL_ADDRESS', settings.TEMPORAL_ADDRESS)}"
                + (f", UI {temporal_ui}" if temporal_ui else "")
                + "\n  Press Ctrl-C to stop."
            )
            restarted: dict[str, list[float]] = {name: [] for name in restarters}
            while not stopping:
                self._supervise(children, restarters, restarted)
                time.sleep(0.5)
        finally:
            self._stop_all(children)
            unregister_process()
            if run.metrics_dir is not None:
                shutil.rmtree(run.metrics_dir, ignore_errors=True)

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()  # read by people and scripts as it happens, even through a pipe

    @staticmethod
    def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # A session of its own, so Ctrl-C reaches only this supervisor, which then stops children in order; and
        # SIGTERM if the supervisor dies without stopping them (SIGKILL), so none outlives it.
        return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=embedded.terminated_with_parent())

    def _supervise(self, children: list[tuple[str, Child]], restarters: dict[str, Callable[[], Child]],
                   restarted: dict[str, list[float]]) -> None:  # fmt: skip
        """Start again a child that exited and may be restarted, at most MAX_RESTARTS times in RESTART_WINDOW; any
        other exit (the web server's, or one restart too many) stops the server with a failing status."""
        for index, (name, child) in enumerate(children):
            process = child.process if isinstance(child, embedded.TemporalDevServer) else child
            if process.poll() is None:
                continue
            exited = f"{name} exited with code {process.returncode}"
            now = time.monotonic()
            recent = [moment for moment in restarted.get(name, []) if now - moment < RESTART_WINDOW_SECONDS]
            if name not in restarters or len(recent) >= MAX_RESTARTS:
                # The rest is stopped on the way out; the exit status says the server did not end as asked.
                why = f" ({len(recent)} restarts in {RESTART_WINDOW_SECONDS:.0f} s)" if name in restarters else ""
                raise CommandError(f"{exited}{why}; the server stopped.")
            self.stderr.write(f"{exited}; starting it again.")
            restarted[name] = [*recent, now]
            try:
                children[index] = (name, restarters[name]())
            except (OSError, TimeoutError, RuntimeError) as error:
                raise CommandError(f"{exited}, and starting it again failed ({error}); the server stopped.") from None

    @staticmethod
    def _exited(children: list[tuple[str, Child]]) -> str | None:
        for name, child in children:
            process = child.process if isinstance(child, embedded.TemporalDevServer) else child
            if process.poll() is not None:
                return f"{name} exited with code {process.returncode}"
        return None

    def _wait_until_ready(
        self, host: str, port: int, site_url: str, children: list[tuple[str, Child]], stopping: Callable[[], bool]
    ) -> bool:
        """Wait until the started server answers `/_readyz` with 200 (False if asked to stop meanwhile)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS

        def waiting() -> bool:
            return not stopping() and time.monotonic() < deadline and self._exited(children) is None

        connect_host = serve_lock.DEFAULT_HOST if host in ALL_INTERFACES else host.strip("[]")
        last_answer = "no answer"
        while waiting():
            # The public Host, which ALLOWED_HOSTS accepts.
            status, last_answer = _get_readyz(connect_host, port, urlsplit(site_url).netloc, waiting)
            if status == 200:
                return True
            time.sleep(0.2)
        if stopping():
            return False
        if exited := self._exited(children):
            raise CommandError(f"{exited} before the server was ready.")
        raise CommandError(
            f"the server was not ready within {READY_TIMEOUT_SECONDS:.0f} s; /_readyz answered: {last_answer}"
        )

    def _stop_all(self, children: list[tuple[str, Child]]) -> None:
        """Stop the web server first, then the worker, then Temporal; the embedded database stops at exit."""
        for name, child in reversed(children):
            if isinstance(child, embedded.TemporalDevServer):
                child.stop(timeout=SHUTDOWN_GRACE_SECONDS)
                continue
            if not embedded.stop_process(child, timeout=SHUTDOWN_GRACE_SECONDS):
                self.stderr.write(f"{name} did not stop in {SHUTDOWN_GRACE_SECONDS:.0f} s; it was killed.")
        self._say("Stopped.")


def _get_readyz(host: str, port: int, host_header: str, waiting: Callable[[], bool]) -> tuple[int | None, str]:
    """One `GET /_readyz`: its status and a description of the answer, or None and why not. It waits in the listen
    queue until a web worker has started, in short slices so that Ctrl-C or a dead child is noticed meanwhile."""
    request = f"GET /_readyz HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode()
    answer = b""
    try:
        with socket.create_connection((host, port), timeout=READY_PROBE_SLICE_SECONDS) as connection:
            connection.sendall(request)
            while waiting():
                try:
                    chunk = connection.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                answer += chunk
    except OSError as error:  # refused until gunicorn listens
        return None, str(error)
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        return None, "no answer"
    return int(status_line[1]), f"{int(status_line[1])} {body[:500].decode(errors='replace')}"
