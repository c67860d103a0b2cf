"""Evaluation runs end to end: the endpoint, the real worker on a real Temporal dev server, the judge over real
HTTP (a fake OpenAI-compatible server), and the `$ai_evaluation` event read back through the events API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations.contracts import RunEvaluationInputs, online_workflow_id
from evaluations.models import Evaluation, EvaluationRun, RunStatus
from posthog_clone.temporal.client import connect
from tests.evaluations.fake_llm import FakeLLM, Reply, completion, error, verdict
from tests.evaluations.helpers import GENERATION_PROPERTIES, make_evaluation, make_run, run_body, store_generation
from tests.support.evaluations import wait_until
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED)


def start_run(key_client: Any, tenant: Tenant, evaluation: Evaluation, **event: Any) -> str:
    stored = store_generation(tenant, **event)
    response = key_client("evaluation:write").post(
        f"/api/environments/{tenant.team.id}/evaluation_runs/", run_body(evaluation, stored), format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["workflow_id"]


def finished_run(workflow_id: str, timeout: float = 60) -> EvaluationRun:
    return wait_until(
        lambda: EvaluationRun.objects.filter(id=workflow_id, status__in=FINISHED).first(),
        timeout=timeout,
        message=f"run {workflow_id} finishing",
    )


def evaluation_events(api: APIClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = api.get(f"/api/environments/{tenant.team.id}/events/", {"event": "$ai_evaluation"})
    assert response.status_code == 200
    return response.json()["results"]


def common_properties(evaluation: Any, run: EvaluationRun, properties: dict[str, Any]) -> dict[str, Any]:
    """What every judged run's event carries, whatever its output type."""
    return {
        "$ai_evaluation_id": str(evaluation.id),
        "$ai_evaluation_name": evaluation.name,
        "$ai_evaluation_model": "judge-test-model",
        "$ai_evaluation_start_time": properties["$ai_evaluation_start_time"],
        "$ai_evaluation_reasoning": run.reasoning,
        "$ai_evaluation_allows_na": False,
        "$ai_target_event_id": str(run.target_event_id),
        "$ai_target_event_type": "$ai_generation",
        "$ai_trace_id": "trace-1",
        "$ai_evaluation_type": "online",
        "$ai_evaluation_runtime": "llm_judge",
        "$ai_evaluation_trigger": run.trigger,
        "$ai_model": "judge-test-model",
        "$ai_provider": "openai",
        "$ai_input_tokens": 42,
        "$ai_output_tokens": 18,
        "$ai_evaluation_key_type": "posthog",
    }


