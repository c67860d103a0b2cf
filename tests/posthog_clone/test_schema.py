from __future__ import annotations

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


def test_operations_are_grouped_by_resource(schema: dict) -> None:
    tags = {path: {tag for operation in item.values() for tag in operation.get("tags", [])}
            for path, item in schema["paths"].items()}  # fmt: skip
    assert tags["/api/environments/{project_id}/evaluation_runs/"] == {"evaluation runs"}
    assert tags["/api/projects/{project_id}/evaluations/{id}/"] == {"evaluations"}
    assert tags["/api/environments/{project_id}/events/"] == {"events"}
    assert tags["/api/projects/{project_id}/error_tracking/symbol_sets/bulk_start_upload/"] == {"symbol sets"}
    assert all(tags.values())
