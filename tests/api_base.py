"""Declarative checks every project-scoped resource inherits: 401, 403 per scope, cross-project 404,
both URL families with and without the trailing slash, and list/create/update with the right scopes.

A resource's test declares `resource`, `scope_object` and how to make a row (and payloads if writable);
the checks below then run against it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.db.models import Model
from rest_framework.test import APIClient

from tests.support.tenants import Tenant, make_tenant


class TeamScopedReadAPITests:
    resource: ClassVar[str]
    scope_object: ClassVar[str]
    # Field of each list item that identifies the row.
    id_field: ClassVar[str] = "id"

    def make_object(self, tenant: Tenant) -> Model:
        raise NotImplementedError

    def object_id(self, obj: Any) -> str:
        return str(obj.pk)

    def list_ids(self, response: Any) -> list[str]:
        return [str(item[self.id_field]) for item in response.json()["results"]]

    # --- helpers -------------------------------------------------------------------------------------
    def url(self, team_id: int | str, suffix: str = "", *, prefix: str = "environments", slash: bool = True) -> str:
        path = f"/api/{prefix}/{team_id}/{self.resource}/{suffix}"
        return path if slash else path.rstrip("/")

    @staticmethod
    def detail(response: Any) -> str:
        return response.json()["detail"]

    # --- authentication --------------------------------------------------------------------------------
    def test_unauthenticated_is_401(self, client: APIClient, tenant: Tenant) -> None:
        response = client.get(self.url(tenant.team.id))
        assert response.status_code == 401
        assert response.json() == {
            "type": "authentication_error",
            "code": "not_authenticated",
            "detail": "Authentication credentials were not provided.",
            "attr": None,
        }

    def test_invalid_key_is_401(self, client: APIClient, tenant: Tenant) -> None:
        client.credentials(HTTP_AUTHORIZATION="Bearer phx_not_a_real_key")
        response = client.get(self.url(tenant.team.id))
        assert response.status_code == 401
        assert self.detail(response) == "Personal API key found in request Authorization header is invalid."

    # --- scopes -----------------------------------------------------------------------------------------
    def test_list_needs_read_scope(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client("user:read").get(self.url(tenant.team.id))
        assert response.status_code == 403
        assert response.json()["type"] == "authentication_error"
        assert self.detail(response) == f"API key missing required scope '{self.scope_object}:read'"

    @pytest.mark.parametrize("scope_kind", ["read", "write", "*"])
    def test_list_with_read_write_or_star_scope(self, key_client: Any, tenant: Tenant, scope_kind: str) -> None:
        obj = self.make_object(tenant)
        scope = "*" if scope_kind == "*" else f"{self.scope_object}:{scope_kind}"
        response = key_client(scope).get(self.url(tenant.team.id))
        assert response.status_code == 200, response.content
        assert self.object_id(obj) in self.list_ids(response)

    # --- tenancy ----------------------------------------------------------------------------------------
    def test_other_projects_rows_are_invisible(self, key_client: Any, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = self.make_object(other_tenant)
        api = key_client("*")
        listed = api.get(self.url(tenant.team.id))
        assert listed.status_code == 200
        assert self.object_id(theirs) not in self.list_ids(listed)
        retrieved = api.get(self.url(tenant.team.id, f"{self.object_id(theirs)}/"))
        assert retrieved.status_code == 404
        assert retrieved.json()["type"] == "invalid_request"

    def test_project_of_another_organization_is_403(
        self, key_client: Any, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        response = key_client("*").get(self.url(other_tenant.team.id))
        assert response.status_code == 403
        assert self.detail(response) == "You don't have access to the project."

    @pytest.mark.parametrize("project_id", ["999999", "abc", "1.5", "99999999999999999999999"])
    def test_unknown_project_is_404(self, key_client: Any, tenant: Tenant, project_id: str) -> None:
        response = key_client("*").get(self.url(project_id))
        assert response.status_code == 404
        assert self.detail(response) == "Project not found."

    def test_key_scoped_to_another_project_is_403(self, key_client: Any, tenant: Tenant) -> None:
        second = make_tenant("second@example.com", organization_name="Second", project_name="Second")
        response = key_client("*", scoped_teams=[second.team.id], user=tenant.user).get(self.url(tenant.team.id))
        assert response.status_code == 403
        assert self.detail(response) == f"API key does not have access to the requested project: ID {tenant.team.id}."

    # --- routing ------------------------------------------------------------------------------------------
    @pytest.mark.parametrize("prefix", ["environments", "projects"])
    @pytest.mark.parametrize("slash", [True, False])
    def test_both_prefixes_with_and_without_slash(
        self, key_client: Any, tenant: Tenant, prefix: str, slash: bool
    ) -> None:
        obj = self.make_object(tenant)
        api = key_client(f"{self.scope_object}:read")
        listed = api.get(self.url(tenant.team.id, prefix=prefix, slash=slash))
        assert listed.status_code == 200
        assert self.object_id(obj) in self.list_ids(listed)
        retrieved = api.get(self.url(tenant.team.id, f"{self.object_id(obj)}/", prefix=prefix, slash=slash))
        assert retrieved.status_code == 200
        assert str(retrieved.json()["id"]) == self.object_id(obj)

    def test_current_project_alias(self, key_client: Any, tenant: Tenant) -> None:
        obj = self.make_object(tenant)
        response = key_client(f"{self.scope_object}:read").get(self.url("@current"))
        assert response.status_code == 200
        assert self.object_id(obj) in self.list_ids(response)

    def test_session_login_works_without_scopes(self, client: APIClient, tenant: Tenant) -> None:
        obj = self.make_object(tenant)
        client.force_login(tenant.user)
        response = client.get(self.url(tenant.team.id))
        assert response.status_code == 200
        assert self.object_id(obj) in self.list_ids(response)


class TeamScopedAPITests(TeamScopedReadAPITests):
    """For resources that can also be created and updated through the API."""

    def create_payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def update_payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def test_create_needs_write_scope(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client(f"{self.scope_object}:read").post(
            self.url(tenant.team.id), self.create_payload(), format="json"
        )
        assert response.status_code == 403
        assert self.detail(response) == f"API key missing required scope '{self.scope_object}:write'"

    def test_create_and_update_with_write_scope(self, key_client: Any, tenant: Tenant) -> None:
        api = key_client(f"{self.scope_object}:write")
        created = api.post(self.url(tenant.team.id), self.create_payload(), format="json")
        assert created.status_code == 201, created.content
        object_id = created.json()["id"]
        updated = api.patch(self.url(tenant.team.id, f"{object_id}/"), self.update_payload(), format="json")
        assert updated.status_code == 200, updated.content
        for field, value in self.update_payload().items():
            assert updated.json()[field] == value

    def test_other_projects_rows_cannot_be_updated(self, key_client: Any, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = self.make_object(other_tenant)
        response = key_client("*").patch(
            self.url(tenant.team.id, f"{self.object_id(theirs)}/"), self.update_payload(), format="json"
        )
        assert response.status_code == 404
