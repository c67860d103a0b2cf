"""The Temporal worker: runs every workflow and activity listed in settings on the configured task queue."""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from django.conf import settings
from django.utils.module_loading import import_string
from temporalio.client import Client
from temporalio.worker import Worker

from posthog_clone.temporal.client import connect

logger = structlog.get_logger(__name__)
# Activities are synchronous (they use the ORM), so they run on threads.
ACTIVITY_THREADS = 16


def build_worker(client: Client, *, task_queue: str | None = None) -> Worker:
    workflows: list[Any] = [import_string(path) for path in settings.TEMPORAL_WORKFLOWS]
    activities: list[Any] = [import_string(path) for path in settings.TEMPORAL_ACTIVITIES]
    return Worker(
        client,
        task_queue=task_queue or settings.TEMPORAL_TASK_QUEUE,
        workflows=workflows,
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=ACTIVITY_THREADS),
        max_concurrent_activities=ACTIVITY_THREADS,
    )


async def run_worker_until_stopped() -> None:
    """Run until SIGINT/SIGTERM, then let in-flight tasks finish (Temporal's graceful shutdown)."""
    client = await connect()
    worker = build_worker(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logger.info(
        "temporal_worker_started",
        address=settings.TEMPORAL_ADDRESS,
        namespace=settings.TEMPORAL_NAMESPACE,
        task_queue=settings.TEMPORAL_TASK_QUEUE,
    )
    async with worker:
        await stop.wait()
    logger.info("temporal_worker_stopped")
