"""Dates as PostHog accepts them: ISO 8601, relative (`-7d`, `2h`, `-1mStart`) and unix timestamps."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

RELATIVE_PATTERN = re.compile(r"^-?(?P<number>\d+)?(?P<unit>[hHdDwWmMqQyY])(?P<position>Start|End)?$")
# PostHog's units: lower-case m is months and upper-case M minutes; the others ignore case.
UNIT_NAMES = {"h": "hour", "d": "day", "w": "week", "m": "month", "M": "minute", "q": "quarter", "y": "year"}
# Unix timestamps this large are in milliseconds (in seconds they would be past the year 5000).
MILLISECONDS_THRESHOLD = 1e11


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole months, its day clamped to the last of a shorter month (January 31st + 1 month is
    February's last day); ValueError when the year leaves 1 to 9999."""
    years, month_index = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + years, month_index + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is out of range")
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _truncate(moment: datetime, unit: str) -> datetime:
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day_start
    if unit == "week":
        return day_start - timedelta(days=(day_start.weekday() + 1) % 7)  # weeks start on Sunday, as PostHog's
    if unit == "month":
        return day_start.replace(day=1)
    if unit == "quarter":
        return day_start.replace(month=(day_start.month - 1) // 3 * 3 + 1, day=1)
    return day_start.replace(month=1, day=1)


def _shift(moment: datetime, unit: str, amount: int) -> datetime:
    if unit in ("minute", "hour", "day", "week"):
        return moment + timedelta(**{f"{unit}s": amount})
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    return add_months(moment, months * amount)


def parse_relative(value: str, *, now: datetime) -> datetime | None:
    """`-7d` / `7d` is seven days ago (the sign is optional, the past is implied); `Start`/`End` snap to the unit."""
    match = RELATIVE_PATTERN.match(value.strip())
    if not match:
        return None
    symbol = match.group("unit")
    unit = UNIT_NAMES[symbol] if symbol in ("m", "M") else UNIT_NAMES[symbol.lower()]
    try:
        moment = _shift(now, unit, -int(match.group("number") or 0))
        position = match.group("position")
        if position == "Start":
            return _truncate(moment, unit)
        if position == "End":
            return _shift(_truncate(moment, unit), unit, 1) - timedelta(microseconds=1)
        return moment
    except (OverflowError, ValueError):  # so far back that no calendar holds it
        return None


def parse_iso(value: str, *, tz: tzinfo = UTC) -> datetime | None:
    """ISO 8601 (or `YYYY-MM-DD HH:MM:SS`); a value without an offset is in `tz`."""
    text = value.strip()
    if not text or not text[0].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(text)  # also takes a bare date, as midnight
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def from_unix(seconds: float) -> datetime | None:
    if seconds != seconds or abs(seconds) > 1e15:  # NaN or absurd
        return None
    if abs(seconds) >= MILLISECONDS_THRESHOLD:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


# Dates within a day of Python's calendar limits are refused: filters add a day to a date to bound it.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def parse_filter_datetime(value: Any, *, tz: tzinfo = UTC, now: datetime | None = None) -> datetime | None:
    """A date given in a filter or query parameter, or None when it is not one."""
    moment = _parse_filter_datetime(value, tz=tz, now=now)
    return moment if moment is not None and EARLIEST <= moment <= LATEST else None


def _parse_filter_datetime(value: Any, *, tz: tzinfo, now: datetime | None) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return from_unix(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    relative = parse_relative(text, now=(now or datetime.now(UTC)).astimezone(tz))
    if relative is not None:
        return relative
    parsed = parse_iso(text, tz=tz)
    if parsed is not None:
        return parsed
    try:
        return from_unix(float(text))
    except ValueError:
        return None


def team_timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC
