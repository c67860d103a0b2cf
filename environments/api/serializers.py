from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from environments.models import Organization, PersonalAPIKey, Team, User
from environments.scopes import VALID_SCOPES
from posthog_clone.api.fields import ModelSerializer, StrictCharField


class UserBasicSerializer(ModelSerializer):
    """The short user shape PostHog nests in other objects (`created_by`)."""

    class Meta:
        model = User
        fields = [
            "id",
            "uuid",
            "distinct_id",
            "first_name",
            "last_name",
            "email",
            "is_email_verified",
            "hedgehog_config",
            "role_at_organization",
        ]
        read_only_fields = fields


def user_basic_from_row(row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    """`UserBasicSerializer`'s output from a row whose user columns are named `{prefix}{field}` (a `values()` row
    across a foreign key), or None when the row has no user."""
    if row[f"{prefix}id"] is None:
        return None
    user = {field: row[f"{prefix}{field}"] for field in UserBasicSerializer.Meta.fields}
    user["uuid"] = str(user["uuid"])
    return user


class OrganizationBasicSerializer(ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "created_at"]
        read_only_fields = fields


class ProjectBasicSerializer(ModelSerializer):
    """PostHog's backward-compatible project shape, used by `/api/projects/` lists."""

    has_completed_onboarding_for = serializers.SerializerMethodField()
    access_control = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = [
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
        ]
        read_only_fields = [
            "id",
            "uuid",
            "organization",
            "api_token",
            "completed_snippet_onboarding",
            "ingested_event",
            "is_demo",
        ]

    def get_has_completed_onboarding_for(self, team: Team) -> dict[str, bool] | None:
        return None

    def get_access_control(self, team: Team) -> bool:
        return False


# Names in the zone database that are not a place's time: `localtime` is whatever the machine reading it is set to
# (the web host, PostgreSQL's and ClickHouse's servers may each differ), the other two are placeholders.
HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class ProjectSerializer(ProjectBasicSerializer):
    """A project in full; with one environment per project, `project_id` equals `id`."""

    project_id = serializers.IntegerField(source="id", read_only=True)
    timezone = serializers.ChoiceField(choices=sorted(zoneinfo.available_timezones() - HOST_DEPENDENT_ZONES),
                                       default="UTC")  # fmt: skip

    class Meta(ProjectBasicSerializer.Meta):
        fields = [*ProjectBasicSerializer.Meta.fields, "project_id", "created_at", "updated_at"]
        read_only_fields = [*ProjectBasicSerializer.Meta.read_only_fields, "project_id", "created_at", "updated_at"]


class UserMeSerializer(UserBasicSerializer):
    organization = OrganizationBasicSerializer(source="current_organization", read_only=True)
    team = ProjectBasicSerializer(source="current_team", read_only=True)
    organizations = serializers.SerializerMethodField()

    class Meta(UserBasicSerializer.Meta):
        fields = [*UserBasicSerializer.Meta.fields, "date_joined", "is_staff", "organization", "team", "organizations"]
        read_only_fields = fields

    def get_organizations(self, user: User) -> list[dict[str, Any]]:
        memberships = user.organization_memberships.select_related("organization").order_by("joined_at")
        return [
            {"id": str(m.organization_id), "name": m.organization.name, "membership_level": m.level}
            for m in memberships
        ]


class PersonalAPIKeySerializer(ModelSerializer):
    """`value` carries the raw key only in the response that created or rolled it; it is never stored."""

    value = serializers.SerializerMethodField()
    scopes = serializers.ListField(child=StrictCharField(max_length=100), allow_empty=False)
    scoped_teams = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    scoped_organizations = serializers.ListField(child=StrictCharField(), required=False, allow_null=True)

    class Meta:
        model = PersonalAPIKey
        fields = [
            "id",
            "label",
            "value",
            "mask_value",
            "created_at",
            "last_used_at",
            "last_rolled_at",
            "user_id",
            "scopes",
            "scoped_teams",
            "scoped_organizations",
        ]
        read_only_fields = ["id", "value", "mask_value", "created_at", "last_used_at", "last_rolled_at", "user_id"]

    def get_value(self, key: PersonalAPIKey) -> str | None:
        return getattr(key, "raw_value", None)

    def to_representation(self, instance: PersonalAPIKey) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.scopes is None:
            data["scopes"] = ["*"]
        return data

    def validate_scopes(self, scopes: list[str]) -> list[str]:
        for scope in scopes:
            if scope not in VALID_SCOPES:
                raise serializers.ValidationError(f"Invalid scope: {scope}")
        return scopes

    def _validate_memberships(self, ids: list[Any] | None, allowed: set[Any]) -> list[Any] | None:
        if ids and not set(ids) <= allowed:
            raise serializers.ValidationError(
                "You must be a member of all teams/organizations that you are scoping the key to."
            )
        return ids or None

    def validate_scoped_teams(self, team_ids: list[int] | None) -> list[int] | None:
        user = self.context["request"].user
        allowed = set(Team.objects.filter(organization__memberships__user=user).values_list("id", flat=True))
        return self._validate_memberships(team_ids, allowed)

    def validate_scoped_organizations(self, org_ids: list[str] | None) -> list[str] | None:
        user = self.context["request"].user
        allowed = {str(org_id) for org_id in user.organization_memberships.values_list("organization_id", flat=True)}
        return self._validate_memberships(org_ids, allowed)


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = StrictCharField(trim_whitespace=False)


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()
