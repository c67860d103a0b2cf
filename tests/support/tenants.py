"""Tenants built through the real services: a user owning an organization with one project."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from environments import services
from environments.models import Organization, Team, User

PASSWORD = "correct-horse-battery"


@dataclass
class Tenant:
    """A user who owns an organization with one project."""

    user: User
    organization: Organization
    team: Team


def make_tenant(email: str, *, organization_name: str = "Org", project_name: str = "Project") -> Tenant:
    user = User.objects.create_user(email=email, password=PASSWORD, first_name=email.split("@")[0])
    organization = services.organization_create(name=organization_name, owner=user)
    team = services.project_create(organization=organization, name=project_name, creator=user)
    return Tenant(user=user, organization=organization, team=team)


KeyFactory = Callable[..., str]
