"""Backfills end to end: the endpoint starts the walk's workflow on a real Temporal dev server, the real worker walks
the range and its runs judge with the fake OpenAI-compatible server, and the `$ai_evaluation` events are read back
through the events API."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations import backfills
from evaluations.contracts import online_workflow_id
from evaluations.models import Evaluation, EvaluationBackfill, EvaluationRun, RunStatus, RunTrigger
from evaluations.online import in_rollout
from tests.evaluations.fake_llm import FakeLLM
from tests.evaluations.helpers import make_backfill, make_evaluation, make_run, store_generation
from tests.support.evaluations import wait_until
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED)


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:write", "query:read")


def start(api: APIClient, tenant: Tenant, evaluation: Evaluation, **body: Any) -> dict[str, Any]:
    now = timezone.now()
    payload = {"window_start": (now - timedelta(days=1)).isoformat(), "window_end": now.isoformat(), **body}
    response = api.post(f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/backfills/", payload,
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    return response.json()


def finished_backfill(backfill_id: str, timeout: float = 60) -> EvaluationBackfill:
    return wait_until(lambda: EvaluationBackfill.objects.filter(id=backfill_id).exclude(status="running").first(),
                      timeout=timeout, message=f"backfill {backfill_id} finishing")  # fmt: skip


def all_runs_finished(evaluation: Evaluation, count: int) -> list[EvaluationRun] | None:
    runs = list(EvaluationRun.objects.filter(evaluation=evaluation, status__in=FINISHED))
    return runs if len(runs) >= count else None


def evaluation_events(api: APIClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = api.get(f"/api/environments/{tenant.team.id}/events/", {"event": "$ai_evaluation", "limit": 1000,
                                                                        "after": "-30d"})  # fmt: skip
    return response.json()["results"]


def test_a_backfill_judges_each_sampled_generation_once_and_a_second_one_none(
    api: APIClient, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM, settings: Any
) -> None:
    settings.BACKFILL_PAGE_SIZE = 7  # several pages, each its own transaction
    settings.BACKFILL_RUNS_IN_FLIGHT = 5  # and the walk waits on runs in flight
    now = timezone.now()
    # Stored before the evaluation exists: online evaluation never saw them.
    stored = [store_generation(tenant, timestamp=now - timedelta(minutes=5 * index)) for index in range(30)]
    evaluation = make_evaluation(tenant, conditions=[{"id": "c", "rollout_percentage": 60, "properties": []}])
    sampled = {event.uuid for event in stored if in_rollout(event.uuid, 60)}
    # One was judged online already: its run's id is the one the backfill would use.
    judged_online = next(event for event in stored if event.uuid in sampled)
    make_run(tenant, evaluation, id=online_workflow_id(str(evaluation.id), str(judged_online.uuid)),
             target_event_id=judged_online.uuid, status=RunStatus.COMPLETED)  # fmt: skip

    created = start(api, tenant, evaluation)
    assert (created["status"], created["total_count"], created["dispatched_count"]) == ("running", len(sampled), 0)
    backfill = finished_backfill(created["id"])
    assert backfill.status == "completed"
    assert backfill.total_count == backfill.dispatched_count + backfill.skipped_count == len(sampled)
    assert (backfill.dispatched_count, backfill.skipped_count) == (len(sampled) - 1, 1)

    runs = wait_until(lambda: all_runs_finished(evaluation, len(sampled)), message="the backfilled runs")
    backfilled = [run for run in runs if run.trigger == RunTrigger.BACKFILL]
    assert {run.target_event_id for run in backfilled} == sampled - {judged_online.uuid}
    assert all(run.status == RunStatus.COMPLETED and run.backfill_id == backfill.id for run in backfilled)
    emitted = evaluation_events(api, tenant)
    assert len(emitted) == len(sampled) - 1  # exactly one per judged event
    by_target = {event["properties"]["$ai_target_event_id"]: event for event in emitted}
    assert set(by_target) == {str(target) for target in sampled - {judged_online.uuid}}
    for event in stored:
        if str(event.uuid) in by_target:
            shown = by_target[str(event.uuid)]
            # Placed at the target's time, and naming the backfill.
            assert shown["timestamp"][:19] == event.timestamp.strftime("%Y-%m-%dT%H:%M:%S")
            assert shown["properties"]["$ai_evaluation_backfill_id"] == str(backfill.id)
    listed = api.get(f"/api/environments/{tenant.team.id}/evaluation_runs/", {"backfill_id": str(backfill.id)})
    assert listed.json()["count"] == len(sampled) - 1

    # Again, without rerun_existing: everything already has its verdict.
    again = start(api, tenant, evaluation)
    second = finished_backfill(again["id"])
    assert (second.status, second.dispatched_count, second.skipped_count) == ("completed", 0, len(sampled))
    requests = len(fake_llm.requests)

    # With rerun_existing: judged again, under ids of their own.
    rerun = finished_backfill(start(api, tenant, evaluation, rerun_existing=True)["id"])
    assert (rerun.dispatched_count, rerun.skipped_count) == (len(sampled), 0)
    wait_until(lambda: all_runs_finished(evaluation, 2 * len(sampled)), message="the rerun runs")
    assert len(fake_llm.requests) == requests + len(sampled)
    assert all(run.id.endswith(f"-backfill-{rerun.id}") for run in EvaluationRun.objects.filter(backfill=rerun))


@contextmanager
def walk_held_by_the_judge(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM, settings: Any, *, events: int, in_flight: int
) -> Iterator[tuple[Evaluation, dict[str, Any]]]:
    """A backfill over `events` generations whose first `in_flight` runs wait on the judge until the block ends
    (the walk waits meanwhile: no room for more)."""
    settings.BACKFILL_RUNS_IN_FLIGHT = in_flight
    for _ in range(events):
        store_generation(tenant)
    evaluation = make_evaluation(tenant, conditions=[{"id": "c", "rollout_percentage": 100, "properties": []}])
    fake_llm.accepted_keys, fake_llm.hold_refusals = set(), threading.Event()
    try:
        created = start(api, tenant, evaluation)
        fake_llm.wait_for_refusals(in_flight)
        yield evaluation, created
    finally:
        fake_llm.hold_refusals.set()


def test_cancel_stops_dispatching_and_runs_in_flight_finish(
    api: APIClient, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM, settings: Any
) -> None:
    with walk_held_by_the_judge(api, tenant, fake_llm, settings, events=6, in_flight=2) as (evaluation, created):
        cancelled = api.post(f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/backfills/"
                             f"{created['id']}/cancel/")  # fmt: skip
        assert cancelled.json()["status"] == "cancelled"
    wait_until(lambda: all_runs_finished(evaluation, 2), message="the runs in flight finishing")
    backfill = EvaluationBackfill.objects.get(id=created["id"])
    assert (backfill.status, backfill.dispatched_count) == ("cancelled", 2)
    assert EvaluationRun.objects.filter(evaluation=evaluation).count() == 2
    assert fake_llm.refused == 2


def test_an_evaluation_disabled_mid_walk_cancels_its_backfill(
    api: APIClient, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM, settings: Any
) -> None:
    with walk_held_by_the_judge(api, tenant, fake_llm, settings, events=4, in_flight=1) as (evaluation, created):
        # Around the API (as a run's error would): the walk notices at its next page.
        Evaluation.objects.filter(pk=evaluation.pk).update(enabled=False, status="paused")
    backfill = finished_backfill(created["id"])
    assert (backfill.status, backfill.dispatched_count) == ("cancelled", 1)
    assert uuid.UUID(created["id"]) == backfill.id


@pytest.mark.usefixtures("events_backend")  # the walk reads through each events store
def test_a_running_backfill_whose_workflow_is_gone_is_resumed_from_its_cursor(
    api: APIClient, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
) -> None:
    now = timezone.now()
    stored = [store_generation(tenant, timestamp=now - timedelta(minutes=index)) for index in range(5)]
    evaluation = make_evaluation(tenant, conditions=[{"id": "c", "rollout_percentage": 100, "properties": []}])
    # A walk that had read the two newest events when Temporal lost it.
    backfill = make_backfill(tenant, evaluation, total_count=5, dispatched_count=2, cursor_timestamp=stored[1].timestamp,
                             cursor_uuid=stored[1].uuid)  # fmt: skip
    assert backfills.backfills_resume() == 1
    resumed = finished_backfill(str(backfill.id))
    assert (resumed.status, resumed.dispatched_count, resumed.total_count) == ("completed", 5, 5)
    runs = wait_until(lambda: all_runs_finished(evaluation, 3), message="the resumed runs")
    assert {run.target_event_id for run in runs} == {event.uuid for event in stored[2:]}
    assert backfills.backfills_resume() == 0  # nothing left running
