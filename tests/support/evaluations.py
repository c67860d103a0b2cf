"""The evaluation worker on a thread of the test process, and a bounded wait."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from posthog_clone.temporal.worker import run_worker

WORKER_STOP_TIMEOUT_SECONDS = 30


class BackgroundWorker:
    """`run_worker` on a thread with its own event loop, stopped (gracefully) by `stop()`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="test-worker", daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            self.ready.set()
            await run_worker(self.stop_event)

        try:
            self.loop.run_until_complete(main())
        except BaseException as error:  # surfaced by stop()
            self.error = error
        finally:
            self.ready.set()

    def start(self) -> BackgroundWorker:
        self.thread.start()
        assert self.ready.wait(30), "the worker thread did not start"
        return self

    def stop(self) -> None:
        if self.stop_event is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(WORKER_STOP_TIMEOUT_SECONDS)
        assert not self.thread.is_alive(), "the worker did not stop"
        if self.error is not None:
            raise self.error


def wait_until(condition: Callable[[], Any], *, timeout: float = 60, message: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (and return that), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{message} did not happen within {timeout}s")
