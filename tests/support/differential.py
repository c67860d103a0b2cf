"""Differential checks (the same question to PostgreSQL, ClickHouse and Python) return early on examples an engine
refuses; one whose examples are nearly all refused would pass while comparing nothing. Each counts the distinct
examples it really compared and fails below a floor (derandomized in CI, so the count is the same on every run:
232 of 600 HogQL conditions, 340 of 600 expressions and 101 of 200 property filters when the floor was set)."""

from __future__ import annotations

MINIMUM_COMPARED = 0.25  # of the examples asked for


def assert_compared(compared: set[str], *, examples: int, what: str) -> None:
    floor = int(examples * MINIMUM_COMPARED)
    assert len(compared) >= floor, f"only {len(compared)} of {examples} {what} were compared (at least {floor})"
