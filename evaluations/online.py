"""Which enabled evaluations a newly ingested `$ai_generation` event triggers, as PostHog's evaluation scheduler
decides it: a condition matches when all its property filters do, an evaluation triggers when any of its
conditions matches and the event falls inside that condition's rollout. No conditions, no runs. Pure functions:
the runs are written by `evaluations.scheduling`."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from events.records import EventInput
from query_languages import (
    EventView,
    Matcher,
    PropertyFilterError,
    compile_matcher,
    parse_property_filters,
    pattern_problem,
)

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OnlineCondition:
    matches: Matcher
    rollout_percentage: float


@dataclass(frozen=True)
class OnlineEvaluation:
    id: uuid.UUID
    conditions: tuple[OnlineCondition, ...]


def online_evaluation(evaluation_id: uuid.UUID, conditions: Any) -> OnlineEvaluation:
    """An evaluation's stored conditions, parsed once per ingested batch. (They were validated when saved; one
    that no longer parses is skipped rather than failing ingestion.)"""
    parsed = []
    for condition in conditions if isinstance(conditions, list) else []:
        try:
            properties = parse_property_filters(condition.get("properties"), regex_check=pattern_problem)
            rollout = float(condition.get("rollout_percentage", 100))
        except (PropertyFilterError, AttributeError, TypeError, ValueError) as error:
            logger.warning("evaluation_condition_skipped", evaluation_id=str(evaluation_id), error=str(error))
            continue
        parsed.append(OnlineCondition(matches=compile_matcher(properties), rollout_percentage=rollout))
    return OnlineEvaluation(id=evaluation_id, conditions=tuple(parsed))


def rollout_bucket(event_uuid: uuid.UUID | str) -> float:
    """Where an event falls for sampling, in [0, 100) by steps of 0.01: the first 8 hex digits of md5(uuid)."""
    return int(hashlib.md5(str(event_uuid).encode()).hexdigest()[:8], 16) % 10000 / 100


def in_rollout(event_uuid: uuid.UUID | str, percentage: float) -> bool:
    return percentage >= 100 or rollout_bucket(event_uuid) < percentage


def triggered(evaluations: Sequence[OnlineEvaluation], event: EventInput) -> list[uuid.UUID]:
    """The ids of the evaluations `event` triggers. Person properties are not read (as in PostHog's scheduler,
    person filters never match here). The sampling test comes first: it is the same for every condition and far
    cheaper than matching, so an event outside every rollout costs one hash."""
    event_uuid = str(event.uuid)
    bucket: float | None = None
    view: EventView | None = None
    found = []
    for evaluation in evaluations:
        for condition in evaluation.conditions:
            if condition.rollout_percentage < 100:
                bucket = rollout_bucket(event_uuid) if bucket is None else bucket
                if bucket >= condition.rollout_percentage:
                    continue
            if view is None:
                view = EventView(event.properties, event.event, event.distinct_id, event_uuid, event.timestamp,
                                 event.elements_chain)  # fmt: skip
            if condition.matches(view):
                found.append(evaluation.id)
                break
    return found
