"""The worker built from settings runs workflows against a real Temporal dev server."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from pathlib import Path

import pytest
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


def test_a_dev_server_that_cannot_start_says_why_at_once(tmp_path: Path) -> None:
    """A taken port ends the start when the server exits, not at the startup timeout, with what its log said."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(embedded.TemporalExitedError) as refused:
            embedded.start_temporal_dev_server(
                namespace="default", db_file=None, ui=False, log_file=tmp_path / "temporal.log", port=port,
                startup_timeout=120,
            )  # fmt: skip
    assert time.monotonic() - started < 60
    assert "address already in use" in str(refused.value)
