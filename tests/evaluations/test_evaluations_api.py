from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations.models import Evaluation
from evaluations.serializers import EvaluationSerializer
from posthog_clone.api.renderers import JSONRenderer
from tests.api_base import TeamScopedAPITests
from tests.evaluations.helpers import evaluation_payload as valid_payload
from tests.evaluations.helpers import make_evaluation
from tests.support.errors import assert_error
from tests.support.tenants import Tenant


class TestEvaluationsAccess(TeamScopedAPITests):
    resource = "evaluations"
    scope_object = "evaluation"

    def make_object(self, tenant: Tenant) -> Evaluation:
        return make_evaluation(tenant)

    def create_payload(self) -> dict[str, Any]:
        return valid_payload()

    def update_payload(self) -> dict[str, Any]:
        return {"name": "Renamed", "enabled": True}


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:write")


@pytest.fixture
def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/evaluations/"


class TestCreateValidation:
    @pytest.mark.parametrize(
        ("overrides", "attr", "code"),
        [
            ({"name": None}, "name", "null"),
            ({"name": ""}, "name", "blank"),
            ({"name": "x" * 401}, "name", "max_length"),
            ({"evaluation_type": "foo"}, "evaluation_type", "invalid_choice"),
            ({"output_type": "score"}, "output_type", "invalid_choice"),
            ({"enabled": "maybe"}, "enabled", "invalid_input"),
            ({"evaluation_config": "a prompt"}, "evaluation_config", "not_a_dict"),
            ({"output_config": [True]}, "output_config", "not_a_dict"),
            ({"conditions": {"id": "x"}}, "conditions", "not_a_list"),
            ({"deleted": "gone"}, "deleted", "invalid_input"),
            ({"evaluation_config": {"prompt": "a\x00b"}}, "evaluation_config", "null_characters_not_allowed"),
            ({"output_config": {"\x00": True}}, "output_config", "null_characters_not_allowed"),
            ({"name": "nul\x00name"}, "name", "null_characters_not_allowed"),
            (
                {"conditions": [{"properties": [{"key": "k", "value": "v\x00"}]}]},
                "conditions__0__properties",
                "null_characters_not_allowed",
            ),
            # Each condition is tested against every new generation while it is ingested; the prompt goes to the
            # judge with every run.
            ({"conditions": [{"properties": []}] * 101}, "conditions", "max_length"),
            (
                {"conditions": [{"properties": [{"key": "k", "value": "v"}] * 101}]},
                "conditions__0__properties",
                "invalid_input",
            ),
            ({"evaluation_config": {"prompt": "x" * 100_001}}, "config", "invalid_input"),
        ],
    )
    def test_field_errors(self, api: APIClient, url: str, overrides: dict, attr: str, code: str) -> None:
        assert_error(
            api.post(url, valid_payload(**overrides), format="json"), type="validation_error", attr=attr, code=code
        )

    @pytest.mark.parametrize("missing", ["name", "evaluation_type", "output_type"])
    def test_required_fields(self, api: APIClient, url: str, missing: str) -> None:
        payload = valid_payload()
        del payload[missing]
        assert_error(api.post(url, payload, format="json"), type="validation_error", attr=missing, code="required")

    @pytest.mark.parametrize(
        ("evaluation_config", "output_config", "detail"),
        [
            ({}, None, "Invalid config for llm_judge/boolean: evaluation_config.prompt is required"),
            (
                {"prompt": "   "},
                None,
                "Invalid config for llm_judge/boolean: evaluation_config.prompt: Prompt cannot be empty",
            ),
            (
                {"prompt": 42},
                None,
                "Invalid config for llm_judge/boolean: evaluation_config.prompt: Input should be a valid string",
            ),
            (
                {"prompt": "ok"},
                {"allows_na": "yes"},
                "Invalid config for llm_judge/boolean: output_config.allows_na: Input should be a valid boolean",
            ),
        ],
    )
    def test_config_errors_are_attributed_to_config(
        self, api: APIClient, url: str, evaluation_config: dict, output_config: dict | None, detail: str
    ) -> None:
        payload = valid_payload(evaluation_config=evaluation_config)
        if output_config is not None:
            payload["output_config"] = output_config
        assert_error(api.post(url, payload, format="json"), type="validation_error", attr="config", detail=detail)

    def test_missing_configs_are_rejected(self, api: APIClient, url: str) -> None:
        payload = valid_payload()
        del payload["evaluation_config"]
        assert_error(
            api.post(url, payload, format="json"), type="validation_error", attr="evaluation_config", code="required"
        )
        assert Evaluation.objects.count() == 0

    @pytest.mark.parametrize(
        ("conditions", "attr"),
        [
            (["not an object"], "conditions__0"),
            ([{"rollout_percentage": 101}], "conditions__0__rollout_percentage"),
            ([{"rollout_percentage": -1}], "conditions__0__rollout_percentage"),
            ([{"rollout_percentage": "half"}], "conditions__0__rollout_percentage"),
            ([{"rollout_percentage": True}], "conditions__0__rollout_percentage"),
            ([{}, {"properties": "not a list"}], "conditions__1__properties"),
            ([{"properties": ["x"]}], "conditions__0__properties__0"),
            ([{"properties": [{"value": "x"}]}], "conditions__0__properties__0__key"),
            (
                [{"properties": [{"key": "a", "value": 1}, {"key": "b", "value": 1, "operator": "sort_of"}]}],
                "conditions__0__properties__1__operator",
            ),
            ([{"properties": [{"key": "a", "value": 1, "type": "cohort"}]}], "conditions__0__properties__0__type"),
            ([{"properties": [{"key": "a", "value": 1, "type": "martian"}]}], "conditions__0__properties__0__type"),
            ([{"properties": [{"key": "a", "operator": "exact"}]}], "conditions__0__properties__0__value"),
            (
                [{"properties": [{"key": "a", "operator": "between", "value": [5, 1]}]}],
                "conditions__0__properties__0__value",
            ),
            ([{"properties": [{"key": "a", "operator": "in", "value": "x"}]}], "conditions__0__properties__0__value"),
            ([{"properties": [{"key": "a", "operator": "gt", "value": "ten"}]}], "conditions__0__properties__0__value"),
            (
                [{"properties": [{"key": "a", "operator": "regex", "value": "(["}]}],
                "conditions__0__properties__0__value",
            ),
            (
                [{"properties": [{"key": "a", "operator": "is_date_after", "value": "someday"}]}],
                "conditions__0__properties__0__value",
            ),
            (
                [{"properties": [{"key": "a", "value": {"nested": "object"}}]}],
                "conditions__0__properties__0__value__0",
            ),
        ],
    )
    def test_condition_errors_name_the_field(self, api: APIClient, url: str, conditions: list, attr: str) -> None:
        assert_error(
            api.post(url, valid_payload(conditions=conditions), format="json"), type="validation_error", attr=attr
        )
        assert Evaluation.objects.count() == 0

    def test_cannot_create_in_another_organizations_project(self, api: APIClient, other_tenant: Tenant) -> None:
        response = api.post(f"/api/environments/{other_tenant.team.id}/evaluations/", valid_payload(), format="json")
        assert response.status_code == 403
        assert Evaluation.objects.count() == 0


