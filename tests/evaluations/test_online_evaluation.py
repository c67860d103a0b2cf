"""Online evaluation: new `$ai_generation` events trigger pending runs in the ingesting transaction (conditions,
rollout, duplicates), and the dispatcher starts them in Temporal exactly once, waiting while Temporal is away."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from unittest.mock import patch

import posthog.request
import psycopg
import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone
from posthog import Posthog

from evaluations.contracts import online_workflow_id
from evaluations.models import EvaluationRun, OnlineRunIntake, RunStatus, RunTrigger
from evaluations.online import in_rollout
from evaluations.scheduling import (
    IntakeResult,
    evaluation_runs_dispatch,
    evaluation_runs_dispatch_online,
    evaluation_runs_take_intake,
)
from events.hooks import events_inserted_hooks
from events.records import EventInput
from events.services import events_capture
from posthog_clone import embedded
from posthog_clone.temporal.client import connect
from tests.evaluations.helpers import GENERATION_PROPERTIES, make_evaluation, recorded_runs
from tests.events.helpers import stored_events
from tests.support.evaluations import wait_until
from tests.support.tenants import Tenant

# Buckets of md5(uuid) for uuids 1..12 (PostHog's formula): 48.62, 16.0, 58.24, 62.52, 41.15, 27.35, 14.21,
# 76.6, 29.68, 58.46, 75.51, 68.77; those under 50:
SAMPLED_AT_50 = {1, 2, 5, 6, 7, 9}


def numbered(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def generation(event_uuid: uuid.UUID | None = None, *, event: str = "$ai_generation", **properties: Any) -> dict:
    return {
        "event": event,
        "distinct_id": "user-1",
        "uuid": str(event_uuid or uuid.uuid4()),
        "properties": {**GENERATION_PROPERTIES, **properties},
    }


def ingest(tenant: Tenant, *events: dict[str, Any]) -> None:
    response = Client().post(
        "/batch/",
        json.dumps({"api_key": tenant.team.api_token, "batch": list(events)}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert "rejected" not in response.json()


def condition(rollout: float = 100, *properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "rollout_percentage": rollout, "properties": list(properties)}


def exact(key: str, value: Any, kind: str = "event") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": "exact", "type": kind}


def runs_of(tenant: Tenant) -> list[EvaluationRun]:
    """The project's runs, once the dispatcher has recorded those of the batches ingested so far."""
    return list(recorded_runs().filter(team=tenant.team).order_by("target_event_id", "evaluation_id"))


class TestRollout:
    def test_known_buckets(self) -> None:
        assert {n for n in range(1, 13) if in_rollout(numbered(n), 50)} == SAMPLED_AT_50
        assert in_rollout(numbered(1), 48.63) and not in_rollout(numbered(1), 48.62)

    def test_bounds(self) -> None:
        ids = [uuid.uuid4() for _ in range(1000)]
        assert all(in_rollout(i, 100) for i in ids)
        assert not any(in_rollout(i, 0) for i in ids)
        assert 200 <= sum(in_rollout(i, 30) for i in ids) <= 400


