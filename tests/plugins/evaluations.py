"""Fixtures for evaluation runs: the fake judge, a task queue of the test's own, and the real worker (workflows,
activities and the online-run dispatcher) running on a thread of the test process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_clone import embedded
from tests.evaluations.fake_llm import FakeLLM
from tests.support.evaluations import BackgroundWorker


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
def provider_llm(settings: Any) -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server, standing in for OpenAI's API where provider keys are checked."""
    llm = FakeLLM().start()
    settings.LLMA_PROVIDER_OPENAI_BASE_URL = llm.base_url
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


@pytest.fixture
def evaluation_worker(task_queue: str, fake_llm: FakeLLM) -> Iterator[BackgroundWorker]:
    worker = BackgroundWorker().start()
    try:
        yield worker
    finally:
        worker.stop()
