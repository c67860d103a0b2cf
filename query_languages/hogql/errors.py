"""The one error HogQL raises: a message and where in the query text the problem is."""

from __future__ import annotations


class HogQLError(ValueError):
    def __init__(
        self, message: str, start: int | None = None, end: int | None = None, *, code: str = "hogql_query_error"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end
        self.code = code  # PostHog's: hogql_syntax_error for text that does not parse

    def __str__(self) -> str:
        if self.start is None:
            return self.message
        return f"{self.message} (at position {self.start})"
