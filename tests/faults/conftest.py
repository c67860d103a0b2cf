"""The evaluation fixtures the run fault tests need (the fake judge, a task queue of their own)."""

from tests.evaluations.conftest import fake_llm, task_queue

__all__ = ["fake_llm", "task_queue"]
