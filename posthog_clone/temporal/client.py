"""The Temporal client, configured from settings; the only place that knows how to reach Temporal.

The worker connects with `connect()`. Web requests and the run dispatcher, which are synchronous, start workflows
with `start_workflows()`: it runs on one event loop thread per process that keeps a connected client, and every
call is bounded in time, so an unreachable Temporal answers within seconds instead of holding a thread.
"""

from __future__ import annotations

import asyncio
import enum
import os
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

T = TypeVar("T")
# Statuses that mean "Temporal cannot take this now"; anything else rejects the request itself.
TRANSIENT_STATUSES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.CANCELLED,
}


def temporal_address() -> str:
    if not settings.TEMPORAL_ADDRESS:
        raise ImproperlyConfigured(
            "TEMPORAL_ADDRESS is not set: run `manage.py serve`, which starts a Temporal dev server, "
            "or point TEMPORAL_ADDRESS at a Temporal frontend (host:port)."
        )
    return settings.TEMPORAL_ADDRESS


async def connect(*, timeout_seconds: float | None = None) -> Client:
    """A client for the configured Temporal. With a timeout, connecting and every call fail fast instead of
    retrying for long (what request paths need); without, the SDK's patient defaults apply (the worker)."""
    if timeout_seconds is None:
        return await Client.connect(temporal_address(), namespace=settings.TEMPORAL_NAMESPACE)
    return await Client.connect(
        temporal_address(),
        namespace=settings.TEMPORAL_NAMESPACE,
        connect_timeout=timedelta(seconds=timeout_seconds),
        retry_config=RetryConfig(max_retries=1, max_elapsed_time_millis=int(timeout_seconds * 1000)),
    )


class StartOutcome(enum.Enum):
    STARTED = "started"
    ALREADY_STARTED = "already_started"  # a workflow with this id exists and the policies forbid another
    UNAVAILABLE = "unavailable"  # Temporal could not be reached in time; nothing was started
    REJECTED = "rejected"  # Temporal refused this start (too large, bad namespace...); retrying will not help


@dataclass(frozen=True)
class WorkflowStart:
    workflow: str
    arg: Any
    id: str
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE
    id_conflict_policy: WorkflowIDConflictPolicy = WorkflowIDConflictPolicy.UNSPECIFIED
    retry_policy: RetryPolicy | None = None
    task_timeout: timedelta | None = None


@dataclass(frozen=True)
class StartResult:
    outcome: StartOutcome
    message: str = ""


class _ClientThread:
    """An event loop on a daemon thread, holding one client per (address, namespace)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.clients: dict[tuple[str, str], Client] = {}
        threading.Thread(target=self.loop.run_forever, name="temporal-client", daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, timeout), self.loop)
        try:
            return future.result(timeout + 1)
        finally:
            future.cancel()

    async def client(self, timeout_seconds: float) -> Client:
        key = (temporal_address(), settings.TEMPORAL_NAMESPACE)
        if key not in self.clients:
            self.clients[key] = await connect(timeout_seconds=timeout_seconds)
        return self.clients[key]


_client_thread: _ClientThread | None = None
_client_thread_lock = threading.Lock()


def _thread() -> _ClientThread:
    global _client_thread
    with _client_thread_lock:
        # A forked child (gunicorn worker) cannot use its parent's thread: it gets its own.
        if _client_thread is None or _client_thread.pid != os.getpid():
            _client_thread = _ClientThread()
        return _client_thread


def _failure(error: BaseException) -> StartResult:
    if isinstance(error, WorkflowAlreadyStartedError):
        return StartResult(StartOutcome.ALREADY_STARTED)
    if isinstance(error, RPCError) and error.status not in TRANSIENT_STATUSES:
        return StartResult(StartOutcome.REJECTED, error.message)
    return StartResult(StartOutcome.UNAVAILABLE, str(error) or type(error).__name__)


def start_workflows(starts: Sequence[WorkflowStart], *, task_queue: str | None = None) -> list[StartResult]:
    """Start the workflows concurrently and say what happened to each, within TEMPORAL_START_TIMEOUT_SECONDS."""
    if not starts:
        return []
    timeout = settings.TEMPORAL_START_TIMEOUT_SECONDS
    thread = _thread()

    async def start_all() -> list[StartResult]:
        client = await thread.client(timeout)

        async def start_one(start: WorkflowStart) -> StartResult:
            await client.start_workflow(
                start.workflow,
                start.arg,
                id=start.id,
                task_queue=task_queue or settings.TEMPORAL_TASK_QUEUE,
                id_reuse_policy=start.id_reuse_policy,
                id_conflict_policy=start.id_conflict_policy,
                retry_policy=start.retry_policy,
                task_timeout=start.task_timeout,
                rpc_timeout=timedelta(seconds=timeout),
            )
            return StartResult(StartOutcome.STARTED)

        outcomes = await asyncio.gather(*(start_one(start) for start in starts), return_exceptions=True)
        return [o if isinstance(o, StartResult) else _failure(o) for o in outcomes]

    try:
        return thread.run(start_all(), timeout)
    except Exception as error:  # connecting failed or the whole batch timed out
        return [_failure(error) for _ in starts]


def temporal_problem() -> str | None:
    """Why Temporal cannot serve now (not configured, unreachable, unhealthy), or None; within the start timeout."""
    timeout = settings.TEMPORAL_START_TIMEOUT_SECONDS
    thread = _thread()

    async def check() -> bool:
        client = await thread.client(timeout)
        return await client.service_client.check_health(timeout=timedelta(seconds=timeout))

    try:
        return None if thread.run(check(), timeout) else "Temporal reports itself unhealthy"
    except Exception as error:
        return str(error) or type(error).__name__
