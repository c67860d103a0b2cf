"""One run's budgets: steps, time, memory and call depth, and the lines it printed. The only state a Hog run has
outside its own frames."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from query_languages.hog.errors import HogMemoryError, HogStepLimitError, HogTimeoutError


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may use. The defaults are for a program judging one event (see the package's docstring)."""

    timeout_seconds: float = 2.0
    max_steps: int = 2_000_000
    max_memory_bytes: int = 64 * 2**20
    max_call_depth: int = 64
    max_print_lines: int = 1_000


class Run:
    """The state of one run: budgets, the call depth, the printed lines and the globals."""

    __slots__ = ("calls", "deadline", "globals", "limits", "max_memory", "max_steps", "memory", "printed", "steps",
                 "timeout")  # fmt: skip

    def __init__(self, limits: Limits, globals_: dict[str, Any]) -> None:
        self.limits = limits
        self.globals = globals_
        self.steps = 0
        self.max_steps = limits.max_steps
        self.memory = 0
        self.max_memory = limits.max_memory_bytes
        self.calls = 0
        self.printed: list[str] = []
        self.timeout = limits.timeout_seconds
        self.deadline = time.monotonic() + limits.timeout_seconds

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise HogStepLimitError(f"Execution exceeded the step limit ({self.max_steps:,} steps)")
        if time.monotonic() > self.deadline:
            raise HogTimeoutError(f"Execution timed out ({self.timeout:g}s limit exceeded)")

    def alloc(self, size: int) -> None:
        self.memory += size
        if self.memory > self.max_memory:
            raise HogMemoryError("Memory limit exceeded")
