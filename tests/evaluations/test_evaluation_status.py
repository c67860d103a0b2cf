"""An evaluation's `model_configuration` and `status`: refused input first, then how status and `enabled` stay in
step, the once-only move to `error`, and the re-enable guard."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from evaluations import status
from evaluations.models import Evaluation, EvaluationStatus, LLMProviderKey, StatusReason
from evaluations.provider_keys import provider_key_delete
from tests.evaluations.helpers import evaluation_payload as payload
from tests.evaluations.helpers import make_evaluation, make_provider_key
from tests.support.errors import assert_error
from tests.support.tenants import Tenant


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:write")


@pytest.fixture
def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/evaluations/"


def stopped(tenant: Tenant, reason: StatusReason = StatusReason.PROVIDER_KEY_INVALID, **fields: Any) -> Evaluation:
    evaluation = make_evaluation(tenant, **fields)
    assert status.evaluation_set_error(team_id=tenant.team.id, evaluation_id=evaluation.id, reason=reason)
    evaluation.refresh_from_db()
    return evaluation


# --- refused input ------------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestRefusedInput:
    @pytest.mark.parametrize(
        ("configuration", "attr"),
        [
            ({"provider": "anthropic_x", "model": "m"}, "model_configuration__provider"),
            ({"model": "m"}, "model_configuration__provider"),
            ({"provider": "openai"}, "model_configuration__model"),
            ({"provider": "openai", "model": ""}, "model_configuration__model"),
            ({"provider": "openai", "model": "m" * 101}, "model_configuration__model"),
            ({"provider": "openai", "model": "m", "provider_key_id": "not-a-uuid"},
             "model_configuration__provider_key_id"),
            ("openai/gpt", "model_configuration"),
        ],
    )  # fmt: skip
    def test_malformed_model_configuration(self, api: APIClient, url: str, configuration: Any, attr: str) -> None:
        response = api.post(url, payload(model_configuration=configuration), format="json")
        assert_error(response, 400, attr=attr)
        assert not Evaluation.objects.exists()

    def test_unknown_provider_key_is_not_found(self, api: APIClient, url: str) -> None:
        configuration = {"provider": "openai", "model": "gpt-5-mini", "provider_key_id": str(uuid.uuid4())}
        response = api.post(url, payload(model_configuration=configuration), format="json")
        assert_error(response, 400, attr="model_configuration__provider_key_id", detail="Provider key not found")

    def test_another_projects_key_is_not_found_and_not_leaked(
        self, api: APIClient, url: str, other_tenant: Tenant
    ) -> None:
        foreign = make_provider_key(other_tenant, name="Their secret key")
        configuration = {"provider": "openai", "model": "gpt-5-mini", "provider_key_id": str(foreign.id)}
        response = api.post(url, payload(model_configuration=configuration), format="json")
        assert_error(response, 400, attr="model_configuration__provider_key_id", detail="Provider key not found")
        assert b"Their secret key" not in response.content
        assert not Evaluation.objects.exists()

    def test_provider_must_match_the_keys(self, api: APIClient, url: str, tenant: Tenant) -> None:
        key = make_provider_key(tenant, provider="openai")
        configuration = {"provider": "openai_compatible", "model": "llama3", "provider_key_id": str(key.id)}
        response = api.post(url, payload(model_configuration=configuration), format="json")
        assert_error(
            response,
            400,
            attr="model_configuration__provider",
            detail="Provider 'openai_compatible' does not match key provider 'openai'",
        )

    def test_only_llm_judge_evaluations_have_a_model_configuration(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        # No other type can be created through the API yet; a row of another type (as later types will be).
        other = make_evaluation(tenant)
        Evaluation.objects.filter(pk=other.pk).update(evaluation_type="hog")
        response = api.patch(f"{url}{other.id}/", {"model_configuration": {"provider": "openai", "model": "m"}},
                             format="json")  # fmt: skip
        assert_error(
            response, 400, attr="model_configuration", detail="This evaluation type does not use model configuration."
        )

    def test_error_status_is_the_servers_to_set(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        response = api.patch(f"{url}{evaluation.id}/", {"status": "error"}, format="json")
        assert_error(response, 400, attr="status")
        response = api.patch(f"{url}{evaluation.id}/", {"status": "broken"}, format="json")
        assert_error(response, 400, attr="status")

    def test_status_reason_is_read_only(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        response = api.patch(f"{url}{evaluation.id}/", {"status_reason": "hog_error"}, format="json")
        assert response.status_code == 200
        assert response.json()["status_reason"] is None

    @pytest.mark.parametrize("body", [{"enabled": True}, {"status": "active"}])
    def test_reenabling_with_a_refused_key_is_refused(
        self, api: APIClient, url: str, tenant: Tenant, body: dict[str, Any]
    ) -> None:
        key = make_provider_key(tenant)
        evaluation = stopped(tenant, judge_provider="openai", judge_model="gpt-5-mini", provider_key=key)
        LLMProviderKey.objects.filter(pk=key.pk).update(state="invalid")
        response = api.patch(f"{url}{evaluation.id}/", body, format="json")
        assert_error(response, 400, attr="enabled", detail=status.ATTACH_WORKING_KEY)
        evaluation.refresh_from_db()
        assert (evaluation.status, evaluation.enabled) == (EvaluationStatus.ERROR, False)

    def test_reenabling_a_key_error_without_a_key_is_refused(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = stopped(tenant, reason=StatusReason.PROVIDER_KEY_DELETED)
        response = api.patch(f"{url}{evaluation.id}/", {"enabled": True}, format="json")
        assert_error(response, 400, attr="enabled", detail=status.ATTACH_WORKING_KEY)

    def test_reenabling_after_model_not_found_needs_another_model(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        key = make_provider_key(tenant)
        configured = {"judge_provider": "openai", "judge_model": "gone", "provider_key": key}
        evaluation = stopped(tenant, reason=StatusReason.MODEL_NOT_FOUND, **configured)
        response = api.patch(f"{url}{evaluation.id}/", {"enabled": True}, format="json")
        assert_error(response, 400, attr="enabled", detail=status.CHOOSE_AVAILABLE_MODEL)
        fixed = {"enabled": True, "model_configuration": {"provider": "openai", "model": "gpt-5-mini",
                                                          "provider_key_id": str(key.id)}}  # fmt: skip
        response = api.patch(f"{url}{evaluation.id}/", fixed, format="json")
        assert response.status_code == 200, response.content
        assert (response.json()["status"], response.json()["status_reason"]) == ("active", None)


# --- what is stored and shown ---------------------------------------------------------------------------------


@pytest.mark.django_db
class TestModelConfiguration:
    def test_round_trip(self, api: APIClient, url: str, tenant: Tenant) -> None:
        key = make_provider_key(tenant, name="Prod key")
        configuration = {"provider": "openai", "model": "gpt-5-mini", "provider_key_id": str(key.id)}
        created = api.post(url, payload(model_configuration=configuration), format="json")
        assert created.status_code == 201, created.content
        shown = {**configuration, "provider_key_name": "Prod key"}
        assert created.json()["model_configuration"] == shown
        evaluation_url = f"{url}{created.json()['id']}/"
        assert api.get(evaluation_url).json()["model_configuration"] == shown
        assert api.get(url).json()["results"][0]["model_configuration"] == shown
        without_key = api.patch(evaluation_url, {"model_configuration": {"provider": "openai", "model": "m"}},
                                format="json")  # fmt: skip
        assert without_key.json()["model_configuration"] == {"provider": "openai", "model": "m",
                                                             "provider_key_id": None, "provider_key_name": None}  # fmt: skip
        cleared = api.patch(evaluation_url, {"model_configuration": None}, format="json")
        assert cleared.json()["model_configuration"] is None
        assert api.get(evaluation_url).json()["model_configuration"] is None

    def test_field_order(self, api: APIClient, url: str, tenant: Tenant) -> None:
        make_evaluation(tenant)
        assert list(api.get(url).json()["results"][0]) == [
            "id", "name", "description", "enabled", "status", "status_reason", "status_reason_detail",
            "evaluation_type", "evaluation_config", "output_type", "output_config", "conditions",
            "model_configuration", "created_at", "updated_at", "created_by", "deleted",
        ]  # fmt: skip

    def test_deleting_the_key_stops_its_active_evaluations(self, tenant: Tenant) -> None:
        key = make_provider_key(tenant)
        active = make_evaluation(tenant, judge_provider="openai", judge_model="m", provider_key=key)
        paused = make_evaluation(tenant, enabled=False, judge_provider="openai", judge_model="m", provider_key=key)
        provider_key_delete(key=key)
        active.refresh_from_db()
        paused.refresh_from_db()
        assert (active.status, active.status_reason, active.enabled) == ("error", "provider_key_deleted", False)
        assert (paused.status, paused.status_reason, paused.provider_key_id) == ("paused", None, None)


@pytest.mark.django_db
class TestStatus:
    def test_new_rows_take_their_status_from_enabled(self, api: APIClient, url: str) -> None:
        assert api.post(url, payload(), format="json").json()["status"] == "paused"
        assert api.post(url, payload(enabled=True), format="json").json()["status"] == "active"
        made = api.post(url, payload(status="active"), format="json").json()
        assert (made["status"], made["enabled"]) == ("active", True)

    def test_enabled_and_status_drive_each_other(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation_url = f"{url}{make_evaluation(tenant).id}/"
        shown = api.patch(evaluation_url, {"enabled": False}, format="json").json()
        assert (shown["enabled"], shown["status"]) == (False, "paused")
        shown = api.patch(evaluation_url, {"status": "active"}, format="json").json()
        assert (shown["enabled"], shown["status"]) == (True, "active")

    def test_disabling_an_errored_evaluation_again_keeps_its_reason(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        evaluation = stopped(tenant)
        shown = api.patch(f"{url}{evaluation.id}/", {"enabled": False}, format="json").json()
        assert (shown["status"], shown["status_reason"]) == ("error", "provider_key_invalid")
        shown = api.patch(f"{url}{evaluation.id}/", {"status": "paused"}, format="json").json()
        assert (shown["status"], shown["status_reason"], shown["enabled"]) == ("paused", None, False)

    def test_reenabling_with_a_working_key(self, api: APIClient, url: str, tenant: Tenant) -> None:
        key = make_provider_key(tenant)
        evaluation = stopped(tenant, judge_provider="openai", judge_model="gpt-5-mini", provider_key=key)
        shown = api.patch(f"{url}{evaluation.id}/", {"enabled": True}, format="json").json()
        assert (shown["status"], shown["status_reason"], shown["enabled"]) == ("active", None, True)

    def test_moving_to_error_happens_once(self, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        first = status.evaluation_set_error(
            team_id=tenant.team.id, evaluation_id=evaluation.id, reason=StatusReason.PROVIDER_KEY_INVALID
        )
        again = status.evaluation_set_error(
            team_id=tenant.team.id, evaluation_id=evaluation.id, reason=StatusReason.MODEL_NOT_FOUND
        )
        assert (first, again) == (True, False)
        evaluation.refresh_from_db()
        assert (evaluation.status, evaluation.status_reason, evaluation.enabled) == ("error", "provider_key_invalid",
                                                                                     False)  # fmt: skip

    def test_another_projects_evaluation_is_not_touched(self, tenant: Tenant, other_tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        assert not status.evaluation_set_error(
            team_id=other_tenant.team.id, evaluation_id=evaluation.id, reason=StatusReason.PROVIDER_KEY_INVALID
        )
        evaluation.refresh_from_db()
        assert evaluation.status == "active"

    def test_an_old_secrets_refusal_says_nothing_about_the_updated_key(self, tenant: Tenant) -> None:
        key = make_provider_key(tenant)
        evaluation = make_evaluation(tenant, judge_provider="openai", judge_model="m", provider_key=key)
        read_at = key.updated_at
        key.save()  # updated (a new secret, checked live) after the run read it
        assert not status.evaluation_error_from_run(
            team_id=tenant.team.id, evaluation_id=str(evaluation.id), code="auth_error", message="refused",
            provider_key_id=str(key.id), key_updated_at=read_at,
        )  # fmt: skip
        key.refresh_from_db()
        evaluation.refresh_from_db()
        assert (key.state, evaluation.status) == ("ok", "active")

    def test_transient_errors_do_not_stop_the_evaluation(self, tenant: Tenant) -> None:
        key = make_provider_key(tenant)
        evaluation = make_evaluation(tenant, judge_provider="openai", judge_model="m", provider_key=key)
        for code in ("rate_limit", "timeout", "server_error", "connection_error", "parse_error"):
            assert not status.evaluation_error_from_run(
                team_id=tenant.team.id, evaluation_id=str(evaluation.id), code=code, message="later",
                provider_key_id=str(key.id), key_updated_at=key.updated_at,
            )  # fmt: skip
        evaluation.refresh_from_db()
        assert evaluation.status == "active"


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_to_error_change_the_row_once(tenant: Tenant) -> None:
    key = make_provider_key(tenant)
    evaluation = make_evaluation(tenant, judge_provider="openai", judge_model="m", provider_key=key)
    attempts = 4
    barrier = threading.Barrier(attempts)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(10)
            changed = status.evaluation_error_from_run(
                team_id=tenant.team.id, evaluation_id=str(evaluation.id), code="auth_error",
                message="Incorrect API key provided", provider_key_id=str(key.id), key_updated_at=key.updated_at,
            )  # fmt: skip
            with lock:
                outcomes.append(changed)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == [False] * (attempts - 1) + [True]
    evaluation.refresh_from_db()
    key.refresh_from_db()
    assert (evaluation.status, evaluation.status_reason, evaluation.enabled) == ("error", "provider_key_invalid", False)
    assert key.state == "invalid"
