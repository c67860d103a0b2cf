import asyncio

from django.core.management.base import BaseCommand

from posthog_clone.process_metrics import register_process, unregister_process
from posthog_clone.temporal.worker import run_worker_until_stopped


class Command(BaseCommand):
    help = "Run the Temporal worker (evaluation runs) on TEMPORAL_ADDRESS / TEMPORAL_TASK_QUEUE."

    def handle(self, *args: object, **options: object) -> None:
        register_process("temporal-worker")
        try:
            asyncio.run(run_worker_until_stopped())
        finally:
            unregister_process()
