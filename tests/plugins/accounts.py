"""Fixtures for callers: tenants, other tenants, API clients and keys (and settings every test wants)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from environments import services
from environments.models import MembershipLevel, Organization, OrganizationMembership, User
from tests.support.tenants import KeyFactory, Tenant, make_tenant


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: object) -> None:
    """Tests create many users; production-strength hashing would dominate the suite's run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Tests send bursts a real client would not; the rate-limit tests turn limits back on."""
    settings.RATE_LIMIT_ENABLED = False


@pytest.fixture
def tenant(db: None) -> Tenant:
    return make_tenant("owner@example.com", organization_name="Acme", project_name="Web")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    """Another organization, which `tenant`'s user does not belong to."""
    return make_tenant("stranger@example.com", organization_name="Other Inc", project_name="Elsewhere")


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_key(tenant: Tenant) -> KeyFactory:
    """Mint a personal API key for `tenant.user` (or another user) and return its raw value."""

    def factory(
        *scopes: str,
        user: User | None = None,
        scoped_teams: list[int] | None = None,
        scoped_organizations: list[str] | None = None,
    ) -> str:
        _, value = services.personal_api_key_create(
            user=user or tenant.user,
            label="test",
            scopes=list(scopes),
            scoped_teams=scoped_teams,
            scoped_organizations=scoped_organizations,
            enforce_limit=False,
        )
        return value

    return factory


@pytest.fixture
def key_client(make_key: KeyFactory) -> Callable[..., APIClient]:
    """An APIClient that sends `Authorization: Bearer <new key with these scopes>`."""

    def factory(*scopes: str, **kwargs: object) -> APIClient:
        api_client = APIClient()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(*scopes, **kwargs)}")
        return api_client

    return factory


@pytest.fixture
def member_of(db: None) -> Callable[[User, Organization, int], OrganizationMembership]:
    def factory(user: User, organization: Organization, level: int = MembershipLevel.MEMBER) -> OrganizationMembership:
        return OrganizationMembership.objects.create(user=user, organization=organization, level=level)

    return factory
