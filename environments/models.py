"""Tenancy: organizations own projects; users join organizations; personal API keys act for users."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from posthog_clone.ids import random_token, uuid7

PERSONAL_API_KEY_PREFIX = "phx_"
PROJECT_API_TOKEN_PREFIX = "phc_"


def generate_project_api_token() -> str:
    return PROJECT_API_TOKEN_PREFIX + random_token(32)


def generate_user_distinct_id() -> str:
    return random_token(32)


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A project and its one environment: the integer id serves `/api/projects/:id/` and `/api/environments/:id/`."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    uuid = models.UUIDField(unique=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200, default="Default project")
    api_token = models.CharField(max_length=200, unique=True, default=generate_project_api_token)
    timezone = models.CharField(max_length=240, default="UTC")
    ingested_event = models.BooleanField(default=False)
    completed_snippet_onboarding = models.BooleanField(default=False)
    is_demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class MembershipLevel(models.IntegerChoices):
    MEMBER = 1, "member"
    ADMIN = 8, "administrator"
    OWNER = 15, "owner"


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    class Role(models.TextChoices):
        ENGINEERING = "engineering", "Engineering"
        DATA = "data", "Data"
        PRODUCT = "product", "Product Management"
        FOUNDER = "founder", "Founder"
        LEADERSHIP = "leadership", "Leadership"
        MARKETING = "marketing", "Marketing"
        SALES = "sales", "Sales / Success"
        OTHER = "other", "Other"

    uuid = models.UUIDField(unique=True, default=uuid7, editable=False)
    email = models.EmailField(unique=True)
    distinct_id = models.CharField(max_length=200, unique=True, default=generate_user_distinct_id)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    is_email_verified = models.BooleanField(null=True, blank=True)
    hedgehog_config = models.JSONField(null=True, blank=True)
    # PostHog answers null until the user picks a role.
    role_at_organization = models.CharField(max_length=64, choices=Role.choices, null=True, blank=True)  # noqa: DJ001
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    current_organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    current_team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class OrganizationMembership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="organization_memberships")
    level = models.PositiveSmallIntegerField(choices=MembershipLevel.choices, default=MembershipLevel.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_organization_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id} ({self.level})"


def hash_personal_api_key(value: str) -> str:
    """How keys are stored: never the value itself, only `sha256$<hex>` of it."""
    return "sha256$" + hashlib.sha256(value.encode()).hexdigest()


def mask_personal_api_key(value: str) -> str:
    return f"{value[:4]}...{value[-4:]}"


def generate_personal_api_key_value() -> str:
    return PERSONAL_API_KEY_PREFIX + random_token(35)


class PersonalAPIKey(models.Model):
    id = models.CharField(primary_key=True, max_length=50, default=random_token, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="personal_api_keys")
    label = models.CharField(max_length=40)
    secure_value = models.CharField(max_length=300, unique=True, editable=False)
    mask_value = models.CharField(max_length=11, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_rolled_at = models.DateTimeField(null=True, blank=True)
    # null scopes is a legacy full-access key; new keys always carry a list.
    scopes = ArrayField(models.CharField(max_length=100), null=True)
    scoped_teams = ArrayField(models.IntegerField(), null=True)
    scoped_organizations = ArrayField(models.CharField(max_length=100), null=True)

    def __str__(self) -> str:
        return f"{self.label} ({self.mask_value})"

    def set_value(self, value: str) -> None:
        self.secure_value = hash_personal_api_key(value)
        self.mask_value = mask_personal_api_key(value)
