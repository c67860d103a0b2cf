"""Fixtures for evaluation runs: the fake judge, a task queue of the test's own, and the real worker (workflows,
activities and the online-run dispatcher) running on a thread of the test process."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from posthog_clone import embedded
from posthog_clone.temporal.worker import run_worker
from tests.evaluations.fake_llm import FakeLLM

WORKER_STOP_TIMEOUT_SECONDS = 30


@pytest.fixture
def fake_llm(settings: Any) -> Iterator[FakeLLM]:
    llm = FakeLLM().start()
    settings.LLMA_EVAL_OPENAI_BASE_URL = llm.base_url
    settings.LLMA_EVAL_OPENAI_API_KEY = "sk-test-judge"
    settings.LLMA_EVAL_MODEL = "judge-test-model"
    try:
        yield llm
    finally:
        llm.stop()


@pytest.fixture
def no_judge(settings: Any) -> None:
    settings.LLMA_EVAL_OPENAI_BASE_URL = ""
    settings.LLMA_EVAL_OPENAI_API_KEY = ""


@pytest.fixture
def task_queue(settings: Any, temporal_settings: embedded.TemporalDevServer) -> str:
    """A task queue of this test's own, so no other test's worker picks up its workflows."""
    settings.TEMPORAL_TASK_QUEUE = f"test-{uuid.uuid4().hex}"
    settings.EVALUATION_DISPATCH_INTERVAL_SECONDS = 0.1
    return settings.TEMPORAL_TASK_QUEUE


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


@pytest.fixture
def evaluation_worker(task_queue: str, fake_llm: FakeLLM) -> Iterator[BackgroundWorker]:
    worker = BackgroundWorker().start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_until(condition: Callable[[], Any], *, timeout: float = 60, message: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (and return that), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{message} did not happen within {timeout}s")
