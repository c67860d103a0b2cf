"""Every error answers in PostHog's flat `{type, code, detail, attr}` body."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import structlog
from rest_framework.test import APIClient

from tests.support.errors import ERROR_KEYS
from tests.support.tenants import Tenant


def test_400_validation_error(client: APIClient, tenant: Tenant) -> None:
    client.force_login(tenant.user)
    response = client.post("/api/personal_api_keys/", {"label": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "required",
        "detail": "This field is required.",
        "attr": "scopes",
    }


@pytest.mark.parametrize("body", [b"{not json", b'{"name": "x",}', b"\xff\xfe"])
def test_malformed_json_is_400_not_500(key_client: Any, tenant: Tenant, body: bytes) -> None:
    response = key_client("*").post("/api/projects/", body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["type"] == "invalid_request"
    assert response.json()["code"] == "parse_error"


def test_unsupported_media_type_is_415_saying_what_to_send(key_client: Any, tenant: Tenant) -> None:
    response = key_client("*").post("/api/projects/", b"<xml/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert response.json()["detail"] == (
        'Unsupported media type "application/xml" in request. Send a JSON body with Content-Type: application/json '
        "(curl: -H 'Content-Type: application/json' -d '{…}')."
    )


def test_curl_form_body_is_415_saying_what_to_send(key_client: Any, tenant: Tenant) -> None:
    """`curl -d name="string",` (the seed's examples) sends application/x-www-form-urlencoded."""
    url = f"/api/environments/{tenant.team.id}/evaluations/"
    response = key_client("*").post(url, b'name="string",', content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


@pytest.mark.parametrize("body", [b'name="string",', b"name=x&description=y", b" evaluation_type=llm_judge"])
def test_form_encoded_body_sent_as_json_says_so(key_client: Any, tenant: Tenant, body: bytes) -> None:
    url = f"/api/environments/{tenant.team.id}/evaluations/"
    response = key_client("*").post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error - ")
    assert response.json()["detail"].endswith(
        '. The body looks form-encoded (name=value); send a JSON object instead, e.g. {"name": "string"}.'
    )


def test_malformed_json_that_is_not_a_form_gets_no_form_hint(key_client: Any, tenant: Tenant) -> None:
    response = key_client("*").post("/api/projects/", b'{"name": "x"', content_type="application/json")
    assert response.json()["detail"] == "JSON parse error - unexpected end of data: line 1 column 13 (char 12)"


def test_401_and_403_bodies(client: APIClient, key_client: Any, tenant: Tenant) -> None:
    unauthenticated = client.get("/api/projects/")
    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()) == ERROR_KEYS
    forbidden = key_client("query:read").get("/api/projects/")
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "authentication_error"
    assert forbidden.json()["code"] == "permission_denied"


def test_404_for_unknown_routes(client: APIClient) -> None:
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}


def test_405_method_not_allowed(key_client: Any, tenant: Tenant) -> None:
    response = key_client("*").delete("/api/projects/")
    assert response.status_code == 405
    assert response.json() == {
        "type": "invalid_request",
        "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.',
        "attr": None,
    }


@pytest.mark.urls("tests.posthog_clone.crash_urls")
def test_500_hides_the_traceback(client: APIClient) -> None:
    response = client.get("/crash/")
    assert response.status_code == 500
    assert response.json() == {
        "type": "server_error",
        "code": "error",
        "detail": "A server error occurred.",
        "attr": None,
    }
    assert b"secret internal detail" not in response.content


@pytest.mark.parametrize(
    ("params", "expected_results"),
    [
        ({"limit": "10000000000000000000"}, 1),
        ({"offset": "10000000000000000000"}, 0),
        ({"limit": "1" * 25}, 1),
    ],
)
def test_out_of_range_pagination_is_clamped_not_500(
    key_client: Any, tenant: Tenant, params: dict, expected_results: int
) -> None:
    response = key_client("*").get("/api/projects/", params)
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected_results


@pytest.mark.parametrize(
    ("params", "attr"),
    [({"limit": "-5"}, "limit"), ({"limit": "0"}, "limit"), ({"offset": "abc"}, "offset"), ({"offset": "null"}, "offset"),
     ({"limit": "1.5"}, "limit"), ({"offset": "-1"}, "offset")],
)  # fmt: skip
def test_pagination_parameters_that_are_not_whole_numbers_are_400(
    key_client: Any, tenant: Tenant, params: dict, attr: str
) -> None:
    response = key_client("*").get("/api/projects/", params)
    assert response.status_code == 400, response.content
    assert (response.json()["code"], response.json()["attr"]) == ("invalid_input", attr)


def test_oversized_json_body_is_413(key_client: Any, tenant: Tenant, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = key_client("*").post("/api/projects/", {"name": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json() == {
        "type": "invalid_request",
        "code": "payload_too_large",
        "detail": "The request body is too large.",
        "attr": None,
    }


def _structured_formatter() -> logging.Formatter:
    """The formatter production logs go through (the root logger's console handler)."""
    return next(
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    )


@pytest.mark.urls("tests.posthog_clone.crash_urls")
@pytest.mark.parametrize("path", ["/crash/", "/plain-crash/"])
def test_a_crash_is_logged_with_its_traceback(client: APIClient, caplog: Any, path: str) -> None:
    client.raise_request_exception = False  # answer as in production
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    assert response.status_code == 500
    assert response.json()["code"] == "error"
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors
    written = "\n".join(_structured_formatter().format(record) for record in errors)
    assert "Traceback" in written
    assert "RuntimeError: secret" in written
    assert "<traceback object" not in written


def test_an_ordinary_404_is_not_an_error(key_client: Any, tenant: Tenant, caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG):
        missing = key_client("*").get(f"/api/environments/{tenant.team.id}/evaluations/{uuid.uuid4()}/")
        unrouted = key_client("*").get("/api/no-such-route/")
    assert (missing.status_code, unrouted.status_code) == (404, 404)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
