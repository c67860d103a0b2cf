"""`manage.py serve`: the whole stack in one command, on embedded defaults unless configured otherwise."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from posthog_clone import embedded

ALL_INTERFACES = {"0.0.0.0", "::", "[::]"}
SHUTDOWN_GRACE_SECONDS = 20.0
GUNICORN_CONFIG = "python:posthog_clone.gunicorn_conf"  # worker class, limits, JSON error pages


class Command(BaseCommand):
    help = (
        "Run the server: migrate, then start Temporal (embedded unless TEMPORAL_ADDRESS is set), "
        "one Temporal worker and the HTTP server (gunicorn). Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8")))

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CLICKHOUSE_URL.startswith("chdb:"):
            # chdb locks its directory to one process; the server runs several.
            raise CommandError("CLICKHOUSE_URL=chdb://... is for tests and single-process tools; serve needs "
                               "a ClickHouse server (http://user:password@host:8123/database).")  # fmt: skip
        host: str = options["host"]
        port: int = options["port"]
        data_dir = embedded.data_dir()
        child_env = dict(os.environ)  # includes DATABASE_URL: settings resolved the embedded one if it was unset
        child_env["POSTHOG_CLONE_DATA_DIR"] = str(data_dir)
        child_env["SECRET_KEY"] = settings.SECRET_KEY
        # The web processes' metrics, summed by /metrics (fresh for each run of the server).
        metrics_dir = data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        child_env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
        if host in ALL_INTERFACES and "ALLOWED_HOSTS" not in os.environ:
            child_env["ALLOWED_HOSTS"] = "*"  # binding every interface says "reach me by any name"
        if "SITE_URL" not in os.environ:
            public_host = "127.0.0.1" if host in ALL_INTERFACES else host
            child_env["SITE_URL"] = f"http://{public_host}:{port}"

        self.stdout.write("Applying migrations...")
        call_command("migrate", interactive=False, verbosity=0)
        if settings.CLICKHOUSE_URL:
            call_command("clickhouse_migrate", verbosity=0)

        children: list[tuple[str, subprocess.Popen[bytes] | embedded.TemporalDevServer]] = []
        stopping = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            temporal_ui = None
            if not settings.TEMPORAL_ADDRESS:
                temporal = embedded.start_temporal_dev_server(
                    namespace=settings.TEMPORAL_NAMESPACE,
                    db_file=data_dir / "temporal.sqlite",
                    ui=True,
                    log_file=data_dir / "temporal.log",
                )
                children.append(("temporal", temporal))
                child_env["TEMPORAL_ADDRESS"] = temporal.address
                temporal_ui = f"http://127.0.0.1:{temporal.ui_port}"
            manage_py = str(Path(settings.BASE_DIR) / "manage.py")
            children.append(("worker", self._spawn([sys.executable, manage_py, "run_worker"], child_env)))
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
                "--chdir",
                str(settings.BASE_DIR),
            ]
            children.append(("web", self._spawn(web_command, child_env)))
            embedded.wait_for_port("127.0.0.1" if host in ALL_INTERFACES else host.strip("[]"), port, timeout=60)
            self.stdout.write(
                f"posthog-clone is listening on {child_env['SITE_URL']} (data in {data_dir})\n"
                f"  Temporal: {child_env.get('TEMPORAL_ADDRESS', settings.TEMPORAL_ADDRESS)}"
                + (f", UI {temporal_ui}" if temporal_ui else "")
                + "\n  Press Ctrl-C to stop."
            )
            while not stopping:
                for name, child in children:
                    process = child.process if isinstance(child, embedded.TemporalDevServer) else child
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            self._stop_all(children)

    @staticmethod
    def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # A session of its own, so Ctrl-C reaches only this supervisor, which then stops children in order.
        return subprocess.Popen(command, env=env, start_new_session=True)

    def _stop_all(self, children: list[tuple[str, subprocess.Popen[bytes] | embedded.TemporalDevServer]]) -> None:
        """Stop the web server first, then the worker, then Temporal; the embedded database stops at exit."""
        for name, child in reversed(children):
            if isinstance(child, embedded.TemporalDevServer):
                child.stop(timeout=SHUTDOWN_GRACE_SECONDS)
                continue
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=SHUTDOWN_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{name} did not stop in {SHUTDOWN_GRACE_SECONDS:.0f}s; killing it.")
                    child.kill()
                    child.wait(timeout=5)
        self.stdout.write("Stopped.")
