"""Numeric and categorical runs end to end: the endpoint, the real worker on a Temporal dev server, the judge over
real HTTP (the fake OpenAI-compatible server, through the `openai` client), the `$ai_evaluation` event read back
through the events API, and the run's typed history row."""

from __future__ import annotations

from typing import Any

import pytest

from evaluations.contracts import online_workflow_id
from evaluations.models import EvaluationRun, RunStatus
from tests.evaluations.fake_llm import FakeLLM, categories, completion, score
from tests.evaluations.helpers import make_evaluation, store_generation
from tests.evaluations.test_evaluation_runs_e2e import (
    common_properties,
    evaluation_events,
    finished_run,
    run_as_a_scheduler,
    start_run,
)
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

GRADED = {"min": 0, "max": 10, "passing_rule": {"operator": "gte", "threshold": 7}}
OPTIONS = [{"key": "on_topic", "label": "On topic"}, {"key": "polite", "label": "Polite"},
           {"key": "rude", "label": "Rude"}]  # fmt: skip


def history_row(key_client: Any, tenant: Tenant, run: EvaluationRun) -> dict[str, Any]:
    response = key_client("evaluation:read").get(f"/api/environments/{tenant.team.id}/evaluation_runs/{run.id}/")
    assert response.status_code == 200
    return response.json()


def skip_event(key_client: Any, tenant: Tenant, run: EvaluationRun) -> dict[str, Any]:
    """The one `$ai_evaluation` event of a skipped run: it says so, and why, and carries no verdict."""
    [event] = evaluation_events(key_client("query:read"), tenant)
    properties = event["properties"]
    assert event["id"] == str(run.emitted_event_id)
    assert (properties["$ai_evaluation_skipped"], properties["$ai_evaluation_skip_reason"]) == (True, run.error_code)
    assert "$ai_evaluation_key_type" not in properties and "$ai_evaluation_passed" not in properties
    return properties


