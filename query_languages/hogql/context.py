"""What printing HogQL knows of its caller: the project, its time zone, and now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo


@dataclass(frozen=True)
class Context:
    team_id: int
    timezone: str  # the project's, e.g. "UTC"
    tz: tzinfo
    now: datetime
