"""What the evaluation run services raise; the API layer renders each as PostHog's error body."""

from __future__ import annotations

import uuid

from posthog_clone.errors import DomainError, NotFound, Unavailable
from posthog_clone.llm import JUDGE_NOT_CONFIGURED


def evaluation_not_found(evaluation_id: uuid.UUID) -> DomainError:
    return NotFound(f"Evaluation {evaluation_id} not found.")


def event_not_found(event_id: uuid.UUID, *, why: str = "") -> DomainError:
    """PostHog's "Event <id> not found.", followed by why when an event with that id exists but is not the one
    asked for (a newcomer's first run is often on a `$pageview`)."""
    return NotFound(f"Event {event_id} not found." + (f" {why}" if why else ""))


def llm_judge_not_configured() -> DomainError:
    return Unavailable(JUDGE_NOT_CONFIGURED, code="llm_judge_not_configured", retryable=False)


def temporal_unavailable() -> DomainError:
    return Unavailable(
        "Temporal could not be reached, so the evaluation was not started; try again later.",
        code="temporal_unavailable",
    )


def workflow_rejected(message: str) -> DomainError:
    return DomainError(f"Temporal refused to start the evaluation: {message}", code="workflow_rejected")


def too_many_identical_runs() -> DomainError:
    return DomainError(
        "Too many runs of this evaluation on this event were started at once; retry.",
        code="concurrent_run",
        kind="conflict",
    )