class TestNumeric:
    def test_a_score_lands_as_an_event_and_in_the_history(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(score(8, "Mostly right."))
        evaluation = make_evaluation(tenant, name="Quality", output_type="numeric", output_config=GRADED)
        run = finished_run(start_run(key_client, tenant, evaluation))
        assert run.status == RunStatus.COMPLETED, run.error_message
        assert (run.result_type, run.result, run.passed, run.verdict) == ("numeric", 8.0, True, None)

        [request] = fake_llm.requests
        assert request["response_format"]["json_schema"]["name"] == "numeric_eval_result"
        assert request["response_format"]["json_schema"]["strict"] is True
        assert request["response_format"]["json_schema"]["schema"]["properties"]["score"] == {"type": "number"}
        assert request["messages"][0]["content"].endswith(
            "Is the answer correct?\n\nProvide a brief reasoning (1 sentence) and a numeric score (a finite number). "
            "The score must be at least 0. The score must be at most 10."
        )

        [event] = evaluation_events(key_client("query:read"), tenant)
        properties = event["properties"]
        assert properties == {
            **common_properties(evaluation, run, properties),
            "$ai_evaluation_result_type": "numeric",
            "$ai_evaluation_numeric_result": 8.0,
            "$ai_evaluation_numeric_result_min": 0,
            "$ai_evaluation_numeric_result_max": 10,
            "$ai_evaluation_passed": True,
        }
        row = history_row(key_client, tenant, run)
        assert {name: row[name] for name in ("status", "result_type", "result", "passed", "verdict", "applicable")} == {
            "status": "completed", "result_type": "numeric", "result": 8.0, "passed": True, "verdict": None,
            "applicable": None}  # fmt: skip
        assert row["emitted_event_id"] == event["id"]

    def test_a_failing_zero_and_a_not_applicable_score(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(score(0, "Wrong."), score(None, "No answer to grade."))
        evaluation = make_evaluation(tenant, output_type="numeric", output_config={**GRADED, "allows_na": True})
        zero = finished_run(start_run(key_client, tenant, evaluation))
        na = finished_run(start_run(key_client, tenant, evaluation))
        assert (zero.result, zero.passed, zero.applicable) == (0.0, False, True)
        assert (na.status, na.result, na.passed, na.applicable) == (RunStatus.COMPLETED, None, None, False)
        events = {event["properties"]["$ai_evaluation_reasoning"]: event["properties"]
                  for event in evaluation_events(key_client("query:read"), tenant)}  # fmt: skip
        assert events["Wrong."]["$ai_evaluation_numeric_result"] == 0
        assert events["Wrong."]["$ai_evaluation_passed"] is False
        assert "$ai_evaluation_numeric_result" not in events["No answer to grade."]
        assert "$ai_evaluation_passed" not in events["No answer to grade."]
        assert events["No answer to grade."]["$ai_evaluation_applicable"] is False
        assert events["No answer to grade."]["$ai_evaluation_allows_na"] is True
        row = history_row(key_client, tenant, na)
        assert (row["result_type"], row["result"], row["passed"]) == ("numeric", None, None)

    def test_a_score_out_of_bounds_is_skipped(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(score(11))
        evaluation = make_evaluation(tenant, output_type="numeric", output_config=GRADED)
        run = finished_run(start_run(key_client, tenant, evaluation))
        assert (run.status, run.error_code) == (RunStatus.SKIPPED, "score_out_of_bounds")
        assert run.error_message == "The score 11.0 is above the maximum 10."
        assert len(fake_llm.requests) == 1
        properties = skip_event(key_client, tenant, run)
        assert properties["$ai_evaluation_result_type"] == "numeric"
        # Not a billed skip (the answer was well formed): no model or tokens, and no score.
        assert not {"$ai_model", "$ai_input_tokens", "$ai_evaluation_numeric_result"} & properties.keys()
        row = history_row(key_client, tenant, run)
        assert (row["status"], row["result_type"], row["result"], row["passed"]) == ("skipped", "numeric", None, None)
        assert row["error"] == {"code": "score_out_of_bounds", "message": "The score 11.0 is above the maximum 10."}

    def test_an_answer_that_does_not_fit_is_skipped_not_retried(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(completion("Eight out of ten."))
        evaluation = make_evaluation(tenant, output_type="numeric", output_config=GRADED)
        run = finished_run(start_run(key_client, tenant, evaluation))
        assert (run.status, run.error_code) == (RunStatus.SKIPPED, "unparsable_response")
        assert "Eight out of ten." in run.error_message
        assert len(fake_llm.requests) == 1
        properties = skip_event(key_client, tenant, run)
        # A billed skip (the answer itself was the problem): the judge's model and tokens stay.
        assert (properties["$ai_model"], properties["$ai_input_tokens"], properties["$ai_output_tokens"]) == (
            "judge-test-model",
            42,
            18,
        )
        assert (run.model, run.input_tokens) == ("judge-test-model", 42)

    def test_a_scheduler_gets_the_score_as_the_verdict(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(score(7.5, "Fine."))
        evaluation = make_evaluation(tenant, output_type="numeric", output_config=GRADED)
        stored = store_generation(tenant)
        event_data = {"uuid": str(stored.uuid), "event": stored.event, "team_id": tenant.team.id,
                      "distinct_id": stored.distinct_id, "timestamp": stored.timestamp.isoformat(),
                      "properties": stored.properties}  # fmt: skip
        workflow_id = online_workflow_id(str(evaluation.id), str(stored.uuid))
        result = run_as_a_scheduler(tenant, evaluation, workflow_id, event_data)
        assert result == {"verdict": 7.5, "reasoning": "Fine.", "evaluation_id": str(evaluation.id)}
        assert EvaluationRun.objects.get(id=workflow_id).passed is True


class TestCategorical:
    def test_single_selection(self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM) -> None:
        fake_llm.script(categories(["polite"], "Courteous."))
        config = {"options": OPTIONS, "selection_mode": "single", "passing_rule": {"categories": ["polite"]}}
        evaluation = make_evaluation(tenant, name="Tone", output_type="categorical", output_config=config)
        run = finished_run(start_run(key_client, tenant, evaluation))
        assert run.status == RunStatus.COMPLETED, run.error_message
        assert (run.result_type, run.result, run.passed, run.verdict) == ("categorical", ["polite"], True, None)

        [request] = fake_llm.requests
        schema = request["response_format"]["json_schema"]
        assert schema["name"] == "categorical_eval_result"
        assert schema["schema"]["properties"]["categories"]["items"]["enum"] == ["on_topic", "polite", "rude"]
        assert "Choose exactly one category key" in request["messages"][0]["content"]

        [event] = evaluation_events(key_client("query:read"), tenant)
        properties = event["properties"]
        assert properties == {
            **common_properties(evaluation, run, properties),
            "$ai_evaluation_result_type": "categorical",
            "$ai_evaluation_categorical_result": ["polite"],
            "$ai_evaluation_applicable": True,
            "$ai_evaluation_passed": True,
        }
        row = history_row(key_client, tenant, run)
        assert (row["result_type"], row["result"], row["passed"], row["verdict"]) == (
            "categorical", ["polite"], True, None)  # fmt: skip

    def test_multiple_selection(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(categories(["on_topic", "rude"], "On topic but rude."), categories([], "Nothing applies."))
        config = {"options": OPTIONS, "selection_mode": "multiple",
                  "passing_rule": {"categories": ["on_topic", "polite"]}}  # fmt: skip
        evaluation = make_evaluation(tenant, output_type="categorical", output_config=config)
        mixed = finished_run(start_run(key_client, tenant, evaluation))
        empty = finished_run(start_run(key_client, tenant, evaluation))
        assert (mixed.result, mixed.passed) == (["on_topic", "rude"], False)
        assert (empty.result, empty.passed) == ([], False)
        assert "zero or more distinct category keys" in fake_llm.requests[0]["messages"][0]["content"]
        events = {event["properties"]["$ai_evaluation_reasoning"]: event["properties"]
                  for event in evaluation_events(key_client("query:read"), tenant)}  # fmt: skip
        assert events["On topic but rude."]["$ai_evaluation_categorical_result"] == ["on_topic", "rude"]
        assert events["On topic but rude."]["$ai_evaluation_passed"] is False
        assert events["Nothing applies."]["$ai_evaluation_categorical_result"] == []
        rows = {row["id"]: row for row in key_client("evaluation:read").get(
            f"/api/environments/{tenant.team.id}/evaluation_runs/").json()["results"]}  # fmt: skip
        assert rows[mixed.id]["result"] == ["on_topic", "rude"]
        assert rows[empty.id]["result"] == []

    def test_an_unknown_category_is_skipped(
        self, key_client: Any, tenant: Tenant, evaluation_worker: Any, fake_llm: FakeLLM
    ) -> None:
        fake_llm.script(categories(["friendly"]))
        config = {"options": OPTIONS, "selection_mode": "single"}
        run = finished_run(start_run(key_client, tenant, make_evaluation(tenant, output_type="categorical",
                                                                          output_config=config)))  # fmt: skip
        assert (run.status, run.error_code) == (RunStatus.SKIPPED, "parse_error")
        assert run.error_message == "Unknown categories: friendly (the categories are on_topic, polite, rude)."
        assert len(fake_llm.requests) == 1
        properties = skip_event(key_client, tenant, run)
        assert (properties["$ai_evaluation_result_type"], properties["$ai_evaluation_applicable"]) == (
            "categorical",
            False,
        )
        assert "$ai_evaluation_categorical_result" not in properties
        row = history_row(key_client, tenant, run)
        assert (row["status"], row["result_type"], row["error"]["code"]) == ("skipped", "categorical", "parse_error")
