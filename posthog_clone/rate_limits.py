"""Request counters every process shares, for rate limits: fixed windows kept in Redis when REDIS_URL is set,
otherwise in an unlogged PostgreSQL table. Nothing is counted in process memory, so limits hold across any number
of web processes."""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# One request in this many also deletes the database's expired windows.
CLEANUP_ONE_IN = 1000
UPSERT = """
INSERT INTO posthog_clone_rate_counter AS c (key, count, expires_at)
SELECT k, 1, now() + make_interval(secs => s) FROM unnest(%s::text[], %s::int[]) AS x(k, s)
ON CONFLICT (key) DO UPDATE SET count = c.count + 1
RETURNING key, count
"""


@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`480/minute`, `12000/hour`, as DRF writes rates."""
        count, _, period = text.partition("/")
        return cls(int(count), PERIODS[period.strip().rstrip("s")])


def hit(*, scope: str, identity: str, rates: Sequence[str]) -> float | None:
    """Count one request of `identity` against each of `scope`'s rates; the seconds until it may retry when any rate
    is exceeded, else None."""
    now = time.time()
    prefix = settings.RATE_LIMIT_KEY_PREFIX
    windows = [(f"{prefix}:{scope}:{identity}:{rate.seconds}:{int(now // rate.seconds)}", rate)
               for rate in map(Rate.parse, rates)]  # fmt: skip
    counts = _increment([(key, rate.seconds) for key, rate in windows])
    waits = [rate.seconds - now % rate.seconds for key, rate in windows if counts[key] > rate.requests]
    return max(waits) if waits else None


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def _increment(windows: list[tuple[str, int]]) -> dict[str, int]:
    if settings.REDIS_URL:
        pipeline = _redis(settings.REDIS_URL).pipeline(transaction=False)
        for key, seconds in windows:
            pipeline.incr(key)
            pipeline.expire(key, seconds, nx=True)
        results = pipeline.execute()
        return {key: int(results[2 * index]) for index, (key, _) in enumerate(windows)}
    with connection.cursor() as cursor:
        cursor.execute(UPSERT, [[key for key, _ in windows], [seconds for _, seconds in windows]])
        counts = dict(cursor.fetchall())
        if random.randrange(CLEANUP_ONE_IN) == 0:
            cursor.execute("DELETE FROM posthog_clone_rate_counter WHERE expires_at < now()")
    return counts


@functools.lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
