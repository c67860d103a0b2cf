from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def schema(client: APIClient, db: None) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_declares_bearer_auth(schema: dict) -> None:
    assert schema["components"]["securitySchemes"]["PersonalAPIKeyAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API key: `Bearer phx_...`.",
    }


def test_operation_ids_are_readable(schema: dict) -> None:
    operation_ids = {
        operation["operationId"]
        for path_item in schema["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert {"projects_list", "projects_create", "projects_retrieve", "environments_list", "users_retrieve"} <= (
        operation_ids
    )
    assert "personal_api_keys_roll_create" in operation_ids


@pytest.mark.parametrize("path", ["/api/schema/swagger-ui/", "/api/schema/redoc/"])
def test_docs_pages_and_their_assets_are_served_locally(client: APIClient, db: None, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html  # no CDN: works on a machine without internet
    asset = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    if "redoc" in path:
        asset = "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
    assert asset in html
    assert client.get(asset).status_code == 200


def test_evaluation_runs_have_real_request_and_response_schemas(schema: dict) -> None:
    runs = schema["paths"]["/api/environments/{project_id}/evaluation_runs/"]
    create_body = runs["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert create_body == "#/components/schemas/EvaluationRunCreateRequest"
    created = runs["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"][created.rsplit("/", 1)[1]]["required"] == [
        "evaluation", "status", "target_event_id", "workflow_id",
    ]  # fmt: skip
    assert {p["name"] for p in runs["get"]["parameters"]} >= {"evaluation_id", "status", "trigger", "target_event_id"}
    detail = schema["paths"]["/api/projects/{project_id}/evaluation_runs/{id}/"]["get"]["responses"]["200"]
    run = schema["components"]["schemas"][detail["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"status", "verdict", "applicable", "reasoning", "error", "emitted_event_id"} <= set(run["properties"])


def test_the_events_list_is_documented_as_the_page_it_answers(schema: dict) -> None:
    ok = schema["paths"]["/api/environments/{project_id}/events/"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/EventList"}
    assert ok["text/csv"]["schema"] == {"type": "string"}


def test_a_symbol_sets_release_is_nullable(schema: dict) -> None:
    release = schema["components"]["schemas"]["SymbolSet"]["properties"]["release"]
    assert release.get("nullable") is True


def test_every_operation_documents_its_errors_in_posthogs_body(schema: dict) -> None:
    operation = schema["paths"]["/api/environments/{project_id}/evaluations/{id}/"]["patch"]
    for code in ("400", "401", "403", "404", "413", "415", "429", "503"):
        content = operation["responses"][code]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorResponse"}
    assert set(schema["components"]["schemas"]["ErrorResponse"]["required"]) == {"type", "code", "detail", "attr"}
    assert list(operation["requestBody"]["content"]) == ["application/json"]


def test_the_answers_the_server_gives_are_the_ones_documented(schema: dict, key_client: Any, tenant: Any) -> None:
    api = key_client("*")
    query = schema["paths"]["/api/environments/{project_id}/query/"]["post"]
    assert "200" in query["responses"] and "201" not in query["responses"]  # a query creates nothing
    answered = api.post(f"/api/environments/{tenant.team.id}/query/",
                        {"query": {"kind": "HogQLQuery", "query": "select 1 from events"}, "refresh": None},
                        format="json")  # fmt: skip
    assert answered.status_code == 200, answered.content  # `refresh: null` is as the schema allows
    for path in ("/api/environments/{project_id}/query/", "/api/environments/{project_id}/events/"):
        [operation] = [o for method, o in schema["paths"][path].items() if method in ("get", "post")]
        assert operation["responses"]["504"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    # An event without elements has an empty chain: the documented field allows it.
    chain = schema["components"]["schemas"]["Event"]["properties"]["elements_chain"]
    assert "pattern" not in chain and chain.get("minLength", 0) == 0
    events = schema["paths"]["/api/environments/{project_id}/events/"]["get"]["parameters"]
    assert next(p for p in events if p["name"] == "format").get("allowEmptyValue") is True


def test_filters_sent_empty_are_documented_as_ignored(schema: dict, key_client: Any, tenant: Any) -> None:
    api = key_client("*")
    for path, names in (("/evaluations/", {"search", "enabled", "id__in", "order_by"}),
                        ("/evaluation_runs/", {"evaluation_id", "status", "trigger", "target_event_id"}),
                        ("/error_tracking/symbol_sets/", {"ref", "search", "status", "order_by"})):  # fmt: skip
        parameters = schema["paths"][f"/api/environments/{{project_id}}{path}"]["get"]["parameters"]
        documented = {p["name"] for p in parameters if p.get("allowEmptyValue")}
        assert names <= documented, (path, names - documented)
        for name in names:  # and the server does ignore them
            response = api.get(f"/api/environments/{tenant.team.id}{path}", {name: ""})
            assert response.status_code == 200, (path, name, response.content)


@pytest.mark.parametrize("sent", [0, 1, "true", "yes"])
def test_booleans_are_booleans(key_client: Any, tenant: Any, sent: Any) -> None:
    from tests.evaluations.helpers import make_evaluation

    evaluation = make_evaluation(tenant)
    response = key_client("*").patch(f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/",
                                     {"deleted": sent}, format="json")  # fmt: skip
    assert (response.status_code, response.json()["attr"]) == (400, "deleted")
    upload = key_client("*").post(f"/api/environments/{tenant.team.id}/error_tracking/symbol_sets/bulk_start_upload/",
                                  {"symbol_sets": [{"chunk_id": "c1"}], "skip_on_conflict": sent},
                                  format="json")  # fmt: skip
    assert (upload.status_code, upload.json()["attr"]) == (400, "skip_on_conflict")


def test_operations_are_grouped_by_resource(schema: dict) -> None:
    tags = {path: {tag for operation in item.values() for tag in operation.get("tags", [])}
            for path, item in schema["paths"].items()}  # fmt: skip
    assert tags["/api/environments/{project_id}/evaluation_runs/"] == {"evaluation runs"}
    assert tags["/api/projects/{project_id}/evaluations/{id}/"] == {"evaluations"}
    assert tags["/api/environments/{project_id}/events/"] == {"events"}
    assert tags["/api/projects/{project_id}/error_tracking/symbol_sets/bulk_start_upload/"] == {"symbol sets"}
    assert all(tags.values())
