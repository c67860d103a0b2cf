"""`POST llm_analytics/evaluation_summary/`: the judge's LLM summarises an evaluation's recent results; we count the
statistics, cache the answer for an hour where every process sees it, and refuse bad input first."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations import summary_cache
from evaluations.models import Evaluation, EvaluationSummaryCache
from events.records import EventInput
from events.services import events_capture
from tests.evaluations.fake_llm import FakeLLM, Reply, completion
from tests.evaluations.helpers import make_evaluation, make_provider_key, store_generation
from tests.support.errors import assert_error
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db

SUMMARY = {
    "overall_assessment": "Mostly correct; failures are arithmetic slips.",
    "pass_patterns": [
        {"title": "Short answers", "description": "Direct answers pass.", "frequency": "common",
         "example_generation_ids": []},
    ],
    "fail_patterns": [
        {"title": "Arithmetic", "description": "Wrong sums.", "frequency": "occasional", "example_generation_ids": []},
    ],
    "na_patterns": [],
    "recommendations": ["Ask the model to check its sums."],
    # What a model may claim; the answer's statistics are ours.
    "statistics": {"total_analyzed": 999, "pass_count": 999, "fail_count": 0, "na_count": 0},
}  # fmt: skip


def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/llm_analytics/evaluation_summary/"


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:read")


def summary_reply(**changes: Any) -> Reply:
    return completion(json.dumps({**SUMMARY, **changes}))


def store_result(
    tenant: Tenant, evaluation: Evaluation, verdict: str, *, generation: uuid.UUID | None = None, **extra: Any
) -> uuid.UUID:
    """One `$ai_evaluation` event of `evaluation` (through the events store): pass, fail, na, skipped, or (with
    `scored`) only what `extra` says."""
    generation = generation or uuid.uuid4()
    properties: dict[str, Any] = {
        "$ai_evaluation_id": str(evaluation.id),
        "$ai_evaluation_name": evaluation.name,
        "$ai_evaluation_reasoning": f"Reasoning for a {verdict}.",
        "$ai_target_event_id": str(generation),
        "$ai_evaluation_allows_na": True,
        **extra,
    }
    if verdict in ("pass", "fail"):
        properties.update({"$ai_evaluation_result": verdict == "pass", "$ai_evaluation_applicable": True})
    elif verdict == "na":
        properties["$ai_evaluation_applicable"] = False
    elif verdict == "skipped":  # PostHog's skipped boolean run says false; readers leave it out by its flag
        properties.update({"$ai_evaluation_result": False, "$ai_evaluation_skipped": True,
                           "$ai_evaluation_skip_reason": "trace_errored"})  # fmt: skip
    store_generation(tenant, event="$ai_evaluation", properties=properties,
                     timestamp=timezone.now() - timedelta(seconds=1))  # fmt: skip
    return generation


def seeded(tenant: Tenant, **fields: Any) -> tuple[Evaluation, dict[str, list[uuid.UUID]]]:
    evaluation = make_evaluation(tenant, **fields)
    ids = {verdict: [store_result(tenant, evaluation, verdict) for _ in range(count)]
           for verdict, count in (("pass", 3), ("fail", 2), ("na", 1), ("skipped", 1))}  # fmt: skip
    return evaluation, ids


def user_prompt(request: dict[str, Any]) -> str:
    return next(message["content"] for message in request["messages"] if message["role"] == "user")


# --- refused input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({}, "evaluation_id"),
        ({"evaluation_id": "nope"}, "evaluation_id"),
        ({"evaluation_id": "{id}", "filter": "sometimes"}, "filter"),
        ({"evaluation_id": "{id}", "generation_ids": "abc"}, "generation_ids"),
        ({"evaluation_id": "{id}", "generation_ids": ["nope"]}, "generation_ids__0"),
        ({"evaluation_id": "{id}", "generation_ids": [str(uuid.uuid4()) for _ in range(251)]}, "generation_ids"),
        ({"evaluation_id": "{id}", "force_refresh": "perhaps"}, "force_refresh"),
    ],
)
def test_bad_bodies_are_400(api: APIClient, tenant: Tenant, fake_llm: FakeLLM, body: dict[str, Any], attr: str) -> None:
    evaluation = make_evaluation(tenant)
    body = {key: str(evaluation.id) if value == "{id}" else value for key, value in body.items()}
    assert_error(api.post(url(tenant), body, format="json"), 400, type="validation_error", attr=attr)
    assert fake_llm.requests == []


def test_another_projects_or_an_unknown_or_a_deleted_evaluation_is_404(
    api: APIClient, tenant: Tenant, other_tenant: Tenant, fake_llm: FakeLLM
) -> None:
    theirs, _ = seeded(other_tenant)
    deleted, _ = seeded(tenant, deleted=True)
    for evaluation_id in (theirs.id, deleted.id, uuid.uuid4()):
        response = api.post(url(tenant), {"evaluation_id": str(evaluation_id)}, format="json")
        assert_error(response, 404, code="not_found", detail=f"Evaluation {evaluation_id} not found.")
    assert fake_llm.requests == []


def test_no_results_is_400(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation = make_evaluation(tenant)
    store_result(tenant, evaluation, "skipped")  # a skipped run is no result
    store_result(tenant, make_evaluation(tenant, name="Other"), "pass")
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert_error(response, 400, code="no_evaluation_runs", detail="No evaluation runs found for the specified criteria")
    seeded_evaluation, _ = seeded(tenant)
    response = api.post(url(tenant), {"evaluation_id": str(seeded_evaluation.id), "generation_ids": [str(uuid.uuid4())]},
                        format="json")  # fmt: skip
    assert_error(response, 400, code="no_evaluation_runs")
    assert fake_llm.requests == []


def test_without_a_judge_it_is_503(api: APIClient, tenant: Tenant, no_judge: None) -> None:
    evaluation, _ = seeded(tenant)
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert_error(response, 503, code="llm_judge_not_configured", attr=None)
    assert "Retry-After" not in response


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        json.dumps({"overall_assessment": "Fine."}),  # patterns and recommendations missing
        json.dumps({**SUMMARY, "recommendations": "Check sums."}),  # not a list
        json.dumps({**SUMMARY, "fail_patterns": [{"title": "Arithmetic"}]}),  # a pattern without its fields
    ],
)
def test_an_answer_that_does_not_fit_is_502_and_nothing_is_cached(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM, content: str
) -> None:
    evaluation, _ = seeded(tenant)
    fake_llm.script(completion(content))
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    body = assert_error(response, 502, type="server_error", code="invalid_summary_answer", attr=None)
    assert body["detail"].startswith("The judge's answer is not a valid summary")
    assert not EvaluationSummaryCache.objects.exists()
    fake_llm.script(summary_reply())
    assert api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").status_code == 200
    assert len(fake_llm.requests) == 2  # the refused answer was not served from a cache


def test_a_refusing_provider_is_502(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, _ = seeded(tenant)
    fake_llm.accepted_keys = {"some-other-key"}
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    body = assert_error(response, 502, type="server_error", code="summary_llm_failed", attr=None)
    assert "sk-test-judge" not in body["detail"]  # the provider echoes the key it refused
    assert not EvaluationSummaryCache.objects.exists()


def test_a_key_without_evaluation_read_is_403(key_client: Any, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, _ = seeded(tenant)
    response = key_client("llm_analytics:read").post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert_error(response, 403, detail="API key missing required scope 'evaluation:read'")


# --- the summary ----------------------------------------------------------------------------------------------


def test_statistics_are_counted_from_the_rows_not_taken_from_the_llm(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM
) -> None:
    evaluation, ids = seeded(tenant)
    fake_llm.script(summary_reply())
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["statistics"] == {"total_analyzed": 6, "pass_count": 3, "fail_count": 2, "na_count": 1}
    assert body["overall_assessment"] == SUMMARY["overall_assessment"]
    assert body["recommendations"] == SUMMARY["recommendations"]
    assert [pattern["title"] for pattern in body["fail_patterns"]] == ["Arithmetic"]
    assert set(body) == {"overall_assessment", "pass_patterns", "fail_patterns", "na_patterns", "recommendations",
                         "statistics"}  # fmt: skip
    [request] = fake_llm.requests
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "evaluation_summary"
    prompt = user_prompt(request)
    assert all(str(generation) in prompt for verdict in ("pass", "fail", "na") for generation in ids[verdict])
    assert str(ids["skipped"][0]) not in prompt
    assert evaluation.evaluation_config["prompt"] in prompt


def test_example_ids_name_only_analysed_generations(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, ids = seeded(tenant)
    invented = str(uuid.uuid4())
    pattern = {"title": "Arithmetic", "description": "Wrong sums.", "frequency": "occasional",
               "example_generation_ids": [str(ids["fail"][0]), invented]}  # fmt: skip
    fake_llm.script(summary_reply(fail_patterns=[pattern]))
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json()
    assert body["fail_patterns"][0]["example_generation_ids"] == [str(ids["fail"][0])]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [("pass", {"pass"}), ("fail", {"fail"}), ("na", {"na"}), ("all", {"pass", "fail", "na"})],
)
def test_the_filter_picks_its_rows(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM, filter_: str, expected: set[str]
) -> None:
    evaluation, ids = seeded(tenant)
    fake_llm.script(summary_reply())
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id), "filter": filter_}, format="json")
    assert response.status_code == 200, response.content
    counts = {"pass": 3, "fail": 2, "na": 1}
    assert response.json()["statistics"] == {
        "total_analyzed": sum(counts[verdict] for verdict in expected),
        **{f"{verdict}_count": counts[verdict] if verdict in expected else 0 for verdict in counts},
    }
    prompt = user_prompt(fake_llm.requests[0])
    for verdict, generations in ids.items():
        assert all((str(generation) in prompt) == (verdict in expected) for generation in generations), verdict


def test_numeric_and_categorical_results_pass_or_fail_by_their_passing_rule(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM
) -> None:
    evaluation = make_evaluation(tenant, output_type="numeric", output_config={"min": 0, "max": 10})
    store_result(tenant, evaluation, "na")
    for passed in (True, True, False):
        store_result(tenant, evaluation, "scored", **{"$ai_evaluation_numeric_result": 7.0 if passed else 2.0,
                                                      "$ai_evaluation_passed": passed})  # fmt: skip
    store_result(tenant, evaluation, "scored", **{"$ai_evaluation_numeric_result": 5.0})  # no passing rule
    fake_llm.script(summary_reply(), summary_reply())
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json()
    assert body["statistics"] == {"total_analyzed": 5, "pass_count": 2, "fail_count": 1, "na_count": 1}
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id), "filter": "fail"}, format="json").json()
    assert body["statistics"] == {"total_analyzed": 1, "pass_count": 0, "fail_count": 1, "na_count": 0}


def test_generation_ids_narrow_the_rows(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, ids = seeded(tenant)
    wanted = [ids["pass"][0], ids["fail"][1], uuid.uuid4()]
    fake_llm.script(summary_reply())
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id), "generation_ids": [str(g) for g in wanted]},
                    format="json").json()  # fmt: skip
    assert body["statistics"] == {"total_analyzed": 2, "pass_count": 1, "fail_count": 1, "na_count": 0}


def test_at_most_the_250_newest_results_are_read(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation = make_evaluation(tenant)
    now = timezone.now()
    events = [
        EventInput(uuid=uuid.uuid4(), event="$ai_evaluation", distinct_id="user-1",
                   timestamp=now - timedelta(seconds=300 - index),
                   properties={"$ai_evaluation_id": str(evaluation.id), "$ai_target_event_id": str(uuid.uuid4()),
                               "$ai_evaluation_result": index >= 50, "$ai_evaluation_reasoning": "r"})
        for index in range(260)
    ]  # fmt: skip
    events_capture(team=tenant.team, events=events)
    fake_llm.script(summary_reply())
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json()
    # The 10 oldest (all failures) are left out.
    assert body["statistics"] == {"total_analyzed": 250, "pass_count": 210, "fail_count": 40, "na_count": 0}
    prompt = user_prompt(fake_llm.requests[0])
    assert events[0].properties["$ai_target_event_id"] not in prompt
    assert events[-1].properties["$ai_target_event_id"] in prompt


# --- the cache ------------------------------------------------------------------------------------------------


def test_a_cached_summary_is_served_without_asking_again_and_lives_in_the_database(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM
) -> None:
    evaluation, ids = seeded(tenant)
    fake_llm.script(summary_reply(), summary_reply(overall_assessment="A fresh look."))
    body = {"evaluation_id": str(evaluation.id), "filter": "all"}
    first = api.post(url(tenant), body, format="json").json()
    second = api.post(url(tenant), body, format="json").json()
    assert second == first
    assert len(fake_llm.requests) == 1
    # Shared by every process: a row with its expiry, keyed as PostHog keys it.
    [row] = EvaluationSummaryCache.objects.all()
    analysed = sorted(str(generation) for verdict in ("pass", "fail", "na") for generation in ids[verdict])
    assert row.key == summary_cache.cache_key(team_id=tenant.team.id, evaluation_id=evaluation.id, filter="all",
                                              generation_ids=analysed)  # fmt: skip
    assert row.key.startswith(f"llm_eval_summary:{tenant.team.id}:{evaluation.id}:all:")
    assert abs((row.expires_at - timezone.now()) - timedelta(hours=1)) < timedelta(minutes=1)
    assert row.value["overall_assessment"] == SUMMARY["overall_assessment"]
    # force_refresh asks again, and its answer replaces the cached one.
    refreshed = api.post(url(tenant), {**body, "force_refresh": True}, format="json").json()
    assert refreshed["overall_assessment"] == "A fresh look."
    assert len(fake_llm.requests) == 2
    assert api.post(url(tenant), body, format="json").json()["overall_assessment"] == "A fresh look."
    assert len(fake_llm.requests) == 2
    # Another filter is another summary.
    fake_llm.script(summary_reply())
    api.post(url(tenant), {**body, "filter": "fail"}, format="json")
    assert len(fake_llm.requests) == 3


def test_an_expired_summary_is_asked_again(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, _ = seeded(tenant)
    fake_llm.script(summary_reply(), summary_reply(overall_assessment="Newer."))
    api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    EvaluationSummaryCache.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json()
    assert body["overall_assessment"] == "Newer."
    assert len(fake_llm.requests) == 2


def test_a_new_result_is_a_new_summary(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, _ = seeded(tenant)
    fake_llm.script(summary_reply(), summary_reply())
    api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    store_result(tenant, evaluation, "fail")
    body = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json()
    assert body["statistics"]["fail_count"] == 3
    assert len(fake_llm.requests) == 2


def test_the_cache_can_live_in_redis(api: APIClient, tenant: Tenant, fake_llm: FakeLLM, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    evaluation, _ = seeded(tenant)
    fake_llm.script(summary_reply())
    first = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json()
    assert api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").json() == first
    assert len(fake_llm.requests) == 1
    assert not EvaluationSummaryCache.objects.exists()


# --- whose judge ----------------------------------------------------------------------------------------------


def test_the_evaluations_own_provider_key_and_model_are_used(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    key = make_provider_key(tenant, api_key="sk-project-own-key", provider="openai_compatible",
                            base_url=fake_llm.base_url)  # fmt: skip
    evaluation, _ = seeded(tenant, judge_provider="openai_compatible", judge_model="project-model", provider_key=key)
    fake_llm.script(summary_reply())
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert response.status_code == 200, response.content
    [request] = fake_llm.requests
    assert request["_authorization"] == "Bearer sk-project-own-key"
    assert request["model"] == "project-model"


def test_with_its_own_key_it_needs_no_server_judge(api: APIClient, tenant: Tenant, no_judge: None) -> None:
    server = FakeLLM().start()
    try:
        key = make_provider_key(tenant, api_key="sk-project-own-key", provider="openai_compatible",
                                base_url=server.base_url)  # fmt: skip
        evaluation, _ = seeded(tenant, judge_provider="openai_compatible", judge_model="m", provider_key=key)
        server.script(summary_reply())
        assert api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json").status_code == 200
        assert len(server.requests) == 1
    finally:
        server.stop()


def test_the_server_judge_uses_the_evaluations_model(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, _ = seeded(tenant)
    fake_llm.script(summary_reply())
    api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    [request] = fake_llm.requests
    assert request["_authorization"] == "Bearer sk-test-judge"
    assert request["model"] == "judge-test-model"


def test_a_key_that_cannot_be_decrypted_is_503(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    key = make_provider_key(tenant, provider="openai_compatible", base_url=fake_llm.base_url,
                            encrypted_config="not-a-fernet-token")  # fmt: skip
    evaluation, _ = seeded(tenant, judge_provider="openai_compatible", judge_model="m", provider_key=key)
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert_error(response, 503, code="provider_key_invalid", attr=None)
    assert fake_llm.requests == []


def test_a_code_evaluator_is_summarised_by_the_server_judge(api: APIClient, tenant: Tenant, fake_llm: FakeLLM) -> None:
    evaluation, _ = seeded(tenant, evaluation_type="hog", evaluation_config={"source": "return true"},
                           description="Answers must be short.")  # fmt: skip
    fake_llm.script(completion("```json\n" + json.dumps(SUMMARY) + "\n```"))  # fenced, as some models answer
    response = api.post(url(tenant), {"evaluation_id": str(evaluation.id)}, format="json")
    assert response.status_code == 200, response.content
    [request] = fake_llm.requests
    assert request["model"] == "judge-test-model"
    assert "Criteria: Answers must be short." in user_prompt(request)


# --- the rate limit -------------------------------------------------------------------------------------------


def test_summaries_have_a_rate_limit_of_their_own(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM, settings: Any
) -> None:
    assert settings.RATE_LIMITS["llm_evaluation_summary"] == ["50/minute", "200/hour", "500/day"]
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "llm_evaluation_summary": ["2/minute"]}
    left_in_minute = 60 - time.time() % 60
    if left_in_minute < 5:  # fixed windows: start well inside one
        time.sleep(left_in_minute + 0.1)
    evaluation, _ = seeded(tenant)
    fake_llm.script(summary_reply())
    body = {"evaluation_id": str(evaluation.id)}
    assert [api.post(url(tenant), body, format="json").status_code for _ in range(2)] == [200, 200]
    response = api.post(url(tenant), body, format="json")
    assert_error(response, 429, type="throttled_error", code="throttled")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert api.get(f"/api/environments/{tenant.team.id}/evaluations/").status_code == 200  # the rest goes on


@pytest.mark.parametrize("events_backend", ["postgres", "clickhouse"], indirect=True)
def test_each_events_store_reads_the_same_results(
    api: APIClient, tenant: Tenant, fake_llm: FakeLLM, events_backend: str
) -> None:
    evaluation, ids = seeded(tenant)
    numeric = make_evaluation(tenant, name="Score", output_type="numeric", output_config={"min": 0, "max": 10})
    store_result(tenant, numeric, "scored", **{"$ai_evaluation_numeric_result": 2.0, "$ai_evaluation_passed": False})
    answers = {}
    for filter_ in ("all", "pass", "fail", "na"):
        fake_llm.script(summary_reply())
        response = api.post(url(tenant), {"evaluation_id": str(evaluation.id), "filter": filter_}, format="json")
        assert response.status_code == 200, response.content
        answers[filter_] = response.json()["statistics"]
    assert answers == {
        "all": {"total_analyzed": 6, "pass_count": 3, "fail_count": 2, "na_count": 1},
        "pass": {"total_analyzed": 3, "pass_count": 3, "fail_count": 0, "na_count": 0},
        "fail": {"total_analyzed": 2, "pass_count": 0, "fail_count": 2, "na_count": 0},
        "na": {"total_analyzed": 1, "pass_count": 0, "fail_count": 0, "na_count": 1},
    }
    fake_llm.script(summary_reply())
    response = api.post(url(tenant), {"evaluation_id": str(numeric.id), "filter": "fail"}, format="json")
    assert response.json()["statistics"]["fail_count"] == 1
    narrowed = {"evaluation_id": str(evaluation.id), "generation_ids": [str(ids["fail"][0]), str(ids["na"][0])]}
    fake_llm.script(summary_reply())
    assert api.post(url(tenant), narrowed, format="json").json()["statistics"] == {
        "total_analyzed": 2, "pass_count": 0, "fail_count": 1, "na_count": 1,
    }  # fmt: skip
