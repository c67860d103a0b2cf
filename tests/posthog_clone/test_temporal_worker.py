"""The worker built from settings runs workflows against a real Temporal dev server."""

from __future__ import annotations

import asyncio
import uuid

from django.conf import settings

from posthog_clone import embedded
from posthog_clone.temporal.client import connect
from posthog_clone.temporal.health import HealthCheckWorkflow
from posthog_clone.temporal.worker import build_worker


def test_worker_runs_the_health_check_workflow(temporal_settings: embedded.TemporalDevServer) -> None:
    async def scenario() -> str:
        client = await connect()
        async with build_worker(client):
            return await client.execute_workflow(
                HealthCheckWorkflow.run,
                "ping",
                id=f"health-{uuid.uuid4()}",
                task_queue=settings.TEMPORAL_TASK_QUEUE,
            )

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=60)) == "ok:ping"
