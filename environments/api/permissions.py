"""What a caller may do: personal API key scopes, key scoping to projects/organizations, project membership."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from environments.models import MembershipLevel, PersonalAPIKey
from environments.scopes import INTERNAL, READ_ACTIONS, WRITE_ACTIONS, key_grants

if TYPE_CHECKING:
    from environments.api.routing import BaseAPIViewSetMixin


def required_scopes(request: Request, view: BaseAPIViewSetMixin) -> list[str] | None:
    """The scopes this request needs, or None when personal API keys may not call it at all.

    An action may declare `required_scopes=[...]` on `@action`; an empty list means any valid key may call it.
    Otherwise the view's `scope_object` decides: write actions need `<obj>:write`, read actions `<obj>:read`,
    and any other action with nothing declared rejects keys.
    """
    declared = getattr(view, "required_scopes", None)
    if declared is not None:
        return list(declared)
    scope_object = getattr(view, "scope_object", None)
    if scope_object is None:
        raise ImproperlyConfigured(f"{type(view).__name__} must declare scope_object")
    if scope_object == INTERNAL:
        return None
    action = getattr(view, "action", None)
    if action in getattr(view, "scope_object_write_actions", WRITE_ACTIONS):
        return [f"{scope_object}:write"]
    if action in getattr(view, "scope_object_read_actions", READ_ACTIONS) or request.method == "OPTIONS":
        return [f"{scope_object}:read"]
    return None


class APIScopePermission(BasePermission):
    """Applies only to requests authenticated with a personal API key; sessions skip it."""

    def has_permission(self, request: Request, view: BaseAPIViewSetMixin) -> bool:
        key = request.auth
        if not isinstance(key, PersonalAPIKey):
            return True
        if key.scopes is None:  # a legacy key from before scopes existed has full access
            return True
        if hasattr(view, "action_map") and view.action is None:
            return True  # the method has no handler here: let the view answer 405
        needed = required_scopes(request, view)
        if needed is None:
            raise exceptions.PermissionDenied("This action does not support personal API key access")
        if not getattr(view, "exempt_from_key_scoping", False):
            self._check_key_scoping(key, view)
        for scope in needed:
            if not key_grants(key.scopes, scope):
                raise exceptions.PermissionDenied(f"API key missing required scope '{scope}'")
        return True

    @staticmethod
    def _check_key_scoping(key: PersonalAPIKey, view: BaseAPIViewSetMixin) -> None:
        has_team = view.has_team()
        if key.scoped_teams:
            if not has_team:
                raise exceptions.PermissionDenied(
                    "API keys with scoped projects are only supported on project-based endpoints."
                )
            if view.team.id not in key.scoped_teams:
                raise exceptions.PermissionDenied(
                    f"API key does not have access to the requested project: ID {view.team.id}."
                )
        if has_team:
            require_key_organization(key, view.team.organization_id)


def require_key_organization(key: object, organization_id: object) -> None:
    """A personal API key scoped to organizations reaches only those (PostHog's 403 and message)."""
    if (
        isinstance(key, PersonalAPIKey)
        and key.scoped_organizations
        and str(organization_id) not in key.scoped_organizations
    ):
        raise exceptions.PermissionDenied(
            f"API key does not have access to the requested organization: ID {organization_id}."
        )


class TeamMemberPermission(BasePermission):
    """On project-based views the caller must belong to the project's organization."""

    message = "You don't have access to the project."

    def has_permission(self, request: Request, view: BaseAPIViewSetMixin) -> bool:
        if not view.has_team():
            return True
        if view.team.caller_level is None:  # annotated when the team is resolved
            raise exceptions.PermissionDenied(self.message)
        return True


class ProjectAdminWritePermission(BasePermission):
    """Writes need an admin or owner of the project's organization; reads, any member (PostHog's, for resources
    holding secrets such as LLM provider keys)."""

    message = "Your organization access level is insufficient."

    def has_permission(self, request: Request, view: BaseAPIViewSetMixin) -> bool:
        if request.method in SAFE_METHODS or not view.has_team():
            return True
        return (view.team.caller_level or 0) >= MembershipLevel.ADMIN
