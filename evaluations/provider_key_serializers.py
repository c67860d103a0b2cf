"""The shapes of `llm_analytics/provider_keys/` and `llm_analytics/provider_key_validations/`: what a key's input may
be (checked here, before any call to the provider) and what is shown of a key (never its secret)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from environments.api.serializers import UserBasicSerializer
from evaluations.models import LLMProviderKey, ProviderKeyProvider, ProviderKeyState
from posthog_clone.api.fields import ModelSerializer, StrictBooleanField, StrictCharField, StrictUUIDField

PROVIDERS = ", ".join(ProviderKeyProvider.values)
INVALID_PROVIDER = f"Invalid provider. Must be one of: {PROVIDERS}."
API_KEY_REQUIRED = "API key is required."
OPENAI_KEY_PREFIXES = ("sk-", "sk-proj-")
MAX_API_KEY_LENGTH = 1000
MAX_BASE_URL_LENGTH = 2000
# A key is printable ASCII without spaces: it travels in an `Authorization` header.
API_KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")
URL_FORBIDDEN_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")


def provider_field(**kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=ProviderKeyProvider.choices, error_messages={"invalid_choice": INVALID_PROVIDER}, **kwargs
    )


def api_key_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(write_only=True, max_length=MAX_API_KEY_LENGTH, **kwargs)


def base_url_field() -> StrictCharField:
    return StrictCharField(
        write_only=True,
        required=False,
        max_length=MAX_BASE_URL_LENGTH,
        help_text="The server's OpenAI API base URL, e.g. `http://127.0.0.1:11434/v1` (only for `openai_compatible`).",
    )


def base_url_problem(value: str) -> str | None:
    """Why `value` cannot be an OpenAI-compatible server's base URL, or None."""
    if URL_FORBIDDEN_CHARACTERS.search(value):
        return "Enter a valid URL: it may not contain spaces or control characters."
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Enter an http:// or https:// URL."
    if not parts.hostname:
        return "Enter a valid URL: it has no host."
    if parts.username is not None or parts.password is not None:
        return "The URL may not contain credentials: send the key as api_key."
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        return "The base URL may not have a query string or a fragment."
    if not host_allowed(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)):
        return "This server does not allow OpenAI-compatible providers at this host (LLMA_PROVIDER_ALLOWED_HOSTS)."
    return None


def host_allowed(hostname: str, port: int) -> bool:
    allowed = settings.LLMA_PROVIDER_ALLOWED_HOSTS
    return not allowed or hostname.lower() in allowed or f"{hostname.lower()}:{port}" in allowed


def check_key_input(attrs: dict[str, Any], instance: LLMProviderKey | None) -> dict[str, Any]:
    """The input of a create, an update or a check, against its (effective) provider. Raises 400 per field."""
    provider = attrs.get("provider", getattr(instance, "provider", ProviderKeyProvider.OPENAI))
    api_key = attrs.get("api_key")
    errors: dict[str, str] = {}
    if api_key is not None and not API_KEY_CHARACTERS.fullmatch(api_key):
        errors["api_key"] = "The API key may only contain printable characters, without spaces."
    changing_provider = instance is not None and "provider" in attrs and provider != instance.provider
    if changing_provider and api_key is None:
        errors["api_key"] = "Send api_key when changing the provider: a key belongs to one provider."
    if provider == ProviderKeyProvider.OPENAI:
        if instance is None and api_key is None:
            errors["api_key"] = API_KEY_REQUIRED
        elif api_key is not None and "api_key" not in errors and not api_key.startswith(OPENAI_KEY_PREFIXES):
            errors["api_key"] = "Invalid OpenAI API key format: it should start with 'sk-' or 'sk-proj-'."
        if "base_url" in attrs:
            errors["base_url"] = "base_url is only for the openai_compatible provider (OpenAI's is fixed)."
    else:
        base_url = attrs.get("base_url")
        if base_url is None and (instance is None or changing_provider or not instance.base_url):
            errors["base_url"] = "base_url is required for the openai_compatible provider."
        elif base_url is not None and (problem := base_url_problem(base_url)):
            errors["base_url"] = problem
    if errors:
        raise serializers.ValidationError(errors)
    return attrs


class ProviderKeySerializer(ModelSerializer):
    provider = provider_field()
    name = StrictCharField(max_length=255)
    api_key = api_key_field(required=False, help_text="The provider's API key; required on create for `openai`.")
    base_url = base_url_field()
    error_message = serializers.SerializerMethodField()
    api_key_masked = serializers.SerializerMethodField()
    base_url_display = serializers.SerializerMethodField()
    azure_endpoint_display = serializers.SerializerMethodField()
    api_version_display = serializers.SerializerMethodField()
    created_by = UserBasicSerializer(read_only=True)

    class Meta:
        model = LLMProviderKey
        fields = [
            "id",
            "provider",
            "name",
            "state",
            "error_message",
            "api_key",
            "api_key_masked",
            "base_url",
            "base_url_display",
            "azure_endpoint_display",
            "api_version_display",
            "created_at",
            "created_by",
            "last_used_at",
        ]
        read_only_fields = ["id", "state", "error_message", "api_key_masked", "created_at", "created_by",
                            "last_used_at"]  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return check_key_input(attrs, self.instance)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error_message(self, key: LLMProviderKey) -> str | None:
        return key.error_message or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_api_key_masked(self, key: LLMProviderKey) -> str | None:
        """`abcd...wxyz`, `****` for a short key, null for none (an OpenAI-compatible server needing none)."""
        return key.api_key_masked or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_base_url_display(self, key: LLMProviderKey) -> str | None:
        return key.base_url or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_azure_endpoint_display(self, key: LLMProviderKey) -> str | None:
        return None  # no Azure provider here

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_api_version_display(self, key: LLMProviderKey) -> str | None:
        return None


class ProviderKeyValidationSerializer(serializers.Serializer):
    """A key to check without storing it."""

    api_key = api_key_field(required=False)
    provider = provider_field(default=ProviderKeyProvider.OPENAI)
    base_url = base_url_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return check_key_input(attrs, None)


class ProviderKeyValidationResultSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=[ProviderKeyState.OK, ProviderKeyState.INVALID, ProviderKeyState.ERROR])
    error_message = StrictCharField(allow_null=True)
    error_field = StrictCharField(allow_null=True)


EVALUATION_IDS_REQUIRED = "evaluation_ids is required"


class ProviderKeyAssignSerializer(serializers.Serializer):
    evaluation_ids = serializers.ListField(
        child=StrictUUIDField(),
        allow_empty=False,
        max_length=1000,
        error_messages=dict.fromkeys(("required", "null", "empty"), EVALUATION_IDS_REQUIRED),
        help_text="The LLM judge evaluations to judge with this key.",
    )
    enable = StrictBooleanField(
        default=False, help_text="Turn the evaluations stopped on an error back on (else they move to paused)."
    )


class ProviderKeyAssignResultSerializer(serializers.Serializer):
    configs_updated = serializers.IntegerField()
    evals_enabled = serializers.IntegerField()


class DependentEvaluationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    model_configuration_id = serializers.UUIDField(help_text="The evaluation's own: it holds its configuration.")


class AlternativeKeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    provider = provider_field()


class DependentConfigsSerializer(serializers.Serializer):
    evaluations = DependentEvaluationSerializer(many=True)
    alternative_keys = AlternativeKeySerializer(many=True)
