"""The record every writer of events hands to `events.services.events_capture`: the capture API (after decoding a
request) and the evaluation worker (its `$ai_evaluation` events). Nothing here knows about HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EventInput:
    """One validated event ready to store. A uuid seen before in the project is stored once."""

    uuid: uuid.UUID
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    elements_chain: str = ""
