"""The auth matrix: where keys are read from, what invalidates them, scopes, key scoping and membership."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from environments.models import MembershipLevel, PersonalAPIKey, hash_personal_api_key
from tests.support.tenants import Tenant, make_tenant


def detail(response: Any) -> str:
    return response.json()["detail"]


class TestWhereKeysAreRead:
    def test_bearer_header(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer   {make_key('project:read')}  ")
        assert client.get("/api/projects/").status_code == 200

    def test_query_string(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        response = client.get("/api/projects/", {"personal_api_key": make_key("project:read")})
        assert response.status_code == 200
        assert [p["id"] for p in response.json()["results"]] == [tenant.team.id]

    def test_body_field(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        response = client.post(
            "/api/projects/", {"personal_api_key": make_key("project:write"), "name": "From body"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["name"] == "From body"

    @pytest.mark.parametrize(
        ("how", "source"),
        [("header", "Authorization header"), ("body", "body"), ("query", "query string")],
    )
    def test_invalid_key_names_its_source(self, client: APIClient, tenant: Tenant, how: str, source: str) -> None:
        bad = "phx_definitely_not_valid"
        if how == "header":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {bad}")
            response = client.get("/api/projects/")
        elif how == "body":
            response = client.post("/api/projects/", {"personal_api_key": bad, "name": "x"}, format="json")
        else:
            response = client.get("/api/projects/", {"personal_api_key": bad})
        assert response.status_code == 401
        assert response.json() == {
            "type": "authentication_error",
            "code": "authentication_failed",
            "detail": f"Personal API key found in request {source} is invalid.",
            "attr": None,
        }
        assert response["WWW-Authenticate"] == "Bearer"

    def test_header_wins_over_a_valid_query_key(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        client.credentials(HTTP_AUTHORIZATION="Bearer phx_wrong")
        response = client.get("/api/projects/", {"personal_api_key": make_key("*")})
        assert response.status_code == 401

    def test_inactive_users_key_is_invalid(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        value = make_key("*")
        tenant.user.is_active = False
        tenant.user.save()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
        response = client.get("/api/projects/")
        assert response.status_code == 401
        assert detail(response) == "Personal API key found in request Authorization header is invalid."

    @pytest.mark.parametrize("scheme", ["", "Token ", "Basic "])
    def test_key_without_bearer_is_401_saying_how_to_send_it(
        self, client: APIClient, tenant: Tenant, make_key: Any, scheme: str
    ) -> None:
        value = make_key("*")
        client.credentials(HTTP_AUTHORIZATION=f"{scheme}{value}")
        response = client.get("/api/projects/")
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
        assert detail(response) == (
            "The Authorization header holds a personal API key without the Bearer scheme: "
            "send `Authorization: Bearer phx_…`."
        )
        assert value not in response.content.decode()

    def test_no_credentials_is_401_not_403(self, client: APIClient, tenant: Tenant) -> None:
        for path in ("/api/projects/", f"/api/projects/{tenant.team.id}/", "/api/users/@me/", "/api/environments/"):
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json()["code"] == "not_authenticated"


class TestKeyStorage:
    def test_only_a_hash_is_stored(self, client: APIClient, tenant: Tenant) -> None:
        client.force_login(tenant.user)
        response = client.post("/api/personal_api_keys/", {"label": "ci", "scopes": ["*"]}, format="json")
        assert response.status_code == 201
        value = response.json()["value"]
        assert value.startswith("phx_") and len(value) > 40
        row = PersonalAPIKey.objects.get(pk=response.json()["id"])
        stored = [str(v) for v in row.__dict__.values()]
        assert all(value not in field for field in stored)
        assert row.secure_value == hash_personal_api_key(value)
        assert row.secure_value.startswith("sha256$")
        assert row.mask_value == f"{value[:4]}...{value[-4:]}"

    def test_last_used_at_is_written_at_most_hourly(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        value = make_key("*")
        key = PersonalAPIKey.objects.get(secure_value=hash_personal_api_key(value))
        assert key.last_used_at is None
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
        client.get("/api/projects/")
        first = PersonalAPIKey.objects.get(pk=key.pk).last_used_at
        assert first is not None
        client.get("/api/projects/")
        assert PersonalAPIKey.objects.get(pk=key.pk).last_used_at == first
        PersonalAPIKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(hours=2))
        client.get("/api/projects/")
        assert PersonalAPIKey.objects.get(pk=key.pk).last_used_at > first


class TestScopes:
    def test_missing_scope(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client("query:read").get("/api/projects/")
        assert response.status_code == 403
        assert response.json() == {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "API key missing required scope 'project:read'",
            "attr": None,
        }

    def test_read_scope_cannot_write(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client("project:read").post("/api/projects/", {"name": "New"}, format="json")
        assert response.status_code == 403
        assert detail(response) == "API key missing required scope 'project:write'"

    def test_write_implies_read(self, key_client: Any, tenant: Tenant) -> None:
        assert key_client("project:write").get(f"/api/projects/{tenant.team.id}/").status_code == 200

    def test_star_allows_everything(self, key_client: Any, tenant: Tenant) -> None:
        api = key_client("*")
        assert api.get("/api/projects/").status_code == 200
        assert api.post("/api/projects/", {"name": "Made with star"}, format="json").status_code == 201

    def test_empty_scope_list_allows_nothing(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key()}")
        assert client.get("/api/projects/").status_code == 403

    def test_legacy_key_without_scopes_has_full_access(self, client: APIClient, tenant: Tenant, make_key: Any) -> None:
        value = make_key("*")
        PersonalAPIKey.objects.filter(secure_value=hash_personal_api_key(value)).update(scopes=None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
        assert client.get("/api/projects/").status_code == 200

    def test_action_without_scope_rejects_keys(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client("*").get("/api/personal_api_keys/")
        assert response.status_code == 403
        assert detail(response) == "This action does not support personal API key access"


class TestKeyScoping:
    @pytest.fixture
    def second_team(self, tenant: Tenant) -> Any:
        """A second project in the same organization."""
        from environments.services import project_create

        return project_create(organization=tenant.organization, name="Second", creator=tenant.user)

    def test_scoped_teams_allows_only_those_projects(self, key_client: Any, tenant: Tenant, second_team: Any) -> None:
        api = key_client("*", scoped_teams=[tenant.team.id])
        assert api.get(f"/api/projects/{tenant.team.id}/").status_code == 200
        response = api.get(f"/api/environments/{second_team.id}/")
        assert response.status_code == 403
        assert detail(response) == f"API key does not have access to the requested project: ID {second_team.id}."

    def test_scoped_teams_rejects_root_lists(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client("*", scoped_teams=[tenant.team.id]).get("/api/projects/")
        assert response.status_code == 403
        assert detail(response) == "API keys with scoped projects are only supported on project-based endpoints."

    def test_users_me_ignores_key_scoping(self, key_client: Any, tenant: Tenant) -> None:
        response = key_client("user:read", scoped_teams=[tenant.team.id]).get("/api/users/@me/")
        assert response.status_code == 200
        assert response.json()["email"] == tenant.user.email

    def test_scoped_organizations(self, key_client: Any, tenant: Tenant, member_of: Any) -> None:
        elsewhere = make_tenant("boss@example.com", organization_name="Elsewhere", project_name="Theirs")
        member_of(tenant.user, elsewhere.organization)
        api = key_client("*", scoped_organizations=[str(tenant.organization.id)])
        listed = api.get("/api/projects/")
        assert [p["id"] for p in listed.json()["results"]] == [tenant.team.id]
        response = api.get(f"/api/projects/{elsewhere.team.id}/")
        assert response.status_code == 403
        assert detail(response) == (
            f"API key does not have access to the requested organization: ID {elsewhere.organization.id}."
        )


class TestProjectAccess:
    def test_project_in_another_organization_is_403(
        self, key_client: Any, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        response = key_client("*").get(f"/api/projects/{other_tenant.team.id}/")
        assert response.status_code == 403
        assert response.json() == {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "You don't have access to the project.",
            "attr": None,
        }

    @pytest.mark.parametrize("project_id", ["424242", "not-a-number", "-1", "١٢"])
    def test_unknown_project_is_404(self, key_client: Any, tenant: Tenant, project_id: str) -> None:
        for prefix in ("projects", "environments"):
            response = key_client("*").get(f"/api/{prefix}/{project_id}/")
            assert response.status_code == 404
            assert detail(response) == "Project not found."

    @pytest.mark.parametrize("prefix", ["projects", "environments"])
    @pytest.mark.parametrize("slash", ["/", ""])
    def test_current_alias_and_optional_slash(self, key_client: Any, tenant: Tenant, prefix: str, slash: str) -> None:
        api = key_client("project:read")
        current = api.get(f"/api/{prefix}/@current{slash}")
        assert current.status_code == 200
        assert current.json()["id"] == tenant.team.id
        assert current.json()["api_token"] == tenant.team.api_token
        listed = api.get(f"/api/{prefix}{slash}")
        assert listed.status_code == 200
        assert listed.json()["count"] == 1

    def test_only_members_projects_are_listed(self, key_client: Any, tenant: Tenant, other_tenant: Tenant) -> None:
        results = key_client("project:read").get("/api/projects/").json()["results"]
        assert [p["id"] for p in results] == [tenant.team.id]
        assert set(results[0]) == {
            "id",
            "uuid",
            "organization",
            "api_token",
            "name",
            "completed_snippet_onboarding",
            "has_completed_onboarding_for",
            "ingested_event",
            "is_demo",
            "timezone",
            "access_control",
        }

    def test_members_cannot_create_projects(self, client: APIClient, tenant: Tenant, member_of: Any) -> None:
        from environments.models import User

        member = User.objects.create_user(email="member@example.com", password="pw-member-1")
        member_of(member, tenant.organization, MembershipLevel.MEMBER)
        member.current_organization = tenant.organization
        member.save()
        client.force_login(member)
        response = client.post("/api/projects/", {"name": "Nope"}, format="json")
        assert response.status_code == 403
        assert detail(response) == "Your organization access level is insufficient."

    def test_create_project_and_pagination(self, client: APIClient, tenant: Tenant) -> None:
        client.force_login(tenant.user)
        for index in range(3):
            created = client.post("/api/projects/", {"name": f"P{index}", "timezone": "Europe/Paris"}, format="json")
            assert created.status_code == 201
            assert created.json()["timezone"] == "Europe/Paris"
            assert created.json()["api_token"].startswith("phc_")
        page = client.get("/api/projects/", {"limit": 2, "offset": 1}).json()
        assert page["count"] == 4
        assert len(page["results"]) == 2
        assert page["next"].endswith("limit=2&offset=3")
        assert page["previous"].endswith("/api/projects/?limit=2")

    @pytest.mark.parametrize("zone", ["Mars/Olympus", "localtime", "posixrules", "Factory"])
    def test_invalid_timezone_is_400(self, client: APIClient, tenant: Tenant, zone: str) -> None:
        client.force_login(tenant.user)
        response = client.post("/api/projects/", {"name": "Tz", "timezone": zone}, format="json")
        assert response.status_code == 400
        assert response.json()["attr"] == "timezone"


class TestSessions:
    def test_login_me_logout(self, client: APIClient, tenant: Tenant) -> None:
        from tests.support.tenants import PASSWORD

        assert client.get("/api/users/@me/").status_code == 401
        response = client.post("/api/login", {"email": tenant.user.email, "password": PASSWORD}, format="json")
        assert response.status_code == 200
        assert response.json() == {"success": True}
        me = client.get("/api/users/@me/").json()
        assert me["email"] == tenant.user.email
        assert me["team"]["id"] == tenant.team.id
        assert me["organization"]["id"] == str(tenant.organization.id)
        assert me["organizations"][0]["membership_level"] == MembershipLevel.OWNER
        assert client.post("/api/logout/").json() == {"success": True}
        assert client.get("/api/users/@me/").status_code == 401

    def test_bad_credentials(self, client: APIClient, tenant: Tenant) -> None:
        response = client.post("/api/login/", {"email": tenant.user.email, "password": "wrong"}, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "code": "invalid_credentials",
            "detail": "Invalid email or password.",
            "attr": None,
        }

    def test_users_other_than_me_are_404(self, client: APIClient, tenant: Tenant) -> None:
        client.force_login(tenant.user)
        assert client.get(f"/api/users/{tenant.user.id}/").status_code == 404


class TestStatementsPerRequest:
    """The fixed cost of an authenticated request: a key-authenticated request on a project-scoped URL reads the key,
    its user, the project and the caller's membership in one statement, and an empty list then only counts."""

    def _statements(self, client: APIClient, url: str) -> list[str]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, response.content
        return [query["sql"] for query in captured.captured_queries]

    @pytest.mark.parametrize("project", ["id", "@current"])
    def test_an_empty_list_costs_two_statements(self, client: APIClient, tenant: Tenant, make_key: Any,
                                                 project: str) -> None:  # fmt: skip
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key('evaluation:read')}")
        client.get("/api/projects/")  # the key's first use records its last use: not part of the fixed cost
        project_id = tenant.team.id if project == "id" else "@current"
        statements = self._statements(client, f"/api/environments/{project_id}/evaluations/")
        assert len(statements) == 2, statements
        assert "environments_personalapikey" in statements[0] and "environments_team" in statements[0]
        assert statements[1].startswith("SELECT count(*)")

    def test_a_session_reads_the_project_itself(self, client: APIClient, tenant: Tenant) -> None:
        client.force_login(tenant.user)
        statements = self._statements(client, f"/api/environments/{tenant.team.id}/evaluations/")
        assert any("environments_team" in sql and "environments_personalapikey" not in sql for sql in statements)
