"""Code evaluators (`evaluation_type: "hog"`): refused configs first, then what a program sees and how its return
value is read, then runs end to end through Temporal (online and by hand, with no LLM anywhere), and a program at
fault stopping its evaluation once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations import code_evaluators
from evaluations.contracts import Skip, Verdict
from evaluations.models import Evaluation, EvaluationRun, RunStatus
from tests.evaluations.fake_llm import FakeLLM
from tests.evaluations.helpers import GENERATION_PROPERTIES, make_evaluation, run_body, store_generation
from tests.evaluations.test_online_evaluation import generation, ingest
from tests.support.errors import assert_error
from tests.support.evaluations import wait_until
from tests.support.tenants import Tenant

FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED)
SHORT_ANSWER = "print(f'{length(output)} characters'); return length(output) < 500"


def hog_payload(source: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "Short answers", "evaluation_type": "hog", "output_type": "boolean",
            "evaluation_config": {"source": source}, **overrides}  # fmt: skip


# --- refused configs -------------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestConfig:
    @pytest.fixture
    def url(self, tenant: Tenant) -> str:
        return f"/api/environments/{tenant.team.id}/evaluations/"

    @pytest.fixture
    def api(self, key_client: Any) -> APIClient:
        return key_client("evaluation:write")

    @pytest.mark.parametrize(
        ("config", "detail"),
        [
            (
                {"source": "   "},
                "Invalid config for hog/boolean: evaluation_config.source: Source code cannot be empty",
            ),
            ({}, "Invalid config for hog/boolean: evaluation_config.source is required"),
            (
                {"source": 12},
                "Invalid config for hog/boolean: evaluation_config.source: Input should be a valid string",
            ),
        ],
    )
    def test_a_missing_or_blank_source(self, api: APIClient, url: str, config: Any, detail: str) -> None:
        response = api.post(url, hog_payload("") | {"evaluation_config": config}, format="json")
        assert_error(response, 400, attr="config", detail=detail)
        assert not Evaluation.objects.exists()

    def test_a_program_that_does_not_compile_names_the_line_and_column(self, api: APIClient, url: str) -> None:
        response = api.post(url, hog_payload("let x := 1\nreturn (x +"), format="json")
        assert_error(response, 400, attr="evaluation_config")
        assert response.json()["detail"].startswith("Failed to compile Hog code: ")
        assert "line 2" in response.json()["detail"]
        assert not Evaluation.objects.exists()

    def test_a_hog_evaluation_has_no_model_configuration(self, api: APIClient, url: str) -> None:
        body = hog_payload(SHORT_ANSWER, model_configuration={"provider": "openai", "model": "m"})
        assert_error(api.post(url, body, format="json"), 400, attr="model_configuration")

    def test_the_server_writes_the_compiled_program(self, api: APIClient, url: str) -> None:
        sent = hog_payload(SHORT_ANSWER) | {"evaluation_config": {"source": SHORT_ANSWER, "bytecode": {"x": 1}}}
        created = api.post(url, sent, format="json")
        assert created.status_code == 201, created.content
        config = created.json()["evaluation_config"]
        assert config["source"] == SHORT_ANSWER
        assert config["bytecode"]["format"] == "hog-tree"  # the client's is replaced
        assert Evaluation.objects.get().evaluation_config == config


# --- what a program sees, and what its answer means ----------------------------------------------------------


def snapshot(output_type: str = "boolean", output_config: dict[str, Any] | None = None, *, source: str) -> Any:
    from evaluations.configs import validate_configs
    from evaluations.contracts import EvaluationSnapshot

    config, output = validate_configs(evaluation_type="hog", output_type=output_type,
                                      evaluation_config={"source": source}, output_config=output_config or {})  # fmt: skip
    return EvaluationSnapshot(id="e", name="n", team_id=1, evaluation_type="hog", evaluation_config=config,
                              output_type=output_type, output_config=output)  # fmt: skip


EVENT = {"uuid": "u-1", "event": "$ai_generation", "distinct_id": "d-1", "properties": GENERATION_PROPERTIES}


def test_a_program_sees_postHogs_globals() -> None:
    seen = code_evaluators.program_globals(EVENT)
    assert seen["input"] == json.dumps(GENERATION_PROPERTIES["$ai_input"], separators=(",", ":"))
    assert seen["output"] == json.dumps(GENERATION_PROPERTIES["$ai_output_choices"], separators=(",", ":"))
    assert seen["event"] == {"uuid": "u-1", "event": "$ai_generation", "distinct_id": "d-1"}
    assert seen["properties"]["$ai_model"] == "gpt-4o-mini"
    bare = code_evaluators.program_globals({**EVENT, "properties": {"$ai_input": "plain", "$ai_output": ""}})
    assert (bare["input"], bare["output"]) == ("plain", "")  # strings as they are, a missing value empty


@pytest.mark.parametrize(
    ("output_type", "output_config", "source", "outcome"),
    [
        ("boolean", {}, "return properties.$ai_model = 'gpt-4o-mini'", Verdict(True)),
        ("boolean", {"allows_na": True}, "return null", Verdict(None, applicable=False)),
        ("numeric", {"min": 0, "max": 10}, "return length(event.uuid) * 2", Verdict(6.0)),
        (
            "numeric",
            {"min": 0, "max": 1},
            "return 2",
            Skip("score_out_of_bounds", "The score 2.0 is above the maximum 1."),
        ),
        (
            "categorical",
            {
                "options": [{"key": "short", "label": "Short"}, {"key": "long", "label": "Long"}],
                "selection_mode": "single",
            },
            "if (length(output) < 50) { return 'short' } return 'long'",
            Verdict(["short"]),
        ),
    ],
)
def test_the_return_value_is_the_verdict(output_type: str, output_config: dict[str, Any], source: str,
                                          outcome: Any) -> None:  # fmt: skip
    judged = code_evaluators.evaluate(snapshot(output_type, output_config, source=source), EVENT)
    assert judged.outcome == outcome
    assert (judged.model, judged.input_tokens) == ("", None)  # no LLM, no cost


def test_printed_lines_are_the_reasoning() -> None:
    judged = code_evaluators.evaluate(snapshot(source="print('checked'); print(1, 2); return true"), EVENT)
    assert judged.reasoning == "checked\n1 2"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("return 'yes'", "Must return boolean, got string: 'yes'"),
        ("return [1][0]", "Runtime error"),
        ("while (true) { }", "Execution "),  # its step budget or its time limit, whichever comes first
        ("let s := 'x'; while (true) { s := concat(s, s) }", "Memory limit exceeded"),
        ("fun f(n) { return f(n + 1) } return f(1)", ""),
    ],
)
def test_a_program_at_fault_is_a_program_error(source: str, message: str) -> None:
    with pytest.raises(code_evaluators.ProgramError) as raised:
        code_evaluators.evaluate(snapshot(source=source), EVENT)
    assert message in raised.value.message


def test_the_detail_kept_is_bounded() -> None:
    error = code_evaluators.ProgramError("x" * 5000)
    assert len(error.detail) == code_evaluators.MAX_DETAIL and error.detail.endswith("…")


# --- end to end ---------------------------------------------------------------------------------------------------


def runs_finished(evaluation: Evaluation, count: int) -> list[EvaluationRun] | None:
    found = list(EvaluationRun.objects.filter(evaluation=evaluation, status__in=FINISHED))
    return found if len(found) >= count else None


@pytest.mark.django_db(transaction=True)
def test_hog_runs_online_and_by_hand_without_any_llm(
    tenant: Tenant, key_client: Any, evaluation_worker: Any, fake_llm: FakeLLM, settings: Any
) -> None:
    settings.LLMA_EVAL_OPENAI_BASE_URL = settings.LLMA_EVAL_OPENAI_API_KEY = ""  # no judge on this server
    evaluation = make_evaluation(tenant, evaluation_type="hog", **_stored(SHORT_ANSWER),
                                 conditions=[{"id": "all", "rollout_percentage": 100, "properties": []}])  # fmt: skip
    ingest(tenant, generation())
    [online] = wait_until(lambda: runs_finished(evaluation, 1), message="the online run")
    assert (online.status, online.verdict, online.passed) == (RunStatus.COMPLETED, True, True), online.error_message
    assert online.reasoning.endswith(" characters")

    stored = store_generation(tenant)  # judged online too: the evaluation takes every generation
    started = key_client("evaluation:write").post(f"/api/environments/{tenant.team.id}/evaluation_runs/",
                                                  run_body(evaluation, stored), format="json")  # fmt: skip
    assert started.status_code == 201, started.content
    runs = wait_until(lambda: runs_finished(evaluation, 3), message="the manual run and the second online one")
    assert sorted(run.trigger for run in runs) == ["manual", "online", "online"]
    assert fake_llm.requests == []

    emitted = wait_until(lambda: (found := key_client("query:read").get(
        f"/api/environments/{tenant.team.id}/events/", {"event": "$ai_evaluation"}).json()["results"])
        and len(found) == 3 and found, message="the three events")  # fmt: skip
    for event in emitted:
        properties = event["properties"]
        assert (properties["$ai_evaluation_runtime"], properties["$ai_evaluation_result_type"]) == ("hog", "boolean")
        assert properties["$ai_evaluation_result"] is True
        assert properties["$ai_evaluation_reasoning"].endswith(" characters")
        assert not {"$ai_model", "$ai_provider", "$ai_input_tokens", "$ai_evaluation_key_type"} & set(properties)


@pytest.mark.django_db(transaction=True)
def test_a_program_at_fault_skips_its_run_and_stops_the_evaluation_once(
    tenant: Tenant, key_client: Any, evaluation_worker: Any, fake_llm: FakeLLM
) -> None:
    evaluation = make_evaluation(tenant, evaluation_type="hog", **_stored("return 'not a boolean'"),
                                 conditions=[{"id": "all", "rollout_percentage": 100, "properties": []}])  # fmt: skip
    ingest(tenant, generation(), generation(), generation())
    runs = wait_until(lambda: runs_finished(evaluation, 3), message="the runs")
    assert {run.status for run in runs} == {RunStatus.SKIPPED}
    judged = [run for run in runs if run.error_code == "hog_error"]
    assert judged and all("Must return boolean" in run.error_message for run in judged)
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.status_reason, evaluation.enabled) == ("error", "hog_error", False)
    assert evaluation.status_reason_detail == "Must return boolean, got string: 'not a boolean'"
    emitted = key_client("query:read").get(f"/api/environments/{tenant.team.id}/events/",
                                           {"event": "$ai_evaluation"}).json()["results"]  # fmt: skip
    assert len(emitted) == len(judged)
    assert {event["properties"]["$ai_evaluation_skip_reason"] for event in emitted} == {"hog_error"}
    # A Hog evaluation is never refused re-enabling: fix the program and turn it on.
    fixed = key_client("evaluation:write").patch(
        f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/",
        {"enabled": True, "evaluation_config": {"source": "return true"}}, format="json",
    )  # fmt: skip
    assert fixed.status_code == 200, fixed.content
    assert (fixed.json()["status"], fixed.json()["status_reason"]) == ("active", None)


def _stored(source: str) -> dict[str, Any]:
    """The configs a create through the API stores (compiled program included)."""
    from evaluations.configs import validate_configs

    config, output = validate_configs(evaluation_type="hog", output_type="boolean",
                                      evaluation_config={"source": source}, output_config={})  # fmt: skip
    return {"evaluation_config": config, "output_config": output}


# --- test_hog: a dry run on recent events ---------------------------------------------------------------------


@pytest.mark.django_db
class TestDryRun:
    @pytest.fixture
    def url(self, tenant: Tenant) -> str:
        return f"/api/environments/{tenant.team.id}/evaluations/test_hog/"

    @pytest.fixture
    def api(self, key_client: Any) -> APIClient:
        return key_client("evaluation:read")

    @pytest.mark.parametrize(
        ("body", "attr"),
        [
            ({}, "source"),
            ({"source": ""}, "source"),
            ({"source": "return true", "sample_count": 0}, "sample_count"),
            ({"source": "return true", "sample_count": 11}, "sample_count"),
            ({"source": "return true", "allows_na": "yes"}, "allows_na"),
            ({"source": "return true", "conditions": "all"}, "conditions"),
        ],
    )
    def test_malformed_requests(self, api: APIClient, url: str, body: Any, attr: str) -> None:
        assert_error(api.post(url, body, format="json"), 400, attr=attr)

    def test_a_program_that_does_not_compile(self, api: APIClient, url: str) -> None:
        response = api.post(url, {"source": "return (1 +"}, format="json")
        assert_error(response, 400, attr="source")
        assert response.json()["detail"].startswith("Compilation error: ")

    def test_no_recent_generations(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store_generation(tenant, timestamp=timezone.now() - timedelta(days=8))
        answer = api.post(url, {"source": "return true"}, format="json")
        assert answer.json() == {"results": [], "message": "No recent AI events found in the last 7 days"}

    def test_runs_on_the_newest_matching_generations_and_stores_nothing(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        now = timezone.now()
        older = store_generation(tenant, timestamp=now - timedelta(hours=2))
        newer = store_generation(tenant, timestamp=now - timedelta(hours=1),
                                 properties={**GENERATION_PROPERTIES, "$ai_output_choices": "x" * 600})  # fmt: skip
        store_generation(tenant, properties={**GENERATION_PROPERTIES, "$ai_model": "other"})
        model = [{"properties": [{"key": "$ai_model", "value": "gpt-4o-mini", "operator": "exact", "type": "event"}]}]
        answer = api.post(url, {"source": SHORT_ANSWER, "sample_count": 2, "conditions": model}, format="json")
        assert answer.status_code == 200, answer.content
        results = answer.json()["results"]
        assert [row["event_uuid"] for row in results] == [str(newer.uuid), str(older.uuid)]
        assert [row["result"] for row in results] == [False, True]
        assert results[0]["reasoning"] == "600 characters"
        assert (results[0]["output_preview"], results[0]["trace_id"], results[0]["error"]) == (
            "x" * 200,
            "trace-1",
            None,
        )
        assert EvaluationRun.objects.count() == 0

    def test_a_wrong_answer_is_an_error_of_its_row(self, api: APIClient, url: str, tenant: Tenant) -> None:
        store_generation(tenant)
        [row] = api.post(url, {"source": "print('hm'); return 'yes'"}, format="json").json()["results"]
        assert (row["result"], row["error"]) == (None, "Must return boolean, got string: 'yes'")
        assert row["reasoning"] == "hm"