class TestManualRuns:
    @pytest.mark.usefixtures("events_backend")  # the verdict is stored, and read back, through either store
    def test_true_verdict_through_to_the_event_list(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        evaluation = make_evaluation(tenant)
        workflow_id = start_run(key_client, tenant, evaluation, distinct_id="user-9")
        run = finished_run(workflow_id)
        assert run.status == RunStatus.COMPLETED, run.error_message
        assert (run.verdict, run.applicable, run.reasoning) == (True, None, "The answer is correct.")
        assert (run.model, run.input_tokens, run.output_tokens) == ("judge-test-model", 42, 18)
        assert run.started_at is not None and run.finished_at >= run.started_at

        [request] = fake_llm.requests
        assert request["_path"] == "/v1/chat/completions"
        assert request["_authorization"] == "Bearer sk-test-judge"
        assert request["model"] == "judge-test-model"
        assert request["response_format"]["type"] == "json_schema"
        assert request["response_format"]["json_schema"]["schema"]["required"] == ["reasoning", "verdict"]
        system, user = request["messages"]
        assert system == {
            "role": "system",
            "content": "You are an evaluator. Evaluate the following generation according to this criteria:\n\n"
            "Is the answer correct?\n\nProvide a brief reasoning (1 sentence) and a boolean verdict (true/false).",
        }
        assert user == {"role": "user", "content": "Input: system: Answer briefly.\nuser: What is 2 + 2?\n\n"
                                                   "Output: assistant: 4"}  # fmt: skip

        [event] = evaluation_events(key_client("query:read"), tenant)
        assert event["id"] == str(run.emitted_event_id)
        assert event["distinct_id"] == "user-9"
        properties = event["properties"]
        assert properties == {
            **common_properties(evaluation, run, properties),
            "$ai_evaluation_result": True,
            "$ai_evaluation_result_type": "boolean",
        }
        assert (evaluation.name, run.reasoning) == ("Correctness", "The answer is correct.")
        assert properties["$ai_evaluation_start_time"] <= event["timestamp"]

        shown = key_client("evaluation:read").get(f"/api/projects/{tenant.team.id}/evaluation_runs/{workflow_id}")
        assert shown.status_code == 200
        assert shown.json()["status"] == "completed"
        assert shown.json()["verdict"] is True
        assert shown.json()["emitted_event_id"] == event["id"]

    def test_false_verdict(self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM) -> None:
        fake_llm.script(verdict(False, "The answer is wrong."))
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant)))
        assert (run.status, run.verdict, run.reasoning) == (RunStatus.COMPLETED, False, "The answer is wrong.")
        [event] = evaluation_events(key_client("query:read"), tenant)
        assert event["properties"]["$ai_evaluation_result"] is False

    def test_not_applicable_when_allowed(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(verdict(None, "No code in this answer.", applicable=False))
        evaluation = make_evaluation(tenant, output_config={"allows_na": True})
        run = finished_run(start_run(key_client, tenant, evaluation))
        assert (run.status, run.verdict, run.applicable) == (RunStatus.COMPLETED, None, False)
        system = fake_llm.requests[0]["messages"][0]["content"]
        assert "applicable=false with verdict=null" in system
        schema = fake_llm.requests[0]["response_format"]["json_schema"]["schema"]
        assert schema["properties"]["verdict"] == {"type": ["boolean", "null"]}
        [event] = evaluation_events(key_client("query:read"), tenant)
        assert "$ai_evaluation_result" not in event["properties"]
        assert event["properties"]["$ai_evaluation_applicable"] is False
        assert event["properties"]["$ai_evaluation_allows_na"] is True

    def test_applicable_verdict_when_na_allowed(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(verdict(True, "Fine.", applicable=True))
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant, output_config={"allows_na": True})))
        assert (run.verdict, run.applicable) == (True, True)
        [event] = evaluation_events(key_client("query:read"), tenant)
        assert event["properties"]["$ai_evaluation_result"] is True
        assert event["properties"]["$ai_evaluation_applicable"] is True

    def test_garbage_answer_is_retried(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(completion("I think it is fine, probably."))
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant)), timeout=90)
        assert run.status == RunStatus.COMPLETED, run.error_message
        assert run.verdict is True
        assert len(fake_llm.requests) == 2
        assert len(evaluation_events(key_client("query:read"), tenant)) == 1

    def test_provider_401_fails_without_retrying(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.default = error(401, "Incorrect API key provided", code="invalid_api_key")
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant)))
        assert run.status == RunStatus.FAILED
        assert run.error_code == "auth_error"
        assert "Incorrect API key provided" in run.error_message
        assert len(fake_llm.requests) == 1
        shown = key_client("evaluation:read").get(f"/api/environments/{tenant.team.id}/evaluation_runs/{run.id}/")
        assert shown.json()["error"]["code"] == "auth_error"
        assert evaluation_events(key_client("query:read"), tenant) == []

    def test_quota_exhausted_fails_without_retrying(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.default = error(429, "You exceeded your current quota", code="insufficient_quota")
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant)))
        assert (run.status, run.error_code) == (RunStatus.FAILED, "quota_error")
        assert len(fake_llm.requests) == 1

    def test_missing_prompt_is_a_non_retryable_failure(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        evaluation = make_evaluation(tenant, evaluation_config={})  # stored without validation
        run = finished_run(start_run(key_client, tenant, evaluation))
        assert (run.status, run.error_code) == (RunStatus.FAILED, "missing_prompt")
        assert run.error_message == "Missing prompt in evaluation_config"
        assert fake_llm.requests == []

    def test_server_without_structured_output_answers_json_in_text(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fenced = "```json\n" + json.dumps({"reasoning": "Plain text server.", "verdict": False}) + "\n```"
        fake_llm.script(
            Reply(
                **vars(error(400, "response_format of type json_schema is not supported")) | {"structured_only": True}
            ),
            completion(fenced),
        )
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant)))
        assert (run.status, run.verdict, run.reasoning) == (RunStatus.COMPLETED, False, "Plain text server.")
        structured, fallback = fake_llm.requests
        assert "response_format" in structured
        assert "response_format" not in fallback
        assert '"required": ["reasoning", "verdict"]' in fallback["messages"][0]["content"]


