"""The Temporal worker: runs every workflow and activity listed in settings on the configured task queue, plus
the loops listed in TEMPORAL_WORKER_LOOPS (the dispatcher of online evaluation runs) on threads beside it."""

from __future__ import annotations

import asyncio
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.utils.module_loading import import_string
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from posthog_clone.temporal.activities import close_activity_connections
from posthog_clone.temporal.client import connect

logger = structlog.get_logger(__name__)
# Activities that use the ORM are synchronous, so they run on threads.
ACTIVITY_THREADS = 16
LOOP_STOP_TIMEOUT_SECONDS = 10.0


def build_worker(
    client: Client, *, task_queue: str | None = None, activity_executor: ThreadPoolExecutor | None = None
) -> Worker:
    workflows: list[Any] = [import_string(path) for path in settings.TEMPORAL_WORKFLOWS]
    activities: list[Any] = [import_string(path) for path in settings.TEMPORAL_ACTIVITIES]
    return Worker(
        client,
        task_queue=task_queue or settings.TEMPORAL_TASK_QUEUE,
        workflows=workflows,
        activities=activities,
        activity_executor=activity_executor or ThreadPoolExecutor(max_workers=ACTIVITY_THREADS),
        # Workflow modules are re-imported into the sandbox for each workflow; what they import of ours for their
        # activities is passed through, or every workflow would import the ORM anew.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*settings.TEMPORAL_PASSTHROUGH_MODULES)
        ),
        max_concurrent_activities=ACTIVITY_THREADS,
        # A worker that died holding a workflow's sticky queue delays that workflow by this much.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=5),
    )


async def run_worker(stop: asyncio.Event) -> None:
    """Poll until `stop` is set, then let in-flight tasks finish (Temporal's graceful shutdown) and stop the
    loops."""
    client = await connect()
    # Ours to shut down, so that no activity is running when their database connections are closed.
    executor = ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity")
    worker = build_worker(client, activity_executor=executor)
    loops_stop = threading.Event()
    loops = [
        threading.Thread(target=import_string(path), args=(loops_stop,), name=path, daemon=True)
        for path in settings.TEMPORAL_WORKER_LOOPS
    ]
    for thread in loops:
        thread.start()
    logger.info(
        "temporal_worker_started",
        address=settings.TEMPORAL_ADDRESS,
        namespace=settings.TEMPORAL_NAMESPACE,
        task_queue=settings.TEMPORAL_TASK_QUEUE,
    )
    try:
        async with worker:
            await stop.wait()
    finally:
        loops_stop.set()
        for thread in loops:
            await asyncio.to_thread(thread.join, LOOP_STOP_TIMEOUT_SECONDS)
        await asyncio.to_thread(executor.shutdown, wait=True)
        await asyncio.to_thread(close_activity_connections)
    logger.info("temporal_worker_stopped")


async def run_worker_until_stopped() -> None:
    """`run_worker` until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(stop)
