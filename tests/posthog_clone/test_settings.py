"""Importing the settings starts nothing and writes nothing; the entry points prepare the environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings

REPO = Path(settings.BASE_DIR)


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import posthog_clone.settings"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_importing_settings_has_no_side_effects(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env["POSTHOG_CLONE_DATA_DIR"] = str(data_dir)

    unconfigured = import_settings(env)
    assert unconfigured.returncode != 0
    assert "SECRET_KEY is not set" in unconfigured.stderr
    assert not data_dir.exists()  # no key written, no PostgreSQL started under it

    no_database = import_settings({**env, "SECRET_KEY": "x"})
    assert "DATABASE_URL is not set" in no_database.stderr
    assert not data_dir.exists()

    configured = import_settings({**env, "SECRET_KEY": "x", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
    assert configured.returncode == 0, configured.stderr
    assert not data_dir.exists()

    proxied = import_settings({**env, "SECRET_KEY": "x", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
                               "TRUSTED_PROXIES": "10.0.0.1,proxy.local"})  # fmt: skip
    assert "ImproperlyConfigured: TRUSTED_PROXIES: 'proxy.local' is not an IP address or network." in proxied.stderr


def test_manage_py_prepares_the_embedded_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    env["POSTHOG_CLONE_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    secret = tmp_path / "data" / "secret_key"
    assert secret.exists()
    assert secret.stat().st_mode & 0o777 == 0o600


def test_deployment_checks_pass_behind_a_tls_proxy() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DEBUG="false", SITE_URL="https://posthog.example.com")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=env,
                            cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory outside pytest's own temporary root. Run as root, pgserver opens the folders above its data
    directory to the user it runs PostgreSQL as; pytest sets its root back to 0700 whenever a session starts, so a
    second pytest on the machine (another checkout's suite) would lock PostgreSQL out of a data directory there."""
    path = Path(tempfile.mkdtemp(prefix="posthog-clone-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_embedded_database_stops_after_a_holder_was_killed(shared_tmp: Path) -> None:
    """pgserver stops its server when the last process holding it exits. A holder SIGKILLed (no exit handler runs)
    stays listed; the next process to use the server forgets it, so its own normal exit stops the server."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["POSTHOG_CLONE_DATA_DIR"] = str(shared_tmp / "data")
    pgdata = str(shared_tmp / "data" / "postgres")
    # Exits within two minutes whatever happens (SIGALRM), so reading its "ok" is a bounded wait.
    hold = ("import signal; signal.alarm(120); from posthog_clone import embedded; embedded.ensure_embedded_postgres(); "
            "print('ok', flush=True); input()")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", hold], env=env, cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)  # fmt: skip
    postmasters: list[psutil.Process] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ok\n"
        postmasters = [p for p in psutil.process_iter(["cmdline"]) if pgdata in (p.info["cmdline"] or [])]
        assert len(postmasters) == 1
        holder.kill()
        holder.wait(timeout=10)

        use = "from posthog_clone import embedded; embedded.ensure_embedded_postgres()"
        last = subprocess.run([sys.executable, "-c", use], env=env, cwd=REPO, capture_output=True, timeout=120)
        assert last.returncode == 0, last.stderr
        _, alive = psutil.wait_procs(postmasters, timeout=60)
        assert alive == [], "the embedded PostgreSQL kept running after its last live holder exited"
    finally:
        holder.kill()
        holder.wait(timeout=10)
        for postmaster in postmasters:
            if postmaster.is_running():
                postmaster.terminate()
