"""The base every API viewset builds on: it owns authentication, permissions and project (team) scoping.

Resources subclass `TeamScopedViewSetMixin` and only narrow an already team-filtered queryset in
`safely_get_queryset`. Overriding the methods that enforce tenancy (`get_queryset`, `get_object`, permissions,
authenticators) raises at class creation, so tenant isolation cannot be forgotten; the few viewsets that are not
project-scoped (projects, keys, the user) say what they read under an explicit `dangerously_get_queryset` /
`dangerously_get_object`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from rest_framework import exceptions
from rest_framework.permissions import BasePermission, IsAuthenticated

from environments.api.authentication import PersonalAPIKeyAuthentication, SessionAuthentication
from environments.api.permissions import APIScopePermission, TeamMemberPermission
from environments.api.projects import (
    CURRENT_PROJECT,
    PROJECT_LOOKUP,
    ResolvedProject,
    numeric_project_id,
    project_from_row,
)
from environments.models import Team, User
from posthog_clone.db import fetch_one


class BaseAPIViewSetMixin:
    """Authentication, permissions and project resolution shared by every API viewset."""

    scope_object: ClassVar[str]
    # The URL kwarg naming the project this view is scoped to; None for views that are not project-based.
    team_url_kwarg: ClassVar[str | None] = None
    # Views describing the caller itself (`/users/@me/`) ignore a key's project/organization scoping.
    exempt_from_key_scoping: ClassVar[bool] = False
    extra_permission_classes: ClassVar[list[type[BasePermission]]] = []
    # Set per action through `@action(required_scopes=[...])`; see `permissions.required_scopes`.
    required_scopes: ClassVar[list[str] | None] = None
    sealed_methods: ClassVar[tuple[str, ...]] = ("get_permissions", "get_authenticators", "get_queryset", "get_object")

    authentication_classes = [PersonalAPIKeyAuthentication, SessionAuthentication]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for ancestor in cls.__mro__[1:]:
            for name in ancestor.__dict__.get("sealed_methods", ()):
                if name in cls.__dict__:
                    raise TypeError(
                        f"{cls.__name__} must not override {name}: {ancestor.__name__} enforces tenancy with it"
                    )

    def get_authenticators(self) -> list[Any]:
        return [PersonalAPIKeyAuthentication(), SessionAuthentication()]

    def get_permissions(self) -> list[BasePermission]:
        classes = [IsAuthenticated, APIScopePermission, TeamMemberPermission, *self.extra_permission_classes]
        return [permission() for permission in classes]

    def has_team(self) -> bool:
        return self.team_url_kwarg is not None and self.team_url_kwarg in getattr(self, "kwargs", {})

    @cached_property
    def team(self) -> Team:
        raw = self.kwargs[self.team_url_kwarg]
        resolved: ResolvedProject | None = getattr(self.request, "resolved_project", None)
        # Key authentication read the project with the key; sessions read it here.
        team = resolved.team if resolved is not None and resolved.raw == raw else self._read_team(raw)
        if team is None:
            raise exceptions.NotFound("Project not found.")
        return team

    def _read_team(self, raw: str) -> Team | None:
        if raw == CURRENT_PROJECT:
            user = self.request.user
            if not user.is_authenticated:
                raise exceptions.NotAuthenticated()
            team_id = user.current_team_id
        else:
            team_id = numeric_project_id(raw)
        row = fetch_one(PROJECT_LOOKUP, [self.request.user.pk, team_id]) if team_id else None
        return None if row is None else project_from_row(row, 0)

    @property
    def user(self) -> User:
        return self.request.user

    # --- what a view reads ----------------------------------------------------------------------------------
    def get_queryset(self) -> QuerySet[Any]:
        if self.is_schema_generation():
            return self.queryset.none()
        return self.dangerously_get_queryset()

    def dangerously_get_queryset(self) -> QuerySet[Any]:
        """What a viewset that is not project-scoped reads: it must scope the rows to the caller itself."""
        raise ImproperlyConfigured(f"{type(self).__name__} must define dangerously_get_queryset")

    def get_object(self) -> Any:
        if type(self).dangerously_get_object is not BaseAPIViewSetMixin.dangerously_get_object:
            return self.dangerously_get_object()
        return super().get_object()  # DRF's, over get_queryset

    def dangerously_get_object(self) -> Any:
        """An object looked up otherwise than through get_queryset (only for viewsets that are not project-scoped)."""
        raise NotImplementedError

    def is_schema_generation(self) -> bool:
        return bool(getattr(self, "swagger_fake_view", False))


class TeamScopedViewSetMixin(BaseAPIViewSetMixin):
    """A resource that belongs to one project, mounted under `/api/environments/:project_id/` and
    `/api/projects/:project_id/`. Declare `queryset`; narrow it in `safely_get_queryset`."""

    team_url_kwarg = "project_id"
    # The model field pointing at the project; `team` for every resource so far.
    team_field: ClassVar[str] = "team"
    sealed_methods = ("dangerously_get_queryset", "dangerously_get_object")
    queryset: QuerySet[Any]

    def dangerously_get_queryset(self) -> QuerySet[Any]:
        # Not dangerous here: the rows are this project's, whatever a resource narrows them to.
        return self.safely_get_queryset(self.queryset.filter(**{f"{self.team_field}_id": self.team.id}))

    def safely_get_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not self.is_schema_generation() and self.has_team():
            context["team"] = self.team
        return context

    def perform_create(self, serializer: Any) -> Model:
        return serializer.save(team=self.team)
