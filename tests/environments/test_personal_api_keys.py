from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from environments.services import MAX_PERSONAL_API_KEYS_PER_USER
from tests.support.tenants import Tenant


@pytest.fixture
def session(client: APIClient, tenant: Tenant) -> APIClient:
    client.force_login(tenant.user)
    return client


def test_create_returns_value_once(session: APIClient, tenant: Tenant) -> None:
    created = session.post(
        "/api/personal_api_keys/",
        {"label": "deploys", "scopes": ["query:read", "evaluation:write"], "scoped_teams": [tenant.team.id]},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["value"].startswith("phx_")
    assert body["scopes"] == ["query:read", "evaluation:write"]
    assert body["scoped_teams"] == [tenant.team.id]
    assert body["mask_value"] == f"{body['value'][:4]}...{body['value'][-4:]}"
    listed = session.get("/api/personal_api_keys/").json()
    assert isinstance(listed, list)  # PostHog lists keys as a plain array
    assert listed[0]["id"] == body["id"]
    assert listed[0]["value"] is None
    assert session.get(f"/api/personal_api_keys/{body['id']}/").json()["value"] is None


def test_created_key_authenticates(session: APIClient, tenant: Tenant) -> None:
    value = session.post("/api/personal_api_keys/", {"label": "x", "scopes": ["project:read"]}, format="json").json()[
        "value"
    ]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    assert api.get(f"/api/projects/{tenant.team.id}/").status_code == 200


@pytest.mark.parametrize(
    ("payload", "attr", "message"),
    [
        ({"label": "x"}, "scopes", "This field is required."),
        ({"label": "x", "scopes": []}, "scopes", "This list may not be empty."),
        ({"label": "x", "scopes": ["feature_flag:admin"]}, "scopes", "Invalid scope: feature_flag:admin"),
        ({"scopes": ["*"]}, "label", "This field is required."),
        ({"label": "x" * 41, "scopes": ["*"]}, "label", "Ensure this field has no more than 40 characters."),
        (
            {"label": "x", "scopes": ["*"], "scoped_teams": [987654]},
            "scoped_teams",
            "You must be a member of all teams/organizations that you are scoping the key to.",
        ),
        (
            {"label": "x", "scopes": ["*"], "scoped_organizations": ["00000000-0000-0000-0000-000000000000"]},
            "scoped_organizations",
            "You must be a member of all teams/organizations that you are scoping the key to.",
        ),
        ({"label": "x", "scopes": "*"}, "scopes", 'Expected a list of items but got type "str".'),
    ],
)
def test_create_validation(session: APIClient, payload: dict[str, Any], attr: str, message: str) -> None:
    response = session.post("/api/personal_api_keys/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["attr"] == attr
    assert response.json()["detail"] == message


def test_key_limit(session: APIClient) -> None:
    for index in range(MAX_PERSONAL_API_KEYS_PER_USER):
        assert (
            session.post("/api/personal_api_keys/", {"label": f"k{index}", "scopes": ["*"]}, format="json").status_code
            == 201
        )
    response = session.post("/api/personal_api_keys/", {"label": "one too many", "scopes": ["*"]}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "You can only have 10 personal API keys. Remove an existing key before creating a new one."
    )


def test_roll_replaces_the_value(session: APIClient, tenant: Tenant) -> None:
    created = session.post("/api/personal_api_keys/", {"label": "r", "scopes": ["*"]}, format="json").json()
    rolled = session.post(f"/api/personal_api_keys/{created['id']}/roll/").json()
    assert rolled["value"].startswith("phx_") and rolled["value"] != created["value"]
    assert rolled["last_rolled_at"] is not None
    old, new = APIClient(), APIClient()
    old.credentials(HTTP_AUTHORIZATION=f"Bearer {created['value']}")
    new.credentials(HTTP_AUTHORIZATION=f"Bearer {rolled['value']}")
    assert old.get("/api/projects/").status_code == 401
    assert new.get("/api/projects/").status_code == 200


def test_update_and_delete(session: APIClient) -> None:
    created = session.post("/api/personal_api_keys/", {"label": "u", "scopes": ["*"]}, format="json").json()
    patched = session.patch(f"/api/personal_api_keys/{created['id']}/", {"label": "renamed"}, format="json")
    assert patched.json()["label"] == "renamed"
    assert session.delete(f"/api/personal_api_keys/{created['id']}/").status_code == 204
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {created['value']}")
    assert api.get("/api/projects/").status_code == 401


def test_keys_cannot_manage_keys(key_client: Any) -> None:
    api = key_client("*")
    for response in (
        api.get("/api/personal_api_keys/"),
        api.post("/api/personal_api_keys/", {"label": "x", "scopes": ["*"]}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == "This action does not support personal API key access"


def test_current_describes_the_calling_key(client: APIClient, tenant: Tenant, make_key: Any) -> None:
    value = make_key("query:read", scoped_teams=[tenant.team.id])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    response = client.get("/api/personal_api_keys/@current")
    assert response.status_code == 200
    assert response.json()["scopes"] == ["query:read"]
    assert response.json()["mask_value"] == f"{value[:4]}...{value[-4:]}"
    assert response.json()["value"] is None


def test_other_users_keys_are_invisible(
    session: APIClient, tenant: Tenant, other_tenant: Tenant, make_key: Any
) -> None:
    make_key("*", user=other_tenant.user)
    assert session.get("/api/personal_api_keys/").json() == []