def run_as_a_scheduler(tenant: Tenant, evaluation: Evaluation, workflow_id: str, event_data: dict[str, Any]) -> Any:
    """Start `run-evaluation` directly, as PostHog's scheduler does (properties as a JSON string), and wait."""

    async def run() -> Any:
        client = await connect()
        return await client.execute_workflow(
            "run-evaluation",
            RunEvaluationInputs(str(evaluation.id), event_data),
            id=workflow_id,
            task_queue=settings.TEMPORAL_TASK_QUEUE,
        )

    return asyncio.run(asyncio.wait_for(run(), timeout=60))


class TestStartedByAScheduler:
    def test_records_a_run_it_did_not_know(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        evaluation, stored = make_evaluation(tenant), store_generation(tenant, distinct_id="user-3")
        workflow_id = online_workflow_id(str(evaluation.id), str(stored.uuid))
        event_data = {"uuid": str(stored.uuid), "event": "$ai_generation", "team_id": tenant.team.id,
                      "distinct_id": "user-3", "timestamp": "2026-11-01 12:00:00.000000",
                      "properties": json.dumps(GENERATION_PROPERTIES), "elements_chain": "",
                      "created_at": "2026-11-01 12:00:01.000000", "person_id": None}  # fmt: skip
        result = run_as_a_scheduler(tenant, evaluation, workflow_id, event_data)
        assert result == {"verdict": True, "reasoning": "The answer is correct.", "evaluation_id": str(evaluation.id)}
        run = EvaluationRun.objects.get(id=workflow_id)
        assert (run.trigger, run.status, run.distinct_id) == ("online", RunStatus.COMPLETED, "user-3")
        [event] = evaluation_events(key_client("query:read"), tenant)
        assert event["properties"]["$ai_trace_id"] == "trace-1"

    def test_deleted_evaluation_is_skipped(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        evaluation, stored = make_evaluation(tenant), store_generation(tenant)
        run = make_run(tenant, evaluation, id=online_workflow_id(str(evaluation.id), str(stored.uuid)),
                       target_event_id=stored.uuid, trigger="online", dispatched_at=timezone.now())  # fmt: skip
        Evaluation.objects.filter(pk=evaluation.pk).update(deleted=True)
        event_data = {"uuid": str(stored.uuid), "event": stored.event, "team_id": tenant.team.id,
                      "distinct_id": stored.distinct_id, "timestamp": stored.timestamp.isoformat(),
                      "properties": stored.properties}  # fmt: skip
        result = run_as_a_scheduler(tenant, evaluation, run.id, event_data)
        assert result["skipped"] is True
        assert result["skip_reason"] == "evaluation_deleted"
        run.refresh_from_db()
        assert (run.status, run.error_code) == (RunStatus.SKIPPED, "evaluation_deleted")
        assert fake_llm.requests == []
        assert evaluation_events(key_client("query:read"), tenant) == []
