"""Results of evaluations over time, counted from their `$ai_evaluation` events through the events store (so
PostgreSQL and ClickHouse answer the same): `evaluation_stats` for one evaluation's `stats/`, and `evaluations_stats_7d`
for a page of the evaluations list.

How a run counts (the events say it, see `events.stores.base.outcome_of`): `skipped` when its event says
`$ai_evaluation_skipped` and the reason is about the judge's answer (it did not fit the output type); `errored` when
skipped because the evaluator itself failed (its Hog program, or the project's provider key or model:
`ERRORED_SKIP_REASONS`); `na` when not applicable; else `passed` or `failed` by its verdict. A numeric or categorical
run without a passing rule is counted in `runs` only. Runs that failed before emitting an event are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from environments.models import Team
from evaluations.models import Evaluation, RunTrigger
from events.parameters import bad, parse_moment
from events.stores import events_store
from events.stores.base import OTHER_GROUP, EvaluationStatsQuery, StatsRow
from posthog_clone.errors import DomainError
from query_languages import Context, Extra, HogQLError, parse_expr, print_text, team_timezone

INTERVALS = ("hour", "day", "week", "month")
MAX_BUCKETS = 10_000
TOP_BREAKDOWN_VALUES = 25
DEFAULT_DATE_FROM = "-7d"
MAX_BREAKDOWN_LENGTH = 1_000
TRIGGERS = tuple(RunTrigger.values)
# A breakdown that is a bare name is the name of a property (`$ai_model`); anything else is a HogQL expression.
PROPERTY_NAME = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_$]*")
STATS_7D_DAYS = 7
COUNTS = ("runs", "passed", "failed", "na", "skipped", "errored")
NUMBERS = ("mean", "p50", "p90", "min", "max")


@dataclass(frozen=True)
class StatsParameters:
    date_from: datetime  # the start of its interval
    date_to: datetime  # exclusive
    interval: str
    breakdown: str | None
    trigger: str | None


def stats_parameters(*, params: Mapping[str, str], team: Team, now: datetime) -> StatsParameters:
    """The query parameters of `stats/`, each bad one a 400 naming it (the first, in the order documented)."""
    tz = team_timezone(team.timezone)
    interval = params.get("interval") or "day"
    if interval not in INTERVALS:
        raise bad("interval", f"'{interval}' is not one of {', '.join(INTERVALS)}.")
    moments = {}
    for name, default in (("date_from", DEFAULT_DATE_FROM), ("date_to", None)):
        raw = params.get(name) or default
        moment = now if raw is None else parse_moment(raw, tz=tz, now=now)
        if moment is None:
            raise bad(name, f"'{raw}' is not an ISO 8601 date-time or a relative date such as -7d.")
        moments[name] = moment
    date_from, date_to = moments["date_from"], moments["date_to"]
    if date_from > date_to:
        raise bad("date_from", "date_from must not be after date_to.")
    start = bucket_start(date_from, interval=interval, tz=tz)
    if len(buckets(start, date_to, interval=interval, tz=tz, limit=MAX_BUCKETS + 1)) > MAX_BUCKETS:
        raise bad("interval", f"This range has more than {MAX_BUCKETS} {interval}s: ask for a longer interval or a "
                  "shorter range.")  # fmt: skip
    breakdown = params.get("breakdown") or None
    if breakdown is not None and len(breakdown) > MAX_BREAKDOWN_LENGTH:
        raise bad("breakdown", f"A breakdown has at most {MAX_BREAKDOWN_LENGTH} characters.")
    trigger = params.get("trigger") or None
    if trigger is not None and trigger not in TRIGGERS:
        raise bad("trigger", f"'{trigger}' is not one of {', '.join(TRIGGERS)}.")
    return StatsParameters(start, date_to, interval, breakdown, trigger)


# --- intervals in the project's time zone -----------------------------------------------------------------------


def bucket_start(moment: datetime, *, interval: str, tz: tzinfo) -> datetime:
    """The start of `moment`'s interval, as the stores' `start_of` computes it (weeks from Sunday, as HogQL's)."""
    local = moment.astimezone(tz)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.isoweekday() % 7)
    elif interval == "month":
        day = day.replace(day=1)
    return _midnight(day, tz)


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _next(start: datetime, *, interval: str, tz: tzinfo) -> datetime:
    if interval == "hour":  # an hour of elapsed time: the stores' hours too, across a change of the clocks
        return start + timedelta(hours=1)
    day = start.astimezone(tz).date()
    if interval == "day":
        day += timedelta(days=1)
    elif interval == "week":
        day += timedelta(days=7)
    else:
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return _midnight(day, tz)


def buckets(start: datetime, until: datetime, *, interval: str, tz: tzinfo, limit: int) -> list[datetime]:
    """The starts of the intervals from `start` until `until` (exclusive; at least one), at most `limit` of them."""
    found = [start]
    while len(found) < limit:
        following = _next(found[-1], interval=interval, tz=tz)
        if following >= until:
            break
        found.append(following)
    return found


# --- the breakdown ---------------------------------------------------------------------------------------------


def _breakdown_sql(breakdown: str, *, team: Team, now: datetime) -> Extra:
    """The breakdown as text on the store's events, or a 400 when it does not compile there."""
    text = f"properties.{breakdown}" if PROPERTY_NAME.fullmatch(breakdown) else breakdown
    store = events_store()
    context = Context(team_id=team.id, timezone=team.timezone, tz=team_timezone(team.timezone), now=now)
    try:
        printed = print_text(parse_expr(text), dialect=store.dialect, context=context)
    except HogQLError as error:
        raise DomainError(f"The breakdown does not compile: {error}", code=error.code, attr="breakdown") from None
    return printed