class TestCreate:
    def test_normalises_and_fills_defaults(
        self, api: APIClient, url: str, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        response = api.post(
            url,
            valid_payload(
                evaluation_config={"prompt": "  Judge the tone.  ", "model": "ignored"},
                output_config={},
                team=other_tenant.team.id,
                created_by=other_tenant.user.id,
                id=str(uuid.uuid4()),
            ),
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["evaluation_config"] == {"prompt": "Judge the tone."}
        assert body["output_config"] == {"allows_na": False}
        assert body["enabled"] is False
        assert body["deleted"] is False
        assert body["description"] == ""
        assert body["conditions"] == []
        assert body["created_by"] == {
            "id": tenant.user.id,
            "uuid": str(tenant.user.uuid),
            "distinct_id": tenant.user.distinct_id,
            "first_name": tenant.user.first_name,
            "last_name": "",
            "email": tenant.user.email,
            "is_email_verified": None,
            "hedgehog_config": None,
            "role_at_organization": None,
        }
        row = Evaluation.objects.get(pk=body["id"])
        assert row.team_id == tenant.team.id
        assert row.created_by_id == tenant.user.id
        assert uuid.UUID(body["id"]).version == 7

    def test_conditions_are_normalised(self, api: APIClient, url: str) -> None:
        filters = [{"key": "$ai_model_name", "value": "gpt-4", "operator": "exact", "type": "event"}]
        conditions = [
            {"id": "cond-a", "rollout_percentage": 50, "properties": filters, "sampling_rate": 0.5},
            {"properties": []},
            {"id": "cond-c", "rollout_percentage": 0},
            {"id": "cond-d", "rollout_percentage": 33.5},
        ]
        response = api.post(url, valid_payload(conditions=conditions), format="json")
        assert response.status_code == 201, response.content
        echoed = response.json()["conditions"]
        assert echoed[0] == {"id": "cond-a", "rollout_percentage": 50, "properties": filters}
        assert echoed[1]["rollout_percentage"] == 100
        assert uuid.UUID(echoed[1]["id"])
        assert echoed[1]["properties"] == []
        assert echoed[2] == {"id": "cond-c", "rollout_percentage": 0, "properties": []}
        assert echoed[3]["rollout_percentage"] == 33.5

    def test_grouped_and_legacy_filters_are_accepted_in_conditions(self, api: APIClient, url: str) -> None:
        grouped = [{"type": "OR", "values": [{"key": "a", "value": "1"}, {"key": "b", "operator": "is_set"}]}]
        response = api.post(url, valid_payload(conditions=[{"properties": grouped}]), format="json")
        assert response.status_code == 201, response.content
        assert response.json()["conditions"][0]["properties"] == grouped


class TestUpdate:
    def test_patch_config_alone_is_validated_against_stored_types(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        evaluation = make_evaluation(tenant)
        response = api.patch(f"{url}{evaluation.id}/", {"evaluation_config": {"prompt": ""}}, format="json")
        assert_error(
            response,
            type="validation_error",
            attr="config",
            detail="Invalid config for llm_judge/boolean: evaluation_config.prompt: Prompt cannot be empty",
        )
        response = api.patch(f"{url}{evaluation.id}/", {"output_config": {"allows_na": 1}}, format="json")
        assert_error(response, type="validation_error", attr="config")
        evaluation.refresh_from_db()
        assert evaluation.evaluation_config == {"prompt": "Is the answer correct?"}

    def test_patch_config_normalises(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        response = api.patch(
            f"{url}{evaluation.id}/", {"evaluation_config": {"prompt": " New ", "x": 1}, "enabled": True}, format="json"
        )
        assert response.status_code == 200
        evaluation.refresh_from_db()
        assert evaluation.evaluation_config == {"prompt": "New"}
        assert evaluation.output_config == {"allows_na": False}
        assert evaluation.enabled is True

    def test_patch_unrelated_field_keeps_configs(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, output_config={"allows_na": True})
        response = api.patch(f"{url}{evaluation.id}/", {"description": "why"}, format="json")
        assert response.status_code == 200
        assert response.json()["output_config"] == {"allows_na": True}

    def test_put_needs_the_required_fields(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        assert_error(
            api.put(f"{url}{evaluation.id}/", {"description": "only"}, format="json"),
            type="validation_error",
            attr="name",
            code="required",
        )
        full = valid_payload(name="Replaced", description="d", enabled=True)
        response = api.put(f"{url}{evaluation.id}/", full, format="json")
        assert response.status_code == 200
        assert response.json()["name"] == "Replaced"
        assert response.json()["created_by"]["id"] == tenant.user.id

    def test_updated_at_moves(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        before = evaluation.updated_at
        api.patch(f"{url}{evaluation.id}/", {"name": "Later"}, format="json")
        evaluation.refresh_from_db()
        assert evaluation.updated_at > before

    def test_malformed_id_is_404(self, api: APIClient, url: str) -> None:
        assert api.patch(f"{url}not-a-uuid/", {"name": "x"}, format="json").status_code == 404
        assert api.get(f"{url}not-a-uuid/").status_code == 404


class TestSoftDelete:
    def test_delete_is_405_with_empty_body(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        response = api.delete(f"{url}{evaluation.id}/")
        assert response.status_code == 405
        assert response.content == b""
        assert "DELETE" not in response["Allow"]
        assert "PATCH" in response["Allow"]
        assert Evaluation.objects.filter(pk=evaluation.pk, deleted=False).exists()

    def test_delete_needs_write_scope(self, key_client: Any, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        response = key_client("evaluation:read").delete(f"{url}{evaluation.id}/")
        assert response.status_code == 403

    def test_patch_deleted_hides_and_restores(self, api: APIClient, url: str, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        assert api.patch(f"{url}{evaluation.id}/", {"deleted": True}, format="json").status_code == 200
        assert api.get(url).json()["count"] == 0
        assert api.get(f"{url}{evaluation.id}/").status_code == 404
        assert api.get(url, {"id__in": str(evaluation.id)}).json()["results"] == []
        restored = api.patch(f"{url}{evaluation.id}/", {"deleted": False}, format="json")
        assert restored.status_code == 200
        assert restored.json()["deleted"] is False
        assert api.get(f"{url}{evaluation.id}/").status_code == 200
        assert api.get(url).json()["count"] == 1


class TestList:
    def test_default_order_is_newest_first_with_ties_broken_by_id(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        now = timezone.now()
        old = make_evaluation(tenant, name="old")
        tied = [make_evaluation(tenant, name=f"tied{i}") for i in range(3)]
        Evaluation.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=1))
        Evaluation.objects.filter(pk__in=[e.pk for e in tied]).update(created_at=now)
        ids = [item["id"] for item in api.get(url).json()["results"]]
        assert ids == [*sorted(str(e.id) for e in tied), str(old.id)]

    def test_response_shape_and_pagination(self, api: APIClient, url: str, tenant: Tenant) -> None:
        for index in range(3):
            make_evaluation(tenant, name=f"e{index}")
        page = api.get(url, {"limit": 2}).json()
        assert page["count"] == 3
        assert len(page["results"]) == 2
        assert page["previous"] is None
        assert "offset=2" in page["next"]
        assert set(page["results"][0]) == {
            "id", "name", "description", "enabled", "status", "status_reason", "status_reason_detail",
            "evaluation_type", "evaluation_config", "output_type", "output_config", "conditions",
            "model_configuration", "created_at", "updated_at", "created_by", "deleted",
        }  # fmt: skip
        last = api.get(page["next"]).json()
        assert len(last["results"]) == 1
        assert last["next"] is None

    def test_reads_render_byte_for_byte_what_the_serializer_gives(
        self, api: APIClient, url: str, tenant: Tenant
    ) -> None:
        tenant.user.hedgehog_config = {"color": "blue", "accessories": ["hat"]}
        tenant.user.save()
        filters = [{"key": "$browser", "value": ["Chrome"], "operator": "exact", "type": "event"}]
        make_evaluation(
            tenant,
            description="Säkerhet ✓",
            conditions=[
                {"id": "a", "rollout_percentage": 33.5, "properties": filters},
                {"id": "b", "rollout_percentage": 100, "properties": []},
            ],
        )
        make_evaluation(tenant, created_by=None, evaluation_config={"prompt": "p", "zeta": 1, "a": [1.5, None]})
        stored = Evaluation.objects.filter(team=tenant.team).select_related("created_by").order_by("-created_at", "id")
        expected = [EvaluationSerializer(evaluation).data for evaluation in stored]
        page = {"count": 2, "next": None, "previous": None, "results": expected}
        assert api.get(url).content == JSONRenderer().render(page)
        for evaluation in expected:
            assert api.get(f"{url}{evaluation['id']}/").content == JSONRenderer().render(evaluation)
        assert expected[1]["conditions"][1]["rollout_percentage"] == 100  # a whole percentage stays whole
        assert b'"rollout_percentage":100,' in api.get(f"{url}{expected[1]['id']}/").content

    def test_filter_enabled(self, api: APIClient, url: str, tenant: Tenant) -> None:
        on = make_evaluation(tenant, enabled=True)
        off = make_evaluation(tenant, enabled=False)
        assert [e["id"] for e in api.get(url, {"enabled": "true"}).json()["results"]] == [str(on.id)]
        assert [e["id"] for e in api.get(url, {"enabled": "false"}).json()["results"]] == [str(off.id)]
        assert_error(api.get(url, {"enabled": "sometimes"}), type="validation_error", attr="enabled")

    def test_filter_evaluation_type(self, api: APIClient, url: str, tenant: Tenant) -> None:
        judge = make_evaluation(tenant)
        assert [e["id"] for e in api.get(url, {"evaluation_type": "llm_judge"}).json()["results"]] == [str(judge.id)]
        assert_error(api.get(url, {"evaluation_type": "astrology"}), type="validation_error", attr="evaluation_type")

    def test_mcp_clients_get_a_slim_list(self, api: APIClient, url: str, tenant: Tenant) -> None:
        """PostHog's MCP server lists evaluations to a model: the bulky fields are left out of its list."""
        evaluation = make_evaluation(tenant, name="Slim")
        [slim] = api.get(url, headers={"X-PostHog-Client": "mcp"}).json()["results"]
        assert list(slim) == ["id", "name", "description", "enabled", "status", "status_reason",
                              "status_reason_detail", "evaluation_type", "output_type", "created_at", "updated_at"]  # fmt: skip
        assert (slim["id"], slim["name"]) == (str(evaluation.id), "Slim")
        # Only the list, and only for that client: one evaluation read whole is still whole.
        assert "evaluation_config" in api.get(f"{url}{evaluation.id}/", headers={"X-PostHog-Client": "mcp"}).json()
        assert "evaluation_config" in api.get(url, headers={"X-PostHog-Client": "web"}).json()["results"][0]

    def test_filter_id_in(self, api: APIClient, url: str, tenant: Tenant) -> None:
        a, b, _ = (make_evaluation(tenant, name=n) for n in "abc")
        listed = api.get(url, {"id__in": f"{a.id},{b.id}"}).json()["results"]
        assert {e["id"] for e in listed} == {str(a.id), str(b.id)}
        assert_error(api.get(url, {"id__in": f"{a.id},nope"}), type="validation_error", attr="id__in")
        assert_error(api.get(url, {"id__in": "1"}), type="validation_error", attr="id__in")

    def test_search_name_or_description_case_insensitively(self, api: APIClient, url: str, tenant: Tenant) -> None:
        by_name = make_evaluation(tenant, name="Accuracy check")
        by_description = make_evaluation(tenant, name="Other", description="Measures PERFORMANCE")
        make_evaluation(tenant, name="Unrelated")
        assert [e["id"] for e in api.get(url, {"search": "accuracy"}).json()["results"]] == [str(by_name.id)]
        assert [e["id"] for e in api.get(url, {"search": "performance"}).json()["results"]] == [str(by_description.id)]
        assert api.get(url, {"search": "%"}).json()["results"] == []

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            ("name", ["a", "b", "c"]),
            ("-name", ["c", "b", "a"]),
            ("created_at", ["b", "c", "a"]),
            ("-created_at", ["a", "c", "b"]),
            ("updated_at", ["c", "a", "b"]),
            ("-updated_at", ["b", "a", "c"]),
            ("enabled_sorted_first,name", None),
        ],
    )
    def test_order_by(self, api: APIClient, url: str, tenant: Tenant, order_by: str, expected: list | None) -> None:
        now = timezone.now()
        rows = {name: make_evaluation(tenant, name=name) for name in "abc"}
        for name, created, updated in (("a", 3, 2), ("b", 1, 3), ("c", 2, 1)):
            Evaluation.objects.filter(pk=rows[name].pk).update(
                created_at=now + timedelta(minutes=created), updated_at=now + timedelta(minutes=updated)
            )
        response = api.get(url, {"order_by": order_by})
        if expected is None:
            assert_error(response, type="validation_error", attr="order_by")
        else:
            assert [e["name"] for e in response.json()["results"]] == expected

    def test_order_by_combination(self, api: APIClient, url: str, tenant: Tenant) -> None:
        now = timezone.now()
        for name, minutes in (("same", 1), ("same", 2), ("first", 0)):
            evaluation = make_evaluation(tenant, name=name)
            Evaluation.objects.filter(pk=evaluation.pk).update(created_at=now + timedelta(minutes=minutes))
        results = api.get(url, {"order_by": "name,-created_at"}).json()["results"]
        assert [e["name"] for e in results] == ["first", "same", "same"]
        assert results[1]["created_at"] > results[2]["created_at"]


def test_schema_documents_filters_and_soft_delete(client: APIClient, db: None) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for prefix in ("environments", "projects"):
        operation = schema["paths"][f"/api/{prefix}/{{project_id}}/evaluations/"]["get"]
        assert operation["operationId"] == f"{prefix}_evaluations_list"
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["enabled"]["description"] == "Filter by enabled status"
        assert params["search"]["description"] == "Search in name or description"
        assert params["id__in"]["description"] == "Multiple values may be separated by commas."
        assert params["order_by"]["description"].startswith("Ordering")
        assert "* `-name` - Name (descending)" in params["order_by"]["description"]
        destroy = schema["paths"][f"/api/{prefix}/{{project_id}}/evaluations/{{id}}/"]["delete"]
        assert destroy["description"] == (
            'Hard delete of this model is not allowed. Use a patch API call to set "deleted" to true'
        )
        assert "405" in destroy["responses"]


def test_the_readme_online_evaluation_example_is_accepted_as_written(api: APIClient, url: str) -> None:
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    example = re.search(r"""-d '(\{"name": "Helpful \(online\)".*?)'\n""", readme, re.DOTALL)
    assert example, "the README's online-evaluation example is gone"
    response = api.post(url, json.loads(example.group(1)), format="json")
    assert response.status_code == 201, response.content
    conditions = response.json()["conditions"]
    assert [condition["rollout_percentage"] for condition in conditions] == [10, 100]
    assert conditions[1]["properties"] == [{"key": "$ai_latency", "value": 5, "operator": "gt", "type": "event"}]
    assert response.json()["enabled"] is True
