"""An online evaluation judging with the project's provider key, end to end (ingestion, the dispatcher, the real
worker on a Temporal dev server, the judge over HTTP): the key is refused while several runs are in flight, the
evaluation stops itself once, no further runs start, and it can be re-enabled only once the key works again."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from django.test import Client

from evaluations import status
from evaluations.models import Evaluation, EvaluationRun, LLMProviderKey, RunStatus
from tests.evaluations.fake_llm import FakeLLM
from tests.evaluations.helpers import GENERATION_PROPERTIES, make_evaluation, make_provider_key
from tests.support.evaluations import wait_until
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.SKIPPED)
GOOD_KEY = "sk-project-good-0123456789"
NEW_KEY = "sk-project-new-9876543210"


def ingest(tenant: Tenant, count: int) -> None:
    batch = [{"event": "$ai_generation", "distinct_id": "user-1", "uuid": str(uuid.uuid4()),
              "properties": GENERATION_PROPERTIES} for _ in range(count)]  # fmt: skip
    response = Client().post("/batch/", json.dumps({"api_key": tenant.team.api_token, "batch": batch}),
                             content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content


def runs(evaluation: Evaluation) -> list[EvaluationRun]:
    return list(EvaluationRun.objects.filter(evaluation=evaluation))


def all_finished(evaluation: Evaluation, count: int) -> list[EvaluationRun] | None:
    found = [run for run in runs(evaluation) if run.status in FINISHED]
    return found if len(found) == count else None


def judged_with_a_project_key(tenant: Tenant, fake_llm: FakeLLM) -> tuple[LLMProviderKey, Evaluation]:
    """An online evaluation (every generation) judged with the project's key for the fake judge, which accepts it."""
    key = make_provider_key(tenant, provider="openai_compatible", base_url=fake_llm.base_url, api_key=GOOD_KEY)
    evaluation = make_evaluation(
        tenant,
        conditions=[{"id": "all", "rollout_percentage": 100, "properties": []}],
        judge_provider="openai_compatible",
        judge_model="project-model",
        provider_key=key,
    )
    fake_llm.accepted_keys = {GOOD_KEY}
    return key, evaluation


