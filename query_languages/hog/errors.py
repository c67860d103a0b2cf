"""The errors a Hog program can end with: one for source that does not compile, one for a run that fails or
exceeds a limit. Both carry the message a user reads (PostHog's wording where it has one)."""

from __future__ import annotations


class HogError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class HogCompileError(HogError):
    """Source that is not a Hog program; the message names the line and column (1-based) when there is one."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        super().__init__(f"{message} (line {line}, column {column})" if line is not None else message)


class HogRuntimeError(HogError):
    """A run that failed: "Runtime error: …" for the program's own mistakes, or a sandbox limit. `printed` holds
    the lines the program printed before it failed."""

    # What went wrong, for logs and metrics: runtime_error, timeout, memory, steps, recursion, internal
    kind = "runtime_error"

    def __init__(self, message: str, printed: list[str] | None = None) -> None:
        super().__init__(message)
        self.printed: list[str] = printed if printed is not None else []


class HogTimeoutError(HogRuntimeError):
    kind = "timeout"


class HogMemoryError(HogRuntimeError):
    kind = "memory"


class HogStepLimitError(HogRuntimeError):
    kind = "steps"


class HogRecursionError(HogRuntimeError):
    kind = "recursion"


class HogInternalError(HogRuntimeError):
    """An exception the interpreter did not expect (a bug of ours), reported as a runtime error all the same."""

    kind = "internal"
