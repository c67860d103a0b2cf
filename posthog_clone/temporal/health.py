"""A trivial workflow that proves a worker is polling the task queue (used by tests and operators)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="health-check")
def health_check_activity(payload: str) -> str:
    return f"ok:{payload}"


@workflow.defn(name="health-check")
class HealthCheckWorkflow:
    @workflow.run
    async def run(self, payload: str) -> str:
        return await workflow.execute_activity(
            health_check_activity, payload, start_to_close_timeout=timedelta(seconds=30)
        )