# --- answers -----------------------------------------------------------------------------------------------------


def _rate(passed: int, failed: int) -> float | None:
    return None if passed + failed == 0 else round(passed / (passed + failed), 6)


def _rounded(value: float | None) -> float | None:
    # The stores sum floats in different orders: the last bits of a mean may differ, six decimals never do.
    return None if value is None else round(value, 6)


def _category_keys(evaluation: Evaluation) -> list[str]:
    options = (evaluation.output_config or {}).get("options") or []
    return [option["key"] for option in options if isinstance(option, dict) and isinstance(option.get("key"), str)]


def evaluation_stats(
    *, team: Team, evaluation: Evaluation, parameters: StatsParameters, now: datetime
) -> dict[str, Any]:
    """The `stats/` answer: one item per interval and breakdown value, intervals without runs included."""
    tz = team_timezone(team.timezone)
    group = _breakdown_sql(parameters.breakdown, team=team, now=now) if parameters.breakdown else None
    numeric = evaluation.output_type == "numeric"
    categorical = evaluation.output_type == "categorical"
    stats = events_store().evaluation_stats(
        EvaluationStatsQuery(
            team_id=team.id,
            evaluation_ids=[str(evaluation.id)],
            since=parameters.date_from,
            until=parameters.date_to,
            interval=parameters.interval,
            timezone=team.timezone if tz is not UTC else "UTC",
            group=group.condition if group is not None else None,
            group_reads_person=group is not None and group.needs_person,
            top=TOP_BREAKDOWN_VALUES,
            trigger=parameters.trigger,
            numbers=numeric,
            categories=categorical,
        )
    )
    by_key = {(row.bucket, row.group): row for row in stats.rows}
    categories: dict[tuple[int, str | None], dict[str, int]] = {}
    for count in stats.categories:
        categories.setdefault((count.bucket, count.group), {})[count.key] = count.count
    walked = buckets(parameters.date_from, parameters.date_to, interval=parameters.interval, tz=tz, limit=MAX_BUCKETS)
    starts = [int(start.timestamp()) for start in walked]
    # A bucket the stores found that the walk did not make (an hour the clocks repeat): shown, not dropped.
    starts = sorted(set(starts) | {row.bucket for row in stats.rows})
    groups = _group_order(stats.rows) if parameters.breakdown else [None]
    keys = _category_keys(evaluation)
    series = []
    for start in starts:
        for value in groups:
            row = by_key.get((start, value))
            item: dict[str, Any] = {
                "date": datetime.fromtimestamp(start, UTC).astimezone(tz).isoformat(),
                "breakdown_value": value,
                **{name: getattr(row, name) if row else 0 for name in COUNTS},
                "pass_rate": _rate(row.passed, row.failed) if row else None,
            }
            if numeric:
                item.update({name: _rounded(getattr(row, name)) if row else None for name in NUMBERS})
            if categorical:
                counted = categories.get((start, value), {})
                item["categories"] = {**dict.fromkeys(keys, 0), **dict(sorted(counted.items()))}
            series.append(item)
    return {
        "evaluation_id": str(evaluation.id),
        "output_type": evaluation.output_type,
        "interval": parameters.interval,
        "date_from": parameters.date_from.astimezone(tz).isoformat(),
        "date_to": parameters.date_to.astimezone(tz).isoformat(),
        "timezone": team.timezone,
        "breakdown": parameters.breakdown,
        "series": series,
    }


def _group_order(rows: list[StatsRow]) -> list[str | None]:
    """The breakdown values by runs (most first, ties by value), then runs without a value, then `$other`."""
    runs: dict[str | None, int] = {}
    for row in rows:
        runs[row.group] = runs.get(row.group, 0) + row.runs
    named = sorted((value for value in runs if value not in (None, OTHER_GROUP)),
                   key=lambda value: (-runs[value], value.encode()))  # fmt: skip
    return [*named, *([None] if None in runs else []), *([OTHER_GROUP] if OTHER_GROUP in runs else [])]


def evaluations_stats_7d(*, team: Team, evaluation_ids: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Each evaluation's runs over the last 7 days of the project's calendar (today included), in one store query:
    totals, pass rate, and `daily` runs, oldest day first, for a trend line."""
    tz = team_timezone(team.timezone)
    today = bucket_start(now, interval="day", tz=tz)
    since = _midnight(today.astimezone(tz).date() - timedelta(days=STATS_7D_DAYS - 1), tz)
    days = [int(start.timestamp()) for start in buckets(since, now, interval="day", tz=tz, limit=STATS_7D_DAYS)]
    if not evaluation_ids:
        return {}
    stats = events_store().evaluation_stats(
        EvaluationStatsQuery(
            team_id=team.id,
            evaluation_ids=evaluation_ids,
            since=since,
            until=now + timedelta(microseconds=1),
            interval="day",
            timezone=team.timezone if tz is not UTC else "UTC",
            by_evaluation=True,
        )
    )
    found: dict[str, list[StatsRow]] = {}
    for row in stats.rows:
        found.setdefault(row.group or "", []).append(row)
    answers = {}
    for evaluation_id in evaluation_ids:
        rows = found.get(evaluation_id, [])
        totals = {name: sum(getattr(row, name) for row in rows) for name in ("runs", "passed", "failed", "na")}
        per_day = {row.bucket: row.runs for row in rows}
        answers[evaluation_id] = {**totals, "pass_rate": _rate(totals["passed"], totals["failed"]),
                                  "daily": [per_day.get(day, 0) for day in days]}  # fmt: skip
    return answers
