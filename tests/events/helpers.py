"""Events written through the real write path (`events_capture`), for tests that read them back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from environments.models import Team
from events import selectors
from events.records import Cursor, EventInput, StoredEvent
from events.services import events_capture
from posthog_clone.ids import uuid7
from query_languages import EventView

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_event(
    *,
    event: str = "$pageview",
    distinct_id: str = "user-1",
    properties: dict[str, Any] | None = None,
    timestamp: datetime | None = None,
    elements_chain: str = "",
    event_uuid: uuid.UUID | None = None,
) -> EventInput:
    return EventInput(
        uuid=event_uuid or uuid7(),
        event=event,
        distinct_id=distinct_id,
        properties=properties or {},
        timestamp=timestamp or BASE_TIME,
        elements_chain=elements_chain,
    )


def store(team: Team, *events: EventInput) -> list[EventInput]:
    events_capture(team=team, events=list(events))
    return list(events)


def minutes(n: float) -> datetime:
    return BASE_TIME + timedelta(minutes=n)


def event_view(event: EventInput, person_properties: dict[str, Any] | None = None) -> EventView:
    """What the Python filter engine reads of a stored event, to compare with the SQL engine over the same events."""
    return EventView(properties=event.properties, event=event.event, uuid=str(event.uuid), timestamp=event.timestamp,
                     distinct_id=event.distinct_id, elements_chain=event.elements_chain,
                     person_properties=person_properties or {})  # fmt: skip


def stored_events(team: Team, *, event: str | None = None) -> list[StoredEvent]:
    """Every stored event of `team` (oldest first, ties by uuid), read through the selectors, so on either store."""
    rows, _ = selectors.events_list(team_id=team.id, tz=UTC, now=BASE_TIME, event=event, order="ASC", limit=10_000,
                                    before=Cursor(datetime(9999, 1, 1, tzinfo=UTC)))  # fmt: skip
    found = selectors.events_by_uuid(team_id=team.id, uuids=[row.uuid for row in rows])
    return [found[row.uuid] for row in rows]


def store_sign_outs(team: Team) -> None:
    """PostHog's own HogQL test set: a sign up and three sign outs by distinct id 2, `key` test_val1..3, and `n` a
    string, a number, a non-number and missing."""
    store(
        team,
        make_event(event="sign up", distinct_id="2", properties={"key": "test_val1", "n": "7"}, timestamp=minutes(1)),
        make_event(event="sign out", distinct_id="2", properties={"key": "test_val2", "n": 12}, timestamp=minutes(2)),
        make_event(event="sign out", distinct_id="2", properties={"key": "test_val3", "n": "x"}, timestamp=minutes(3)),
        make_event(event="sign out", distinct_id="2", properties={"key": "test_val2", "$set": {"email": "a@b.c"}},
                   timestamp=minutes(4)),
    )  # fmt: skip


def run_hogql(api: Any, url: str, query: str, **node: Any) -> Any:
    """`POST …/query/` with a HogQLQuery."""
    return api.post(url, {"query": {"kind": "HogQLQuery", "query": query, **node}}, format="json")


def hogql_rows(api: Any, url: str, query: str, **node: Any) -> list[list[Any]]:
    response = run_hogql(api, url, query, **node)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def assert_hogql_400(response: Any, code: str, contains: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["code"] == code
    assert contains in body["detail"], body["detail"]
