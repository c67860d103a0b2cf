"""A provider key's dependants: `dependent_configs/` (which evaluations judge with it, and which keys could replace
it), `assign/` (point evaluations at it, bringing stopped ones back), and `DELETE ?replacement_key_id=` (move its
evaluations to another key instead of stopping them). Refused input first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from evaluations import status
from evaluations.models import Evaluation, LLMProviderKey
from tests.evaluations.helpers import make_evaluation, make_provider_key
from tests.support.errors import assert_error
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db


def key_path(tenant: Tenant, key: LLMProviderKey, action: str = "") -> str:
    return f"/api/environments/{tenant.team.id}/llm_analytics/provider_keys/{key.id}/{action}"


@pytest.fixture
def api(key_client: Callable[..., APIClient]) -> APIClient:
    return key_client("llm_provider_key:write")


def judged_with(tenant: Tenant, key: LLMProviderKey | None, **fields: Any) -> Evaluation:
    configuration = {"judge_provider": key.provider, "judge_model": "m", "provider_key": key} if key else {}
    return make_evaluation(tenant, **{**configuration, **fields})


def stopped(evaluation: Evaluation, reason: str = "provider_key_invalid") -> Evaluation:
    Evaluation.objects.filter(pk=evaluation.pk).update(status="error", enabled=False, status_reason=reason)
    evaluation.refresh_from_db()
    return evaluation


# --- refused input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "attr", "detail"),
    [
        ({}, "evaluation_ids", "evaluation_ids is required"),
        ({"evaluation_ids": []}, "evaluation_ids", "evaluation_ids is required"),
        ({"evaluation_ids": None}, "evaluation_ids", "evaluation_ids is required"),
        ({"evaluation_ids": "abc"}, "evaluation_ids", 'Expected a list of items but got type "str".'),
        ({"evaluation_ids": ["nope"]}, "evaluation_ids__0", "Must be a valid UUID."),
        ({"evaluation_ids": [1]}, "evaluation_ids__0", "Must be a valid UUID."),
        (
            {"evaluation_ids": ["6b2bd7a4-0d1f-4b40-a51a-0ff3c2c1f001"], "enable": "sometimes"},
            "enable",
            "Must be a valid boolean.",
        ),
    ],
)
def test_invalid_assignments_are_400(api: APIClient, tenant: Tenant, body: Any, attr: str, detail: str) -> None:
    key = make_provider_key(tenant)
    assert_error(api.post(key_path(tenant, key, "assign/"), body, format="json"), 400, attr=attr, detail=detail)


def test_enabling_with_a_key_that_does_not_work_is_refused(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant, state="invalid")
    evaluation = stopped(judged_with(tenant, None))
    response = api.post(key_path(tenant, key, "assign/"), {"evaluation_ids": [str(evaluation.id)], "enable": True},
                        format="json")  # fmt: skip
    assert_error(response, 400, attr="enable", detail=status.ATTACH_WORKING_KEY)
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.provider_key_id) == ("error", None)


@pytest.mark.parametrize("replacement", ["6b2bd7a4-0d1f-4b40-a51a-0ff3c2c1f001", "not-a-uuid", "self", "other_team"])
def test_an_unknown_replacement_is_400_and_nothing_is_deleted(
    api: APIClient, tenant: Tenant, other_tenant: Tenant, replacement: str
) -> None:
    key = make_provider_key(tenant)
    if replacement == "self":
        replacement = str(key.id)
    elif replacement == "other_team":
        replacement = str(make_provider_key(other_tenant).id)
    response = api.delete(key_path(tenant, key) + f"?replacement_key_id={replacement}")
    assert_error(response, 400, attr="replacement_key_id", detail="Replacement key not found")
    assert LLMProviderKey.objects.filter(pk=key.pk).exists()


def test_a_replacement_of_another_provider_is_400(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant)
    other = make_provider_key(tenant, provider="openai_compatible", base_url="http://127.0.0.1:9/v1")
    response = api.delete(key_path(tenant, key) + f"?replacement_key_id={other.id}")
    assert_error(response, 400, attr="replacement_key_id", detail="Replacement key must be from the same provider")
    assert LLMProviderKey.objects.filter(pk=key.pk).exists()


# --- what they do ---------------------------------------------------------------------------------------------


def test_dependent_configs_lists_the_keys_evaluations_and_working_alternatives(
    api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    key = make_provider_key(tenant, name="Main")
    using = judged_with(tenant, key, name="Uses it")
    judged_with(tenant, key, name="Deleted", deleted=True)
    judged_with(tenant, None, name="Server's judge")
    alternative = make_provider_key(tenant, name="Backup")
    make_provider_key(tenant, name="Broken", state="invalid")
    make_provider_key(tenant, name="Other provider", provider="openai_compatible", base_url="http://127.0.0.1:9/v1")
    make_provider_key(other_tenant, name="Theirs")
    answer = api.get(key_path(tenant, key, "dependent_configs/"))
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "evaluations": [{"id": str(using.id), "name": "Uses it", "model_configuration_id": str(using.id)}],
        "alternative_keys": [{"id": str(alternative.id), "name": "Backup", "provider": "openai"}],
    }


def test_assign_points_evaluations_at_the_key_and_brings_stopped_ones_back_paused(
    api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    old = make_provider_key(tenant, name="Old", state="invalid")
    key = make_provider_key(tenant, name="New")
    errored = stopped(judged_with(tenant, old))
    active = judged_with(tenant, None)
    theirs = make_evaluation(other_tenant)
    ids = [str(errored.id), str(active.id), str(theirs.id)]
    answer = api.post(key_path(tenant, key, "assign/"), {"evaluation_ids": ids}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"configs_updated": 2, "evals_enabled": 0}
    errored.refresh_from_db()
    active.refresh_from_db()
    theirs.refresh_from_db()
    assert (errored.provider_key_id, errored.status, errored.status_reason, errored.enabled) == (
        key.id, "paused", None, False)  # fmt: skip
    # A running evaluation keeps running, now with the key; one without a configuration gets the key's provider.
    assert (active.provider_key_id, active.judge_provider, active.status) == (key.id, "openai", "active")
    assert theirs.provider_key_id is None


def test_assign_with_enable_turns_stopped_evaluations_on(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant)
    errored = stopped(judged_with(tenant, None), reason="provider_key_deleted")
    paused = judged_with(tenant, None, enabled=False, status="paused")
    ids = [str(errored.id), str(paused.id)]
    answer = api.post(key_path(tenant, key, "assign/"), {"evaluation_ids": ids, "enable": True}, format="json")
    assert answer.json() == {"configs_updated": 2, "evals_enabled": 1}
    errored.refresh_from_db()
    paused.refresh_from_db()
    assert (errored.status, errored.enabled, errored.status_reason) == ("active", True, None)
    assert (paused.status, paused.enabled) == ("paused", False)  # only stopped ones are turned back on


def test_deleting_with_a_replacement_moves_the_evaluations_to_it(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant)
    replacement = make_provider_key(tenant, name="Replacement")
    evaluation = judged_with(tenant, key)
    assert api.delete(key_path(tenant, key) + f"?replacement_key_id={replacement.id}").status_code == 204
    evaluation.refresh_from_db()
    assert (evaluation.provider_key_id, evaluation.status, evaluation.enabled) == (replacement.id, "active", True)
    assert not LLMProviderKey.objects.filter(pk=key.pk).exists()


def test_readers_see_dependants_but_only_writers_assign(key_client: Callable[..., APIClient], tenant: Tenant) -> None:
    key = make_provider_key(tenant)
    reader = key_client("llm_provider_key:read")
    assert reader.get(key_path(tenant, key, "dependent_configs/")).status_code == 200
    refused = reader.post(key_path(tenant, key, "assign/"), {"evaluation_ids": []}, format="json")
    assert_error(refused, 403, attr=None)