@pytest.mark.django_db
@pytest.mark.usefixtures("events_backend")
class TestScheduling:
    def test_a_matching_event_records_a_pending_online_run(self, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, conditions=[condition(100, exact("$ai_model", "gpt-4o-mini"))])
        event_uuid = uuid.uuid4()
        ingest(tenant, generation(event_uuid))
        [run] = runs_of(tenant)
        assert run.id == f"{evaluation.id}-{event_uuid}-ingestion"
        assert (run.evaluation_id, run.target_event_id, run.event, run.distinct_id) == (
            evaluation.id, event_uuid, "$ai_generation", "user-1",
        )  # fmt: skip
        assert (run.trigger, run.status, run.dispatched_at) == (RunTrigger.ONLINE, RunStatus.PENDING, None)
        [stored] = stored_events(tenant.team)
        assert (stored.uuid, run.timestamp) == (event_uuid, stored.timestamp)

    def test_and_within_a_condition_or_across_conditions(self, tenant: Tenant) -> None:
        make_evaluation(
            tenant,
            conditions=[
                condition(100, exact("$ai_model", "gpt-4o"), exact("$ai_provider", "openai")),
                condition(100, exact("$ai_model", "claude")),
            ],
        )
        both, half, other, nothing = (uuid.uuid4() for _ in range(4))
        ingest(
            tenant,
            generation(both, **{"$ai_model": "gpt-4o", "$ai_provider": "openai"}),
            generation(half, **{"$ai_model": "gpt-4o", "$ai_provider": "anthropic"}),
            generation(other, **{"$ai_model": "claude"}),
            generation(nothing, **{"$ai_model": "llama"}),
        )
        assert {run.target_event_id for run in runs_of(tenant)} == {both, other}

    def test_operators_and_missing_properties_follow_the_filter_semantics(self, tenant: Tenant) -> None:
        make_evaluation(
            tenant,
            conditions=[condition(100, {"key": "$ai_latency", "value": 2, "operator": "gt", "type": "event"},
                                  {"key": "flagged", "operator": "is_not_set", "type": "event"})],
        )  # fmt: skip
        slow, fast, flagged = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        ingest(
            tenant,
            generation(slow, **{"$ai_latency": 3.5}),
            generation(fast, **{"$ai_latency": "1.2"}),
            generation(flagged, **{"$ai_latency": 9, "flagged": True}),
        )
        assert [run.target_event_id for run in runs_of(tenant)] == [slow]

    @pytest.mark.timeout(60)  # Python's backtracking matcher would take longer than the universe has existed
    def test_a_catastrophic_regex_condition_matches_in_linear_time(self, tenant: Tenant) -> None:
        make_evaluation(tenant, conditions=[condition(100, {"key": "$ai_input", "value": "^(a+)+$",
                                                            "operator": "regex", "type": "event"})])  # fmt: skip
        matching, hostile = uuid.uuid4(), uuid.uuid4()
        ingest(tenant, generation(matching, **{"$ai_input": "a" * 10_000}),
               generation(hostile, **{"$ai_input": "a" * 10_000 + "!"}))  # fmt: skip
        assert [run.target_event_id for run in runs_of(tenant)] == [matching]

    def test_person_filters_never_match(self, tenant: Tenant) -> None:
        make_evaluation(tenant, conditions=[condition(100, exact("email", "ann@x.io", "person"))])
        ingest(tenant, {**generation(), "$set": {"email": "ann@x.io"}})
        assert runs_of(tenant) == []

    def test_rollout_samples_by_event_uuid(self, tenant: Tenant) -> None:
        half = make_evaluation(tenant, name="half", conditions=[condition(50)])
        make_evaluation(tenant, name="none", conditions=[condition(0)])
        ingest(tenant, *(generation(numbered(n)) for n in range(1, 13)))
        runs = runs_of(tenant)
        assert {run.evaluation_id for run in runs} == {half.id}
        assert {run.target_event_id for run in runs} == {numbered(n) for n in SAMPLED_AT_50}

    def test_evaluations_that_never_trigger(self, tenant: Tenant, other_tenant: Tenant) -> None:
        make_evaluation(tenant, name="no conditions", conditions=[])
        make_evaluation(tenant, name="disabled", enabled=False, conditions=[condition()])
        make_evaluation(tenant, name="deleted", deleted=True, conditions=[condition()])
        make_evaluation(other_tenant, name="another project", conditions=[condition()])
        ingest(tenant, generation())
        assert EvaluationRun.objects.count() == 0

    def test_only_new_ai_generation_events_trigger(self, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, conditions=[condition()])
        first = generation()
        ingest(tenant, first, generation(event="$ai_span"), generation(event="$pageview"), first)
        [run] = runs_of(tenant)
        assert run.target_event_id == uuid.UUID(first["uuid"])
        ingest(tenant, first)  # sent again later: a duplicate, not a new event
        assert [r.id for r in runs_of(tenant)] == [run.id]
        assert len(stored_events(tenant.team, event="$ai_generation")) == 1
        assert run.evaluation_id == evaluation.id

    def test_evaluations_load_once_per_batch_not_per_event(self, tenant: Tenant) -> None:
        for n in range(5):
            make_evaluation(tenant, name=f"e{n}", conditions=[condition(100, exact("$ai_model", f"model-{n}"))])

        def statements_for(count: int) -> int:
            events = [EventInput(uuid=uuid.uuid4(), event="$ai_generation", distinct_id="user-1",
                                 properties={"$ai_model": f"model-{n % 5}"}, timestamp=timezone.now())
                      for n in range(count)]  # fmt: skip
            executed = []
            original = psycopg.Cursor.execute

            def counting(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
                executed.append(query)
                return original(cursor, query, *args, **kwargs)

            with patch.object(psycopg.Cursor, "execute", counting):
                events_capture(team=tenant.team, events=events)
            return len(executed)

        statements_for(1)  # the first batch also creates the person and marks the project as ingesting
        assert statements_for(200) == statements_for(1)
        assert len(runs_of(tenant)) == 202

    def test_one_run_per_triggered_evaluation(self, tenant: Tenant) -> None:
        first = make_evaluation(tenant, name="first", conditions=[condition()])
        second = make_evaluation(tenant, name="second", conditions=[condition(100, exact("$ai_trace_id", "trace-1"))])
        event_uuid = uuid.uuid4()
        ingest(tenant, generation(event_uuid))
        assert {run.id for run in runs_of(tenant)} == {
            online_workflow_id(str(first.id), str(event_uuid)),
            online_workflow_id(str(second.id), str(event_uuid)),
        }

    def test_a_batch_is_one_intake_row_until_the_dispatcher_records_its_runs(
        self, tenant: Tenant, events_backend: str
    ) -> None:
        first = make_evaluation(tenant, name="first", conditions=[condition()])
        second = make_evaluation(tenant, name="second", conditions=[condition(100, exact("$ai_model", "other"))])
        events = [generation(numbered(n)) for n in (1, 2, 3)]
        ingest(tenant, *events)
        assert OnlineRunIntake.objects.filter(team=tenant.team).count() == 1
        assert EvaluationRun.objects.filter(team=tenant.team).count() == 0
        # The same batch again: on ClickHouse its events count as new again (`events.hooks`), a second intake row
        # whose runs are already recorded once the first is taken.
        ingest(tenant, *events)
        batches = OnlineRunIntake.objects.filter(team=tenant.team).count()
        assert batches == (1 if events_backend == "postgres" else 2)

        assert evaluation_runs_take_intake() == IntakeResult(batches=batches, runs=3)
        assert not OnlineRunIntake.objects.exists()
        runs = runs_of(tenant)
        assert [(run.id, run.trigger, run.status) for run in runs] == [
            (online_workflow_id(str(first.id), str(numbered(n))), RunTrigger.ONLINE, RunStatus.PENDING)
            for n in (1, 2, 3)
        ]
        stored = {event.uuid: event for event in stored_events(tenant.team)}
        for run in runs:
            event = stored[run.target_event_id]
            assert (run.event, run.distinct_id, run.timestamp) == (event.event, event.distinct_id, event.timestamp)
        assert second.id not in {run.evaluation_id for run in runs}
        assert evaluation_runs_take_intake() == IntakeResult(batches=0, runs=0)

    def test_an_unrecordable_intake_row_is_kept_and_holds_no_other_back(self, tenant: Tenant, caplog: Any) -> None:
        evaluation = make_evaluation(tenant, conditions=[condition()])
        unreadable = OnlineRunIntake.objects.create(team=tenant.team, created_at=timezone.now(), payload=b"not json")
        refused = OnlineRunIntake.objects.create(  # PostgreSQL refuses its timestamp
            team=tenant.team, created_at=timezone.now(), payload=json.dumps({
                "evaluations": [str(evaluation.id)], "events": [[str(numbered(9)), "$ai_generation", "no date", "u"]],
                "runs": [[0, 0]]}).encode(),
        )  # fmt: skip
        ingest(tenant, generation(numbered(1)))

        with caplog.at_level("ERROR"):
            assert evaluation_runs_take_intake() == IntakeResult(batches=1, runs=1)
        assert [run.target_event_id for run in EvaluationRun.objects.filter(team=tenant.team)] == [numbered(1)]
        assert sorted(OnlineRunIntake.objects.values_list("id", flat=True)) == [unreadable.id, refused.id]
        assert caplog.text.count("evaluation_intake_unrecordable") == 2

    def test_runs_of_an_evaluation_deleted_for_good_before_dispatch_are_dropped(self, tenant: Tenant) -> None:
        kept = make_evaluation(tenant, name="kept", conditions=[condition()])
        gone = make_evaluation(tenant, name="gone", conditions=[condition()])
        ingest(tenant, generation(numbered(1)))
        gone.delete()
        assert evaluation_runs_take_intake() == IntakeResult(batches=1, runs=1)
        assert [run.evaluation_id for run in runs_of(tenant)] == [kept.id]

    def test_a_failing_hook_stores_nothing_and_its_retry_schedules_once(self, tenant: Tenant) -> None:
        make_evaluation(tenant, conditions=[condition()])
        event = EventInput(uuid=uuid.uuid4(), event="$ai_generation", distinct_id="user-1",
                           properties=dict(GENERATION_PROPERTIES), timestamp=timezone.now())  # fmt: skip
        failing = patch("evaluations.scheduling.triggered", side_effect=RuntimeError("hook failed"))
        with failing, pytest.raises(RuntimeError):
            events_capture(team=tenant.team, events=[event])
        # The hooks run before the store writes outside the transaction: ClickHouse holds nothing either.
        assert stored_events(tenant.team) == []
        assert events_capture(team=tenant.team, events=[event]).inserted == 1
        assert [run.target_event_id for run in runs_of(tenant)] == [event.uuid]


def test_the_generation_hook_is_registered_once_however_often_the_app_is_ready() -> None:
    config = apps.get_app_config("evaluations")
    config.ready()
    config.ready()
    assert [hook.__name__ for hook in events_inserted_hooks()["$ai_generation"]] == ["_schedule_online_runs"]


@pytest.mark.django_db(transaction=True)
class TestDispatch:
    def test_without_a_judge_online_runs_are_skipped(self, tenant: Tenant, no_judge: None, task_queue: str) -> None:
        make_evaluation(tenant, conditions=[condition()])
        ingest(tenant, generation(), generation())
        result = evaluation_runs_dispatch_online()
        assert (result.intake.batches, result.intake.runs, result.claimed, result.started) == (1, 2, 2, 0)
        runs = runs_of(tenant)
        assert {(run.status, run.error_code) for run in runs} == {(RunStatus.SKIPPED, "llm_judge_not_configured")}
        assert all(run.finished_at is not None for run in runs)
        assert evaluation_runs_dispatch().claimed == 0

    def test_runs_wait_while_temporal_is_unreachable_then_start_once(
        self, tenant: Tenant, fake_llm: Any, task_queue: str, settings: Any
    ) -> None:
        make_evaluation(tenant, conditions=[condition()])
        ingest(tenant, generation())
        reachable = settings.TEMPORAL_ADDRESS
        settings.TEMPORAL_ADDRESS = f"127.0.0.1:{embedded.free_port()}"
        waiting = evaluation_runs_dispatch_online()
        # The runs are recorded from the intake whether or not Temporal answers.
        assert (waiting.intake.runs, waiting.claimed, waiting.started, waiting.temporal_unavailable) == (1, 1, 0, True)
        [run] = runs_of(tenant)
        assert (run.status, run.dispatched_at) == (RunStatus.PENDING, None)

        settings.TEMPORAL_ADDRESS = reachable
        assert evaluation_runs_dispatch().started == 1
        run.refresh_from_db()
        assert run.dispatched_at is not None
        first_run_id = workflow_run_id(run.id)

        # As if the dispatcher had died after starting the workflow but before recording it: no second workflow.
        EvaluationRun.objects.filter(pk=run.pk).update(dispatched_at=None)
        assert evaluation_runs_dispatch().started == 1
        assert workflow_run_id(run.id) == first_run_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("events_backend")
def test_an_event_sent_by_the_python_sdk_is_evaluated_once(
    live_server: Any, tenant: Tenant, key_client: Any, evaluation_worker: Any, fake_llm: Any
) -> None:
    evaluation = make_evaluation(tenant, conditions=[condition(100, exact("$ai_model", "gpt-4o-mini"))])
    errors: list[Any] = []
    sdk = Posthog(tenant.team.api_token, host=live_server.url, sync_mode=True, max_retries=0,
                  on_error=lambda error, batch: errors.append(error))  # fmt: skip
    event_uuid = sdk.capture("$ai_generation", distinct_id="user-5", properties=GENERATION_PROPERTIES)
    sdk.capture("$ai_generation", distinct_id="user-5", properties=GENERATION_PROPERTIES, uuid=event_uuid)  # resent
    sdk.shutdown()
    posthog.request.reset_sessions()
    assert errors == []

    run = wait_until(
        lambda: EvaluationRun.objects.filter(
            id=online_workflow_id(str(evaluation.id), event_uuid), status=RunStatus.COMPLETED
        ).first(),
        message="the online run completing",
    )
    assert (run.trigger, run.distinct_id, run.verdict) == (RunTrigger.ONLINE, "user-5", True)
    events = key_client("query:read").get(f"/api/environments/{tenant.team.id}/events/", {"event": "$ai_evaluation"})
    [emitted] = events.json()["results"]
    assert emitted["properties"]["$ai_target_event_id"] == event_uuid
    assert emitted["distinct_id"] == "user-5"
    assert EvaluationRun.objects.count() == 1
    assert len(fake_llm.requests) == 1


def workflow_run_id(workflow_id: str) -> str:
    async def describe() -> str:
        return (await (await connect()).get_workflow_handle(workflow_id).describe()).run_id

    return asyncio.run(asyncio.wait_for(describe(), timeout=30))
