"""What `serve` does before anything starts: hold its data dir's lock, check that its port is free, and give the run
a metrics directory of its own.

The lock is `flock` on `<data dir>/serve.lock`, which the kernel releases when its holder dies, however it dies: a
killed `serve` leaves nothing that refuses the next one. The file names the holder (pid, address, start time) for
the message a second `serve` prints. Nothing here imports Django: `python -m posthog_clone serve` claims the lock
before the embedded PostgreSQL starts.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from posthog_clone import embedded

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
ALL_INTERFACES = {"0.0.0.0", "::", "[::]"}
LOCK_FILE = "serve.lock"
METRICS_DIR = "metrics"


class ServeRefused(Exception):
    """Another `serve` holds the data dir, or the address cannot be listened on."""


@dataclass
class ServeRun:
    """The running `serve`: the lock it holds (open for the life of the process) and where its metrics live."""

    lock_fd: int
    data_dir: Path
    address: str
    started_monotonic: float
    # The run's own multiprocess directory; None when PROMETHEUS_MULTIPROC_DIR was configured by the user.
    metrics_dir: Path | None


_held: ServeRun | None = None


def held() -> ServeRun | None:
    """This process's run, if it claimed one."""
    return _held


def listen_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to host:port."""
    public_host = DEFAULT_HOST if host in ALL_INTERFACES else host.strip("[]")
    return f"http://[{public_host}]:{port}" if ":" in public_host else f"http://{public_host}:{port}"


def claim(host: str, port: int) -> ServeRun:
    """Take the data dir's lock, check the port, then set up the run's metrics directory (in this order: a refused
    `serve` changes nothing)."""
    global _held
    if _held is not None:
        return _held
    started = time.monotonic()
    data_dir = embedded.data_dir()
    lock_fd = _lock(data_dir)
    try:
        check_port_free(host, port)
    except ServeRefused:
        os.close(lock_fd)
        raise
    address = listen_url(host, port)
    holder = {"pid": os.getpid(), "address": address, "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, json.dumps(holder).encode(), 0)
    _held = ServeRun(lock_fd, data_dir, address, started, _fresh_metrics_dir(data_dir))
    return _held


def claim_from_command_line(args: list[str]) -> None:
    """`python -m posthog_clone serve …`: claim before anything starts, or exit with the reason (status 1)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    try:
        options, _ = parser.parse_known_args(args)
    except argparse.ArgumentError:
        return  # Django's parser reports the bad argument (serve claims for itself when this did not)
    try:
        claim(options.host, options.port)
    except ServeRefused as refusal:
        sys.stderr.write(f"{refusal}\n")
        sys.exit(1)


def _lock(data_dir: Path) -> int:
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children (PEP 446)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise ServeRefused(
            f"posthog-clone serve is already running on {data_dir}: pid {holder.get('pid', '?')}, "
            f"{holder.get('address', 'address unknown')}, started {holder.get('started_at', '?')}. "
            f"Stop it first (Ctrl-C, or kill {holder.get('pid', '<pid>')}), or set POSTHOG_CLONE_DATA_DIR to "
            "another directory."
        ) from None
    return fd


def _read_holder(fd: int) -> dict[str, object]:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:  # the holder is writing it this very moment
        return {}
    return holder if isinstance(holder, dict) else {}


def check_port_free(host: str, port: int) -> None:
    """Bind host:port as gunicorn will (SO_REUSEADDR) and let go, so a taken port is reported before anything
    starts rather than by a web server that gives up after seconds of retries."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]  # fmt: skip
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ServeRefused(
                f"port {port} is already in use on {host}: another server listens there. Stop it, or choose "
                "another port with --port."
            ) from None
        raise ServeRefused(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _fresh_metrics_dir(data_dir: Path) -> Path | None:
    """A new `<data dir>/metrics/<pid>` for this run's processes, after removing what dead runs left there (only
    the lock's holder gets here, so nothing in it belongs to a live run)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    root = data_dir / METRICS_DIR
    root.mkdir(exist_ok=True)
    for stale in root.iterdir():
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    run_dir = root / str(os.getpid())
    run_dir.mkdir()
    # Set before prometheus_client is first imported, so this process's own metrics are multiprocess ones too.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(run_dir)
    return run_dir
