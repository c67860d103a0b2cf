"""`/api/{environments,projects}/:project_id/evaluation_runs/`: starting a run (validation, lookups, the
workflow started in a real Temporal dev server, outages) and reading run history."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from evaluations.models import EvaluationRun, RunStatus, RunTrigger
from posthog_clone import embedded
from posthog_clone.temporal.client import connect
from tests.api_base import TeamScopedReadAPITests
from tests.evaluations.helpers import make_evaluation, make_run, run_body, store_generation
from tests.support.errors import assert_error
from tests.support.tenants import Tenant


class TestEvaluationRunsAccess(TeamScopedReadAPITests):
    resource = "evaluation_runs"
    scope_object = "evaluation"

    def make_object(self, tenant: Tenant) -> EvaluationRun:
        return make_run(tenant)


@pytest.fixture
def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/evaluation_runs/"


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:write")


def started_workflow(workflow_id: str) -> tuple[Any, dict[str, Any], Any]:
    """(description, decoded input, started-event attributes) of a workflow in the test Temporal server."""

    async def read() -> tuple[Any, dict[str, Any], Any]:
        handle = (await connect()).get_workflow_handle(workflow_id)
        description = await handle.describe()
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        return description, json.loads(started.input.payloads[0].data), started

    return asyncio.run(asyncio.wait_for(read(), timeout=30))


# --- bad input first -------------------------------------------------------------------------------------


class TestCreateValidation:
    @pytest.mark.parametrize(
        ("overrides", "attr", "code"),
        [
            ({"evaluation_id": None}, "evaluation_id", "null"),
            ({"evaluation_id": "not-a-uuid"}, "evaluation_id", "invalid_input"),
            ({"evaluation_id": 0}, "evaluation_id", "invalid_input"),
            ({"target_event_id": True}, "target_event_id", "invalid_input"),
            ({"target_event_id": "123"}, "target_event_id", "invalid_input"),
            ({"target_event_id": ["x"]}, "target_event_id", "invalid_input"),
            ({"timestamp": "yesterday"}, "timestamp", "invalid_input"),
            ({"timestamp": None}, "timestamp", "null"),
            ({"event": ""}, "event", "blank"),
            ({"event": "e" * 401}, "event", "max_length"),
            ({"event": "$ai\x00generation"}, "event", "null_characters_not_allowed"),
            ({"distinct_id": "d" * 401}, "distinct_id", "max_length"),
            ({"distinct_id": {"a": 1}}, "distinct_id", "invalid_input"),
        ],
    )
    def test_field_errors(
        self, api: APIClient, url: str, tenant: Tenant, overrides: dict, attr: str, code: str
    ) -> None:
        body = {"evaluation_id": str(uuid.uuid4()), "target_event_id": str(uuid.uuid4()),
                "timestamp": "2026-11-01T12:00:00Z", **overrides}  # fmt: skip
        response = api.post(url, body, format="json")
        assert_error(response, 400, code=code, attr=attr)
        assert response.json()["type"] == "validation_error"

    @pytest.mark.parametrize("missing", ["evaluation_id", "target_event_id", "timestamp"])
    def test_required_fields(self, api: APIClient, url: str, missing: str) -> None:
        body = {"evaluation_id": str(uuid.uuid4()), "target_event_id": str(uuid.uuid4()),
                "timestamp": "2026-11-01T12:00:00Z"}  # fmt: skip
        del body[missing]
        assert_error(api.post(url, body, format="json"), 400, code="required", attr=missing)

    def test_malformed_json_is_400(self, api: APIClient, url: str) -> None:
        response = api.post(url, b'{"evaluation_id": ', content_type="application/json")
        assert_error(response, 400, code="parse_error", attr=None)

    def test_unauthenticated_is_401(self, client: APIClient, url: str) -> None:
        response = client.post(url, {}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"

    def test_create_needs_write_scope(self, key_client: Any, url: str) -> None:
        response = key_client("evaluation:read").post(url, {}, format="json")
        assert_error(
            response,
            403,
            code="permission_denied",
            attr=None,
            detail="API key missing required scope 'evaluation:write'",
        )

    def test_another_organizations_project_is_403(self, api: APIClient, other_tenant: Tenant) -> None:
        response = api.post(f"/api/environments/{other_tenant.team.id}/evaluation_runs/", {}, format="json")
        assert_error(response, 403, code="permission_denied", attr=None, detail="You don't have access to the project.")


@pytest.mark.usefixtures("events_backend")  # the target event is looked up in the events store
class TestCreateLookups:
    def test_unknown_evaluation_is_404(self, api: APIClient, url: str, tenant: Tenant) -> None:
        stored = store_generation(tenant)
        missing = uuid.uuid4()
        body = run_body(make_evaluation(tenant), stored, evaluation_id=str(missing))
        assert_error(
            api.post(url, body, format="json"),
            404,
            code="not_found",
            attr=None,
            detail=f"Evaluation {missing} not found.",
        )

    def test_other_projects_evaluation_is_404(
        self, api: APIClient, url: str, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        theirs = make_evaluation(other_tenant)
        response = api.post(url, run_body(theirs, store_generation(tenant)), format="json")
        assert_error(response, 404, code="not_found", attr=None, detail=f"Evaluation {theirs.id} not found.")

    def test_deleted_evaluation_is_404(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, deleted=True)
        response = api.post(url, run_body(evaluation, store_generation(tenant)), format="json")
        assert_error(response, 404, code="not_found", attr=None, detail=f"Evaluation {evaluation.id} not found.")

    @pytest.mark.parametrize(
        ("mismatch", "why"),
        [
            ({"target_event_id": "00000000-0000-4000-8000-000000000000"}, ""),
            ({"distinct_id": "someone-else"}, " Its distinct_id is not 'someone-else'."),
        ],
    )
    def test_event_must_match_uuid_and_distinct_id(
        self, api: APIClient, url: str, tenant: Tenant, mismatch: dict[str, str], why: str
    ) -> None:
        stored = store_generation(tenant)
        body = run_body(make_evaluation(tenant), stored, **mismatch)
        response = api.post(url, body, format="json")
        assert_error(
            response, 404, code="not_found", attr=None, detail=f"Event {body['target_event_id']} not found.{why}"
        )
        assert EvaluationRun.objects.count() == 0

    def test_an_event_of_another_name_is_404_naming_the_event_looked_for(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        pageview = store_generation(tenant, event="$pageview")
        body = run_body(make_evaluation(tenant), pageview)
        del body["event"]  # as a newcomer sends it: `event` defaults to `$ai_generation`
        response = api.post(url, body, format="json")
        assert_error(response, 404, code="not_found", attr=None, detail=f"Event {pageview.uuid} not found. A run looks for an `$ai_generation` event with this id; this id is a "
            '`$pageview` event (set "event": "$pageview" to run on it).')  # fmt: skip
        assert EvaluationRun.objects.count() == 0

    def test_other_projects_event_is_404(self, api: APIClient, url: str, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = store_generation(other_tenant)
        response = api.post(url, run_body(make_evaluation(tenant), theirs), format="json")
        assert_error(response, 404, code="not_found", attr=None, detail=f"Event {theirs.uuid} not found.")
        assert EvaluationRun.objects.count() == 0

    def test_no_judge_configured_is_503_naming_the_variables(
        self, api: APIClient, url: str, tenant: Tenant, no_judge: None, task_queue: str
    ) -> None:
        response = api.post(url, run_body(make_evaluation(tenant), store_generation(tenant)), format="json")
        assert_error(response, 503, code="llm_judge_not_configured", attr=None)
        assert "Retry-After" not in response  # retrying cannot help until someone configures a judge
        detail = response.json()["detail"]
        for variable in ("LLMA_EVAL_OPENAI_BASE_URL", "OPENAI_BASE_URL", "LLMA_EVAL_OPENAI_API_KEY", "OPENAI_API_KEY"):
            assert variable in detail
        assert EvaluationRun.objects.count() == 0


class TestTemporalUnreachable:
    def test_answers_503_within_seconds_and_records_nothing(
        self, api: APIClient, url: str, tenant: Tenant, settings: Any, fake_llm: Any
    ) -> None:
        settings.TEMPORAL_ADDRESS = f"127.0.0.1:{embedded.free_port()}"  # nothing listens there
        evaluation, stored = make_evaluation(tenant), store_generation(tenant)
        began = time.monotonic()
        response = api.post(url, run_body(evaluation, stored), format="json")
        elapsed = time.monotonic() - began
        assert_error(response, 503, code="temporal_unavailable", attr=None)
        assert response.json()["type"] == "server_error"
        assert elapsed < settings.TEMPORAL_START_TIMEOUT_SECONDS + 1
        assert EvaluationRun.objects.count() == 0


# --- the 201 path -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("events_backend")
class TestCreate:
    @pytest.mark.parametrize("prefix", ["environments", "projects"])
    @pytest.mark.parametrize("slash", ["/", ""])
    def test_starts_the_workflow_and_records_the_run(
        self, api: APIClient, tenant: Tenant, fake_llm: Any, task_queue: str, prefix: str, slash: str
    ) -> None:
        evaluation = make_evaluation(tenant, enabled=False)  # disabled evaluations may be run by hand
        stored = store_generation(tenant, distinct_id="user-42")
        before_ms = int(time.time() * 1000)
        response = api.post(
            f"/api/{prefix}/{tenant.team.id}/evaluation_runs{slash}", run_body(evaluation, stored), format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == {"workflow_id", "status", "evaluation", "target_event_id"}
        assert body["status"] == "started"
        assert body["evaluation"] == {"id": str(evaluation.id), "name": "Correctness"}
        assert body["target_event_id"] == str(stored.uuid)
        prefix_id, _, epoch_ms = body["workflow_id"].rpartition("-manual-")
        assert prefix_id == f"{evaluation.id}-{stored.uuid}"
        assert before_ms <= int(epoch_ms) <= int(time.time() * 1000)

        run = EvaluationRun.objects.get(id=body["workflow_id"])
        assert (run.team_id, run.evaluation_id, run.target_event_id) == (tenant.team.id, evaluation.id, stored.uuid)
        assert (run.event, run.distinct_id, run.timestamp) == ("$ai_generation", "user-42", stored.timestamp)
        assert (run.trigger, run.status) == (RunTrigger.MANUAL, RunStatus.PENDING)
        assert run.dispatched_at is not None

        description, inputs, started = started_workflow(body["workflow_id"])
        assert description.workflow_type == "run-evaluation"
        assert description.task_queue == task_queue
        assert started.retry_policy.maximum_attempts == 3
        assert inputs["evaluation_id"] == str(evaluation.id)
        event_data = inputs["event_data"]
        assert event_data["uuid"] == str(stored.uuid)
        assert event_data["event"] == "$ai_generation"
        assert event_data["team_id"] == tenant.team.id
        assert event_data["distinct_id"] == "user-42"
        assert event_data["properties"]["$ai_trace_id"] == "trace-1"
        assert event_data["person_id"] is not None

    def test_event_defaults_to_ai_generation_and_distinct_id_is_optional(
        self, api: APIClient, url: str, tenant: Tenant, fake_llm: Any, task_queue: str
    ) -> None:
        evaluation, stored = make_evaluation(tenant), store_generation(tenant)
        body = run_body(evaluation, stored)
        del body["event"], body["distinct_id"]
        assert api.post(url, body, format="json").status_code == 201
        assert api.post(url, {**body, "distinct_id": None}, format="json").status_code == 201

    def test_other_event_names_can_be_targeted(
        self, api: APIClient, url: str, tenant: Tenant, fake_llm: Any, task_queue: str
    ) -> None:
        stored = store_generation(tenant, event="$ai_trace")
        response = api.post(url, run_body(make_evaluation(tenant), stored), format="json")
        assert response.status_code == 201, response.content
        assert EvaluationRun.objects.get(id=response.json()["workflow_id"]).event == "$ai_trace"

    def test_two_runs_in_the_same_millisecond_get_distinct_ids(
        self, api: APIClient, url: str, tenant: Tenant, fake_llm: Any, task_queue: str, time_machine: Any
    ) -> None:
        time_machine.move_to("2026-11-01T12:00:00Z", tick=False)
        evaluation, stored = make_evaluation(tenant), store_generation(tenant)
        first = api.post(url, run_body(evaluation, stored), format="json").json()["workflow_id"]
        second = api.post(url, run_body(evaluation, stored), format="json").json()["workflow_id"]
        assert first != second
        assert int(second.rpartition("-")[2]) == int(first.rpartition("-")[2]) + 1


# --- history ------------------------------------------------------------------------------------------------


class TestList:
    def test_newest_first_with_every_field(self, key_client: Any, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        older = make_run(tenant, evaluation)
        newer = make_run(tenant, evaluation, status=RunStatus.FAILED, error_code="auth_error", error_message="no")
        response = key_client("evaluation:read").get(url)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 2
        assert [row["id"] for row in body["results"]] == [newer.id, older.id]
        row = body["results"][0]
        assert set(row) == {
            "id", "evaluation", "target_event_id", "event", "timestamp", "distinct_id", "trigger", "status",
            "result_type", "result", "passed", "verdict", "applicable", "reasoning", "model", "input_tokens", "output_tokens", "error",
            "emitted_event_id", "created_at", "started_at", "finished_at",
        }  # fmt: skip
        assert row["evaluation"] == {"id": str(evaluation.id), "name": "Correctness"}
        assert row["error"] == {"code": "auth_error", "message": "no"}
        assert body["results"][1]["error"] is None

    @pytest.mark.parametrize("field", ["evaluation_id", "status", "trigger", "target_event_id"])
    def test_filters(self, key_client: Any, url: str, tenant: Tenant, field: str) -> None:
        wanted = make_run(tenant, status=RunStatus.COMPLETED, trigger=RunTrigger.ONLINE)
        other = make_run(tenant)
        value = {"evaluation_id": wanted.evaluation_id, "status": "completed", "trigger": "online",
                 "target_event_id": wanted.target_event_id}[field]  # fmt: skip
        response = key_client("evaluation:read").get(url, {field: str(value)})
        ids = [row["id"] for row in response.json()["results"]]
        assert ids == [wanted.id]
        assert other.id not in ids

    @pytest.mark.parametrize(
        ("field", "value"),
        [("evaluation_id", "nope"), ("status", "done"), ("trigger", "cron"), ("target_event_id", "1")],
    )
    def test_bad_filter_values_are_400(self, key_client: Any, url: str, field: str, value: str) -> None:
        response = key_client("evaluation:read").get(url, {field: value})
        assert response.status_code == 400
        assert response.json()["attr"] == field

    def test_retrieve_unknown_id_is_404_and_nul_400(self, key_client: Any, url: str) -> None:
        api = key_client("evaluation:read")
        assert api.get(f"{url}nope-manual-1/").status_code == 404
        assert api.get(f"{url}bad%00id/").json()["code"] == "null_characters_not_allowed"
