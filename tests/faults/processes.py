"""Processes a fault test owns and may stop, start or kill: a PostgreSQL cluster of its own and the web server under
gunicorn (as `serve` runs it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import requests
from django.conf import settings

from posthog_clone import embedded

REPO = Path(settings.BASE_DIR)
PROCESS_TIMEOUT_SECONDS = 60


class TemporaryPostgres:
    """A cluster under `root` on a loopback port (pgserver's binaries, run as its own user when we are root)."""

    def __init__(self, root: Path) -> None:
        import pgserver

        self.pgserver = pgserver
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = embedded.free_port()
        self.user = None
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "pgserver"
            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(root)
            shutil.chown(root, user=entry.pw_uid, group=entry.pw_gid)
        pgserver.initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=self.data, user=self.user)

    def start(self) -> TemporaryPostgres:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data}"
        self.pgserver.pg_ctl(["-w", "-o", options, "-l", str(self.log), "start"], pgdata=self.data, user=self.user,
                             timeout=PROCESS_TIMEOUT_SECONDS)  # fmt: skip
        return self

    def stop(self) -> None:
        self.pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data, user=self.user,
                             timeout=PROCESS_TIMEOUT_SECONDS)  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=PROCESS_TIMEOUT_SECONDS, check=True,
    ).stdout  # fmt: skip


def migrate(env: dict[str, str]) -> None:
    manage(env, "migrate", "--no-input")


def bootstrap(env: dict[str, str]) -> dict[str, str]:
    """Make a user, organization and project in the (migrated) database in `env`; returns bootstrap's output."""
    output = manage(env, "bootstrap", "--email", "faults@example.com", "--password", "fault-tolerant",
                    "--organization", "Faults", "--project", "Faults", "--scopes", "*", "--json")  # fmt: skip
    return json.loads(output)


def server_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "TEMPORAL_ADDRESS"}}
    env.update(POSTHOG_CLONE_DATA_DIR=str(tmp_path / "data"), SECRET_KEY="fault-tests", LOG_LEVEL="WARNING")
    env.update(overrides)
    return env


class WebServer:
    """gunicorn with the server's WSGI app, as `serve` starts it."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, threads: int = 4, log: Path | None = None) -> None:
        self.port = embedded.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:posthog_clone.gunicorn_conf",
             "posthog_clone.wsgi:application", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--threads", str(threads), "--timeout", "30", "--access-logfile", "-"],
            cwd=REPO, env={**env, "SITE_URL": self.base_url}, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        embedded.wait_for_port("127.0.0.1", self.port, timeout=PROCESS_TIMEOUT_SECONDS, process=self.process)

    def worker_pids(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/_health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        embedded.stop_process(self.process, timeout=PROCESS_TIMEOUT_SECONDS)
