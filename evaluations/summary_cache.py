"""Where evaluation summaries are kept for an hour: Redis when REDIS_URL is set, else a PostgreSQL table. Never
process memory, so every web process serves what any of them asked the judge for."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from evaluations.models import EvaluationSummaryCache

TTL = timedelta(hours=1)
# One write in this many also deletes the table's expired rows (Redis expires its own).
CLEANUP_ONE_IN = 100


def cache_key(*, team_id: int, evaluation_id: uuid.UUID, filter: str, generation_ids: Iterable[str]) -> str:
    """PostHog's key: what was summarised is the set of generations, so a new result is a new summary."""
    digest = hashlib.sha256(",".join(sorted(generation_ids)).encode()).hexdigest()[:12]
    return f"llm_eval_summary:{team_id}:{evaluation_id}:{filter}:{digest}"


def cached_summary(*, key: str) -> dict[str, Any] | None:
    if settings.REDIS_URL:
        raw = _redis(settings.REDIS_URL).get(key)
        return json.loads(raw) if raw is not None else None
    row = EvaluationSummaryCache.objects.filter(key=key, expires_at__gt=timezone.now()).only("value").first()
    return row.value if row is not None else None


def summary_cache_put(*, key: str, team_id: int, evaluation_id: uuid.UUID, value: dict[str, Any]) -> None:
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).set(key, json.dumps(value), ex=int(TTL.total_seconds()))
        return
    now = timezone.now()
    EvaluationSummaryCache.objects.update_or_create(
        key=key, defaults={"team_id": team_id, "evaluation_id": evaluation_id, "value": value, "expires_at": now + TTL}
    )
    if random.randrange(CLEANUP_ONE_IN) == 0:
        EvaluationSummaryCache.objects.filter(expires_at__lt=now).delete()


@functools.lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    import redis  # only deployments with Redis pay for the import

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