def test_a_refused_key_stops_the_evaluation_once_until_a_working_key_is_attached(
    tenant: Tenant, key_client: Any, evaluation_worker: Any, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, evaluation = judged_with_a_project_key(tenant, fake_llm)

    # The project's key judges, and the event says so.
    ingest(tenant, 1)
    [run] = wait_until(lambda: all_finished(evaluation, 1), message="the first online run")
    assert run.status == RunStatus.COMPLETED, run.error_message
    [request] = fake_llm.requests
    assert (request["_authorization"], request["model"]) == (f"Bearer {GOOD_KEY}", "project-model")
    events = key_client("query:read").get(f"/api/environments/{tenant.team.id}/events/", {"event": "$ai_evaluation"})
    [emitted] = events.json()["results"]
    assert emitted["properties"]["$ai_evaluation_key_type"] == "byok"
    assert emitted["properties"]["$ai_evaluation_key_id"] == str(key.id)
    assert emitted["properties"]["$ai_provider"] == "openai_compatible"
    key.refresh_from_db()
    assert key.last_used_at is not None

    # The provider starts refusing the key while four runs are in flight: they meet the refusal together.
    transitions: list[bool] = []
    set_error = status.evaluation_set_error

    def counted(**kwargs: Any) -> bool:
        changed = set_error(**kwargs)
        transitions.append(changed)
        return changed

    monkeypatch.setattr(status, "evaluation_set_error", counted)
    fake_llm.accepted_keys = set()
    fake_llm.hold_refusals = threading.Event()
    try:
        ingest(tenant, 4)
        fake_llm.wait_for_refusals(4)
    finally:
        fake_llm.hold_refusals.set()
    finished = wait_until(lambda: all_finished(evaluation, 5), message="the refused runs finishing")
    # A refused key is the project's to fix: the runs are skipped with the reason, each with its event.
    refused = [run for run in finished if run.status == RunStatus.SKIPPED]
    assert len(refused) == 4
    assert {run.error_code for run in refused} == {"auth_error"}
    assert all(GOOD_KEY not in run.error_message for run in refused)  # the echoed key is redacted
    assert sorted(transitions) == [False, False, False, True]  # four attempts, one change
    skipped_events = [event["properties"] for event in key_client("query:read").get(
        f"/api/environments/{tenant.team.id}/events/", {"event": "$ai_evaluation"}).json()["results"]
        if event["properties"].get("$ai_evaluation_skipped")]  # fmt: skip
    assert len(skipped_events) == 4
    assert {properties["$ai_evaluation_skip_reason"] for properties in skipped_events} == {"auth_error"}
    assert {properties["$ai_target_event_id"] for properties in skipped_events} == {
        str(run.target_event_id) for run in refused}  # fmt: skip
    # Not billed: the judge refused the call, so no model or tokens are reported.
    assert not any("$ai_model" in properties or "$ai_input_tokens" in properties for properties in skipped_events)

    evaluation.refresh_from_db()
    key.refresh_from_db()
    assert (evaluation.status, evaluation.status_reason, evaluation.enabled) == ("error", "provider_key_invalid", False)
    assert key.state == "invalid"
    assert GOOD_KEY not in key.error_message

    # No further online runs: new events select it no more.
    judged = len(fake_llm.requests) + fake_llm.refused
    ingest(tenant, 3)
    time.sleep(0.5)  # a few dispatcher polls
    assert len(runs(evaluation)) == 5
    assert len(fake_llm.requests) + fake_llm.refused == judged

    # Re-enabling is refused while the key is not fixed...
    api = key_client("evaluation:write")
    evaluation_url = f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/"
    for body in ({"enabled": True}, {"status": "active"}):
        response = api.patch(evaluation_url, body, format="json")
        assert response.status_code == 400, response.content
        assert (response.json()["attr"], response.json()["detail"]) == ("enabled", status.ATTACH_WORKING_KEY)

    # ...and accepted once a working secret is attached (checked live).
    fake_llm.accepted_keys = {NEW_KEY}
    updated = key_client("llm_provider_key:write").patch(
        f"/api/environments/{tenant.team.id}/llm_analytics/provider_keys/{key.id}/", {"api_key": NEW_KEY},
        format="json",
    )  # fmt: skip
    assert updated.status_code == 200, updated.content
    assert LLMProviderKey.objects.get(pk=key.pk).state == "ok"
    response = api.patch(evaluation_url, {"enabled": True}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["status_reason"]) == ("active", None)

    ingest(tenant, 1)
    wait_until(lambda: all_finished(evaluation, 6), message="the run after re-enabling")
    assert fake_llm.requests[-1]["_authorization"] == f"Bearer {NEW_KEY}"


def test_an_evaluation_with_its_own_key_runs_on_a_server_without_a_judge(
    tenant: Tenant, key_client: Any, evaluation_worker: Any, fake_llm: FakeLLM, settings: Any
) -> None:
    """The server's own judge is only the fallback: an evaluation with a provider key needs none, online or by hand."""
    settings.LLMA_EVAL_OPENAI_BASE_URL = settings.LLMA_EVAL_OPENAI_API_KEY = ""
    _, evaluation = judged_with_a_project_key(tenant, fake_llm)
    ingest(tenant, 1)
    [online] = wait_until(lambda: all_finished(evaluation, 1), message="the online run")
    assert (online.status, online.error_code) == (RunStatus.COMPLETED, "")

    started = key_client("evaluation:write").post(
        f"/api/environments/{tenant.team.id}/evaluation_runs/",
        {"evaluation_id": str(evaluation.id), "target_event_id": str(online.target_event_id),
         "timestamp": online.timestamp.isoformat(), "event": "$ai_generation"}, format="json",
    )  # fmt: skip
    assert started.status_code == 201, started.content
    both = wait_until(lambda: all_finished(evaluation, 2), message="the manual run")
    assert {(run.trigger, run.status) for run in both} == {
        ("online", RunStatus.COMPLETED),
        ("manual", RunStatus.COMPLETED),
    }
    assert [request["_authorization"] for request in fake_llm.requests] == [f"Bearer {GOOD_KEY}"] * 2
