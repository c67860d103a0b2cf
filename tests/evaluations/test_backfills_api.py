"""`evaluations/{id}/backfills/`: every refused request first (PostHog's messages, in its order), then the estimate,
reading, cancelling, and what stops a running backfill. Starting one (a Temporal workflow) is in
`test_backfills_e2e.py`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations import backfills
from evaluations.models import Evaluation, EvaluationBackfill, EvaluationRun, RunStatus, RunTrigger
from evaluations.online import in_rollout
from evaluations.scheduling import IntakeResult, evaluation_runs_take_intake
from events.records import EventInput
from events.services import events_capture
from posthog_clone import embedded
from posthog_clone.process_roles import WEB_APPLICATION_NAME
from tests.evaluations.helpers import (
    GENERATION_PROPERTIES,
    make_backfill,
    make_evaluation,
    make_run,
    store_generation,
)
from tests.support.errors import assert_error
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db

ALL = [{"properties": [], "rollout_percentage": 100}]


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:write")


@pytest.fixture
def evaluation(tenant: Tenant) -> Evaluation:
    return make_evaluation(tenant, conditions=[{"id": "a", "rollout_percentage": 100, "properties": []}])


def path(tenant: Tenant, evaluation: Evaluation | str, suffix: str = "") -> str:
    evaluation_id = evaluation.id if isinstance(evaluation, Evaluation) else evaluation
    return f"/api/environments/{tenant.team.id}/evaluations/{evaluation_id}/backfills/{suffix}"


def window(start_hours_ago: float = 24, end_hours_ago: float = 0, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    return {"window_start": (now - timedelta(hours=start_hours_ago)).isoformat(),
            "window_end": (now - timedelta(hours=end_hours_ago)).isoformat(), **extra}  # fmt: skip


# --- refused requests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "estimate/"])
class TestRefused:
    def test_a_disabled_evaluation_comes_first(self, api: APIClient, tenant: Tenant, suffix: str) -> None:
        disabled = make_evaluation(tenant, enabled=False, conditions=ALL)
        # Also a range that is backwards: PostHog's order says what to fix first.
        body = window(start_hours_ago=1, end_hours_ago=2)
        assert_error(api.post(path(tenant, disabled, suffix), body, format="json"), 400, attr=None,
                     detail=backfills.ENABLE_FIRST)  # fmt: skip

    def test_start_after_end(self, api: APIClient, tenant: Tenant, evaluation: Evaluation, suffix: str) -> None:
        response = api.post(path(tenant, evaluation, suffix), window(1, 2), format="json")
        assert_error(response, 400, attr=None, detail=backfills.START_BEFORE_END)

    def test_a_range_in_the_future(self, api: APIClient, tenant: Tenant, evaluation: Evaluation, suffix: str) -> None:
        response = api.post(path(tenant, evaluation, suffix), window(-1, -2), format="json")
        assert_error(response, 400, attr=None,
                     detail="The range must end in the past and start within the last 365 days.")  # fmt: skip

    def test_a_second_backfill_while_one_runs(
        self, api: APIClient, tenant: Tenant, evaluation: Evaluation, suffix: str
    ) -> None:
        make_backfill(tenant, evaluation)
        response = api.post(path(tenant, evaluation, suffix), window(), format="json")
        assert_error(response, 400, attr=None, detail=backfills.ALREADY_RUNNING)

    @pytest.mark.parametrize("conditions", [[], None])
    def test_no_condition_set(self, api: APIClient, tenant: Tenant, suffix: str, conditions: Any) -> None:
        bare = make_evaluation(tenant, conditions=[])
        body = window() if conditions is None else window(conditions=conditions)
        assert_error(api.post(path(tenant, bare, suffix), body, format="json"), 400, attr="conditions",
                     detail=backfills.ADD_CONDITION)  # fmt: skip

    @pytest.mark.parametrize(
        "conditions",
        [
            [{"properties": [{"key": "$ai_model", "value": "x", "operator": "sounds_like", "type": "event"}]}],
            [{"properties": [{"key": "$ai_model", "value": "(", "operator": "regex", "type": "event"}]}],
            [{"properties": [{"key": "nonsense((", "type": "hogql"}]}],
            [{"properties": "everything"}],
            [{"properties": [], "rollout_percentage": 101}],
            [{"properties": [], "rollout_percentage": "half"}],
        ],
    )
    def test_conditions_that_do_not_compile(
        self, api: APIClient, tenant: Tenant, evaluation: Evaluation, suffix: str, conditions: Any
    ) -> None:
        response = api.post(path(tenant, evaluation, suffix), window(conditions=conditions), format="json")
        assert_error(response, 400, attr="conditions", detail=backfills.CONDITION_FAILED)

    @pytest.mark.parametrize(
        ("body", "attr"),
        [
            ({"window_end": "2026-01-01T00:00:00Z"}, "window_start"),
            ({"window_start": "2026-01-01T00:00:00Z"}, "window_end"),
            ({"window_start": "yesterday", "window_end": "2026-01-01T00:00:00Z"}, "window_start"),
            ({**window(), "rerun_existing": "yes"}, "rerun_existing"),
            ({**window(), "conditions": "all"}, "conditions"),
        ],
    )
    def test_malformed_bodies(
        self, api: APIClient, tenant: Tenant, evaluation: Evaluation, suffix: str, body: Any, attr: str
    ) -> None:
        assert_error(api.post(path(tenant, evaluation, suffix), body, format="json"), 400, attr=attr)

    @pytest.mark.parametrize("which", ["other_project", "deleted", "unknown", "not_a_uuid"])
    def test_an_evaluation_that_is_not_here_is_404(
        self, api: APIClient, tenant: Tenant, other_tenant: Tenant, suffix: str, which: str
    ) -> None:
        target: Evaluation | str = {
            "other_project": lambda: make_evaluation(other_tenant, conditions=ALL),
            "deleted": lambda: make_evaluation(tenant, conditions=ALL, deleted=True),
            "unknown": lambda: str(uuid.uuid4()),
            "not_a_uuid": lambda: "nope",
        }[which]()
        assert_error(api.post(path(tenant, target, suffix), window(), format="json"), 404, attr=None)
        assert_error(api.get(path(tenant, target)), 404, attr=None)


def test_a_range_with_nothing_to_judge_is_not_created(api: APIClient, tenant: Tenant, evaluation: Evaluation) -> None:
    store_generation(tenant, timestamp=timezone.now() - timedelta(days=3))  # outside the range
    store_generation(tenant, event="$pageview")  # not a generation
    response = api.post(path(tenant, evaluation), window(), format="json")
    assert_error(response, 400, attr=None, detail=backfills.NOTHING_TO_JUDGE)
    assert not EvaluationBackfill.objects.exists()


def test_more_than_the_servers_limit_is_refused(
    api: APIClient, tenant: Tenant, evaluation: Evaluation, settings: Any
) -> None:
    settings.BACKFILL_MAX_EVENTS = 2
    for _ in range(3):
        store_generation(tenant)
    estimate = api.post(path(tenant, evaluation, "estimate/"), window(), format="json").json()
    assert (estimate["total_units"], estimate["over_limit"]) == (2, True)
    response = api.post(path(tenant, evaluation), window(), format="json")
    assert_error(response, 400, attr=None, code="backfill_too_large")
    assert not EvaluationBackfill.objects.exists()


def test_reading_needs_the_read_scope_and_starting_the_write_scope(
    key_client: Any, tenant: Tenant, evaluation: Evaluation
) -> None:
    reader = key_client("evaluation:read")
    assert reader.post(path(tenant, evaluation, "estimate/"), window(), format="json").status_code == 200
    assert_error(reader.post(path(tenant, evaluation), window(), format="json"), 403, attr=None,
                 detail="API key missing required scope 'evaluation:write'")  # fmt: skip
    backfill = make_backfill(tenant, evaluation)
    assert_error(reader.post(path(tenant, evaluation, f"{backfill.id}/cancel/")), 403, attr=None,
                 detail="API key missing required scope 'evaluation:write'")  # fmt: skip


# --- the estimate ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("events_backend")  # read through each events store
def test_estimate_counts_what_online_evaluation_would_have_judged(
    api: APIClient, tenant: Tenant, evaluation: Evaluation
) -> None:
    now = timezone.now()
    inside = [store_generation(tenant, timestamp=now - timedelta(hours=hours)) for hours in (1, 2, 3, 4)]
    other_model = store_generation(tenant, properties={**GENERATION_PROPERTIES, "$ai_model": "other"})
    store_generation(tenant, timestamp=now - timedelta(hours=30))
    store_generation(tenant, event="$pageview")
    # One of them already has this evaluation's verdict; another evaluation's verdict does not count.
    verdicts = [(inside[0], evaluation.id), (inside[1], uuid.uuid4())]
    events_capture(team=tenant.team, events=[
        EventInput(uuid=uuid.uuid4(), event="$ai_evaluation", distinct_id="user-1", timestamp=now,
                   properties={"$ai_evaluation_id": str(evaluation_id), "$ai_target_event_id": str(target.uuid)})
        for target, evaluation_id in verdicts])  # fmt: skip

    answer = api.post(path(tenant, evaluation, "estimate/"), window(), format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["total_units"], body["already_evaluated_units"], body["unit"]) == (5, 1, "generation")
    assert body["estimated_tokens"] > 4 * backfills.ANSWER_TOKENS  # four to judge, each with its prompt and text
    assert body["over_limit"] is False

    model = [{"properties": [{"key": "$ai_model", "value": "other", "operator": "exact", "type": "event"}]}]
    narrowed = api.post(path(tenant, evaluation, "estimate/"), window(conditions=model), format="json").json()
    assert (narrowed["total_units"], narrowed["already_evaluated_units"]) == (1, 0)
    assert other_model.uuid not in {target.uuid for target in inside}


@pytest.mark.usefixtures("events_backend")  # read through each events store
def test_estimate_samples_the_events_online_evaluation_samples(
    api: APIClient, tenant: Tenant, evaluation: Evaluation
) -> None:
    stored = [store_generation(tenant) for _ in range(40)]
    sampled = [{"properties": [], "rollout_percentage": 30}]
    body = api.post(path(tenant, evaluation, "estimate/"), window(conditions=sampled), format="json").json()
    assert body["total_units"] == sum(in_rollout(event.uuid, 30) for event in stored)
    assert 0 < body["total_units"] < 40


def test_estimate_clamps_the_range_as_posthog_does(
    api: APIClient, tenant: Tenant, evaluation: Evaluation, settings: Any
) -> None:
    settings.BACKFILL_MAX_DAYS = 2
    store_generation(tenant)
    body = api.post(path(tenant, evaluation, "estimate/"), window(start_hours_ago=24 * 5, end_hours_ago=-5),
                    format="json").json()  # fmt: skip
    now = timezone.now()
    start, end = (timezone.datetime.fromisoformat(body[name]) for name in ("window_start", "window_end"))
    assert abs((start - (now - timedelta(days=2))).total_seconds()) < 60
    assert abs((end - now).total_seconds()) < 60
    assert body["total_units"] == 1


# --- reading and cancelling --------------------------------------------------------------------------------------


def test_list_newest_first_and_retrieve(api: APIClient, tenant: Tenant, evaluation: Evaluation) -> None:
    older = make_backfill(tenant, evaluation, status="completed")
    newer = make_backfill(tenant, evaluation)
    make_backfill(tenant)  # another evaluation's
    page = api.get(path(tenant, evaluation)).json()
    assert [row["id"] for row in page["results"]] == [str(newer.id), str(older.id)]
    shown = api.get(path(tenant, evaluation, f"{newer.id}/")).json()
    assert list(shown) == ["id", "status", "target", "window_start", "window_end", "conditions", "rerun_existing",
                           "total_count", "dispatched_count", "skipped_count", "created_by", "created_at",
                           "finished_at"]  # fmt: skip
    assert (shown["status"], shown["target"], shown["created_by"]["email"]) == ("running", "generation",
                                                                                 tenant.user.email)  # fmt: skip


def test_cancel_is_idempotent_and_keeps_the_first_finish(
    api: APIClient, tenant: Tenant, evaluation: Evaluation
) -> None:
    backfill = make_backfill(tenant, evaluation)
    first = api.post(path(tenant, evaluation, f"{backfill.id}/cancel/"))
    assert first.status_code == 200, first.content
    again = api.post(path(tenant, evaluation, f"{backfill.id}/cancel/")).json()
    assert (first.json()["status"], again["status"]) == ("cancelled", "cancelled")
    assert again["finished_at"] == first.json()["finished_at"] is not None
    completed = make_backfill(tenant, evaluation, status="completed", finished_at=timezone.now())
    assert api.post(path(tenant, evaluation, f"{completed.id}/cancel/")).json()["status"] == "completed"


@pytest.mark.parametrize("change", [{"enabled": False}, {"deleted": True}, {"status": "paused"}])
def test_disabling_or_deleting_the_evaluation_cancels_its_backfill(
    api: APIClient, tenant: Tenant, evaluation: Evaluation, change: dict[str, Any]
) -> None:
    backfill = make_backfill(tenant, evaluation)
    response = api.patch(f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/", change, format="json")
    assert response.status_code == 200, response.content
    backfill.refresh_from_db()
    assert (backfill.status, backfill.finished_at is not None) == ("cancelled", True)
    # A new backfill may start once the evaluation is enabled again.
    if "enabled" in change:
        api.patch(f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/", {"enabled": True}, format="json")
        assert api.post(path(tenant, evaluation, "estimate/"), window(), format="json").status_code == 200


def test_a_start_temporal_cannot_take_leaves_nothing_behind(
    api: APIClient, tenant: Tenant, evaluation: Evaluation, settings: Any
) -> None:
    settings.TEMPORAL_ADDRESS = f"127.0.0.1:{embedded.free_port()}"  # nothing listens there
    store_generation(tenant)
    response = api.post(path(tenant, evaluation), window(), format="json")
    assert_error(response, 503, attr=None, code="backfill_start_failed", detail=backfills.START_FAILED)
    assert not EvaluationBackfill.objects.exists()
    # Nothing blocks the next attempt.
    assert api.post(path(tenant, evaluation, "estimate/"), window(), format="json").status_code == 200


def test_a_walk_yields_while_live_runs_are_at_the_servers_bound(
    tenant: Tenant, other_tenant: Tenant, settings: Any
) -> None:
    """Online and manual runs of any project come first: at BACKFILL_PAUSE_AT_LIVE_RUNS of them in flight, a walk
    starts nothing (and reads nothing); below it, it goes on."""
    settings.BACKFILL_PAUSE_AT_LIVE_RUNS = 2
    for _ in range(3):
        store_generation(tenant)
    evaluation = make_evaluation(tenant, conditions=[{"id": "a", "rollout_percentage": 100, "properties": []}])
    backfill = make_backfill(tenant, evaluation, total_count=3)
    live = [make_run(other_tenant, id=f"live-{n}", status=RunStatus.PENDING, trigger=trigger)
            for n, trigger in enumerate([RunTrigger.ONLINE, RunTrigger.MANUAL])]  # fmt: skip
    make_run(other_tenant, id="finished", status=RunStatus.COMPLETED, trigger=RunTrigger.ONLINE)

    tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
    assert (tick.waited, tick.dispatched) == (True, 0)
    backfill.refresh_from_db()
    assert (backfill.dispatched_count, backfill.cursor_timestamp) == (0, None)

    EvaluationRun.objects.filter(pk=live[0].pk).update(status=RunStatus.COMPLETED)
    tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
    assert (tick.finished, tick.dispatched) == (True, 3)


def test_a_walk_keeps_one_run_in_flight_while_the_http_server_serves(tenant: Tenant) -> None:
    """A connection of the HTTP server's in a transaction (a request being answered): the walk takes one event and
    rests BACKFILL_REST_WHILE_SERVING_SECONDS; once it is idle, the rest at once."""
    for _ in range(3):
        store_generation(tenant)
    evaluation = make_evaluation(tenant, conditions=[{"id": "a", "rollout_percentage": 100, "properties": []}])
    backfill = make_backfill(tenant, evaluation, total_count=3)
    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "application_name": WEB_APPLICATION_NAME}) as web:
        web.execute("SELECT 1")  # psycopg opened a transaction: 'idle in transaction', as mid-request
        tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
        assert (tick.finished, tick.dispatched, tick.rest_seconds) == (False, 1, 1.0)  # then the walk rests
        tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
        assert (tick.waited, tick.dispatched) == (True, 0)  # its one run is still pending
        web.rollback()
        tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
        assert (tick.finished, tick.dispatched, tick.rest_seconds) == (True, 2, 0.0)


def test_a_walk_yields_while_ingested_batches_wait_for_their_runs(tenant: Tenant, other_tenant: Tenant) -> None:
    """Runs ingestion triggered but the dispatcher has not recorded yet are live traffic too."""
    store_generation(tenant)
    evaluation = make_evaluation(tenant, conditions=[{"id": "a", "rollout_percentage": 100, "properties": []}])
    backfill = make_backfill(tenant, evaluation, total_count=1)
    make_evaluation(other_tenant, conditions=[{"id": "b", "rollout_percentage": 100, "properties": []}])
    store_generation(other_tenant)

    tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
    assert (tick.waited, tick.dispatched) == (True, 0)

    assert evaluation_runs_take_intake() == IntakeResult(batches=1, runs=1)
    tick = backfills.backfill_tick(backfill_id=str(backfill.id), team_id=tenant.team.id)
    assert (tick.finished, tick.dispatched) == (True, 1)
