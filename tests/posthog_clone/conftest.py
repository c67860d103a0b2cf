"""The evaluation worker fixtures, for the operations tests that follow a run."""

from tests.evaluations.conftest import evaluation_worker, fake_llm, task_queue

__all__ = ["evaluation_worker", "fake_llm", "task_queue"]
