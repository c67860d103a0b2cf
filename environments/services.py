"""Writes to tenancy: organizations, projects, users, memberships and personal API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from environments.models import (
    MembershipLevel,
    Organization,
    OrganizationMembership,
    PersonalAPIKey,
    Team,
    User,
    generate_personal_api_key_value,
)
from posthog_clone.errors import DomainError

MAX_PERSONAL_API_KEYS_PER_USER = 10


@transaction.atomic
def organization_create(*, name: str, owner: User) -> Organization:
    organization = Organization.objects.create(name=name)
    OrganizationMembership.objects.create(organization=organization, user=owner, level=MembershipLevel.OWNER)
    if owner.current_organization_id is None:
        owner.current_organization = organization
        owner.save(update_fields=["current_organization"])
    return organization


@transaction.atomic
def project_create(
    *, organization: Organization, name: str, timezone_name: str = "UTC", creator: User, enforce_limit: bool = False
) -> Team:
    """A project (and its one environment). Through the API an organization holds at most
    MAX_PROJECTS_PER_ORGANIZATION; operators (`bootstrap`) may go past it."""
    if enforce_limit:
        # Locked, so two creations at once cannot both pass the check.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        if Team.objects.filter(organization=organization).count() >= settings.MAX_PROJECTS_PER_ORGANIZATION:
            raise DomainError(
                f"An organization may have at most {settings.MAX_PROJECTS_PER_ORGANIZATION} projects.",
                code="project_limit_reached",
            )
    team = Team.objects.create(organization=organization, name=name, timezone=timezone_name)
    if creator.current_team_id is None:
        creator.current_team = team
        creator.current_organization = organization
        creator.save(update_fields=["current_team", "current_organization"])
    return team


@transaction.atomic
def personal_api_key_create(
    *,
    user: User,
    label: str,
    scopes: list[str],
    scoped_teams: list[int] | None = None,
    scoped_organizations: list[str] | None = None,
    enforce_limit: bool = True,
) -> tuple[PersonalAPIKey, str]:
    """Mint a key; the raw value is returned once and only its hash is stored."""
    # Lock the user row so two concurrent creations cannot both pass the limit check.
    User.objects.select_for_update().filter(pk=user.pk).first()
    at_limit = PersonalAPIKey.objects.filter(user=user).count() >= MAX_PERSONAL_API_KEYS_PER_USER
    if enforce_limit and at_limit:
        raise DomainError(
            f"You can only have {MAX_PERSONAL_API_KEYS_PER_USER} personal API keys. "
            "Remove an existing key before creating a new one.",
            code="invalid_input",
        )
    value = generate_personal_api_key_value()
    key = PersonalAPIKey(
        user=user,
        label=label,
        scopes=scopes,
        scoped_teams=scoped_teams or None,
        scoped_organizations=scoped_organizations or None,
    )
    key.set_value(value)
    key.save()
    return key, value


def personal_api_key_roll(*, key: PersonalAPIKey) -> str:
    """Replace a key's value; the old value stops working at once."""
    value = generate_personal_api_key_value()
    key.set_value(value)
    key.last_rolled_at = timezone.now()
    key.save(update_fields=["secure_value", "mask_value", "last_rolled_at"])
    return value


@dataclass(frozen=True)
class BootstrapResult:
    user: User
    organization: Organization
    team: Team
    personal_api_key: str


@transaction.atomic
def bootstrap(
    *, email: str, password: str, organization_name: str, project_name: str, scopes: list[str]
) -> BootstrapResult:
    """Create (or reuse) a user, organization and project by name, and mint a fresh personal API key."""
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])

    membership = (
        OrganizationMembership.objects.select_related("organization")
        .filter(user=user, organization__name=organization_name)
        .order_by("joined_at")
        .first()
    )
    organization = membership.organization if membership else organization_create(name=organization_name, owner=user)
    team = Team.objects.filter(organization=organization, name=project_name).order_by("id").first()
    if team is None:
        team = project_create(organization=organization, name=project_name, creator=user)
    user.current_organization = organization
    user.current_team = team
    user.save(update_fields=["current_organization", "current_team"])
    # The per-user key limit guards the API; an operator's command may mint past it.
    _, value = personal_api_key_create(
        user=user, label=f"bootstrap {timezone.now():%Y-%m-%d %H:%M}", scopes=scopes, enforce_limit=False
    )
    return BootstrapResult(user=user, organization=organization, team=team, personal_api_key=value)
