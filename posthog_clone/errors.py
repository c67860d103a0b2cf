"""Domain errors: what services and selectors raise when a request cannot be served. They know nothing of HTTP
frameworks, so the Temporal worker can share the services; the API layer (`posthog_clone.api.exceptions`) renders
them as PostHog's error body, with the status their `kind` implies."""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "unavailable", "timeout"]


class DomainError(Exception):
    """A failure the caller can act on: `code` is what clients branch on, `attr` the input field at fault."""

    kind: ErrorKind = "invalid"

    def __init__(self, detail: str, *, code: str, attr: str | None = None, kind: ErrorKind | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.attr = attr
        if kind is not None:
            self.kind = kind


class NotFound(DomainError):
    kind = "not_found"

    def __init__(self, detail: str, *, code: str = "not_found", attr: str | None = None) -> None:
        super().__init__(detail, code=code, attr=attr)


class Unavailable(DomainError):
    """A service this request needs is down or not configured. `retryable`: whether trying again later can
    succeed (a server down) or not until someone changes the setup (a judge not configured); only the first answers
    with `Retry-After`."""

    kind = "unavailable"

    def __init__(self, detail: str, *, code: str, attr: str | None = None, retryable: bool = True) -> None:
        super().__init__(detail, code=code, attr=attr)
        self.retryable = retryable


class Timeout(DomainError):
    """The work took longer than it may; it was stopped and nothing of it remains."""

    kind = "timeout"
