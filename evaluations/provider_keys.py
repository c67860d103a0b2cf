"""Writes for LLM provider keys: a key is checked live against its provider (`models.list()`) and only stored when
it works; the secret is stored encrypted, and only its mask is kept in the clear."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from environments.models import Team, User
from evaluations.models import LLMProviderKey, ProviderKeyProvider, ProviderKeyState
from evaluations.status import provider_key_dependants_error, provider_key_dependants_move
from posthog_clone import encryption, llm
from posthog_clone.errors import DomainError

INVALID_API_KEY = "Invalid API key"
VALIDATION_FAILED = "Validation failed, please try again"
NO_API_KEY = "No API key configured for this provider key."
UNDECRYPTABLE = "The stored API key cannot be decrypted: the server's encryption keys changed."
# Error codes of a refused create or update (400, `attr` naming the field to fix).
CODE_INVALID_KEY = "invalid_api_key"  # the provider refused the key (401/403)
CODE_UNREACHABLE = "provider_unreachable"  # no answer: connection refused, DNS, timeout
CODE_RATE_LIMITED = "provider_rate_limited"
CODE_FAILED = "provider_key_validation_failed"  # anything else the provider answered


@dataclass(frozen=True)
class KeyCheck:
    """What checking a key found: `state` ok, invalid or error; `error_field` the input at fault, if any."""

    state: str
    error_message: str | None = None
    error_field: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == ProviderKeyState.OK

    def as_error(self) -> DomainError:
        return DomainError(self.error_message or VALIDATION_FAILED, code=self.code or CODE_FAILED,
                           attr=self.error_field)  # fmt: skip


def mask(api_key: str | None) -> str:
    """`abcd...wxyz`, or `****` for a key of 8 characters or fewer (PostHog's); "" for no key."""
    if not api_key:
        return ""
    return "****" if len(api_key) <= 8 else f"{api_key[:4]}...{api_key[-4:]}"


def endpoint(*, provider: str, base_url: str) -> str:
    return settings.LLMA_PROVIDER_OPENAI_BASE_URL if provider == ProviderKeyProvider.OPENAI else base_url


def provider_key_check(*, provider: str, api_key: str | None, base_url: str = "") -> KeyCheck:
    """Ask the provider which models the key may use; no exception, the outcome is the answer."""
    url = endpoint(provider=provider, base_url=base_url)
    try:
        llm.list_models(api_key=api_key, base_url=url, timeout_seconds=settings.LLMA_PROVIDER_KEY_TIMEOUT_SECONDS)
    except llm.LLMError as error:
        return _failed_check(error, provider=provider, url=url)
    return KeyCheck(state=ProviderKeyState.OK)


def _failed_check(error: llm.LLMError, *, provider: str, url: str) -> KeyCheck:
    if error.kind in ("auth_error", "permission_error"):
        return KeyCheck(ProviderKeyState.INVALID, INVALID_API_KEY, "api_key", CODE_INVALID_KEY)
    url_field = "base_url" if provider == ProviderKeyProvider.OPENAI_COMPATIBLE else None
    host = urlsplit(url).netloc
    if error.kind in ("connection_error", "timeout"):
        why = "did not answer in time" if error.kind == "timeout" else "could not be reached"
        return KeyCheck(ProviderKeyState.ERROR, f"The provider at {host} {why}; check the URL and try again.",
                        url_field, CODE_UNREACHABLE)  # fmt: skip
    if error.kind in ("rate_limit", "quota_error"):
        return KeyCheck(ProviderKeyState.ERROR, "The provider is rate limiting this key; try again later.",
                        "api_key", CODE_RATE_LIMITED)  # fmt: skip
    if error.kind == "model_not_found" and url_field:  # no `/models` there: not an OpenAI-compatible API
        return KeyCheck(ProviderKeyState.ERROR, f"No OpenAI-compatible API answers at {url} (GET /models: 404).",
                        url_field, CODE_FAILED)  # fmt: skip
    return KeyCheck(ProviderKeyState.ERROR, VALIDATION_FAILED, None, CODE_FAILED)


def _sealed(api_key: str | None) -> str:
    return encryption.encrypt(json.dumps({"api_key": api_key} if api_key else {}))


def stored_api_key(key: LLMProviderKey) -> str | None:
    """The key's secret, decrypted (for the server's own calls to the provider; never for an answer)."""
    return json.loads(encryption.decrypt(key.encrypted_config)).get("api_key")


def provider_key_create(
    *, team: Team, user: User | None, provider: str, name: str, api_key: str | None, base_url: str = ""
) -> LLMProviderKey:
    """Check the key live and store it (state `ok`); a key that does not work raises, and nothing is stored."""
    check = provider_key_check(provider=provider, api_key=api_key, base_url=base_url)
    if not check.ok:
        raise check.as_error()
    return LLMProviderKey.objects.create(
        team=team,
        provider=provider,
        name=name,
        state=ProviderKeyState.OK,
        error_message="",
        encrypted_config=_sealed(api_key),
        api_key_masked=mask(api_key),
        base_url=base_url if provider == ProviderKeyProvider.OPENAI_COMPATIBLE else "",
        created_by=user,
    )


def provider_key_update(*, key: LLMProviderKey, changes: dict[str, Any]) -> LLMProviderKey:
    """Apply `changes` (name, provider, api_key, base_url). A new secret, provider or URL is checked live first and
    stored only when it works (the state is then `ok`); a name alone is saved as is."""
    provider = changes.get("provider", key.provider)
    base_url = changes.get("base_url", key.base_url) if provider == ProviderKeyProvider.OPENAI_COMPATIBLE else ""
    if "api_key" in changes or provider != key.provider or base_url != key.base_url:
        api_key = changes["api_key"] if "api_key" in changes else _stored_or_refuse(key)
        check = provider_key_check(provider=provider, api_key=api_key, base_url=base_url)
        if not check.ok:
            raise check.as_error()
        key.encrypted_config = _sealed(api_key)
        key.api_key_masked = mask(api_key)
        key.state, key.error_message = ProviderKeyState.OK, ""
    key.provider, key.base_url = provider, base_url
    key.name = changes.get("name", key.name)
    key.save()
    return key


def _stored_or_refuse(key: LLMProviderKey) -> str | None:
    try:
        return stored_api_key(key)
    except encryption.DecryptionError:
        raise DomainError(UNDECRYPTABLE + " Send api_key with this change.", code="api_key_undecryptable",
                          attr="api_key") from None  # fmt: skip


def provider_key_validate(*, key: LLMProviderKey) -> LLMProviderKey:
    """Check the stored key again and record what the provider said (whatever it said: this is not an error)."""
    try:
        api_key = stored_api_key(key)
    except encryption.DecryptionError:
        check = KeyCheck(ProviderKeyState.ERROR, UNDECRYPTABLE + " Enter the key again.", "api_key", CODE_FAILED)
    else:
        if not api_key and key.provider == ProviderKeyProvider.OPENAI:
            raise DomainError(NO_API_KEY, code="no_api_key", attr=None)
        check = provider_key_check(provider=key.provider, api_key=api_key, base_url=key.base_url)
    key.state, key.error_message = check.state, check.error_message or ""
    key.save(update_fields=["state", "error_message", "updated_at"])
    return key


REPLACEMENT_NOT_FOUND = "Replacement key not found"
REPLACEMENT_OTHER_PROVIDER = "Replacement key must be from the same provider"


def provider_key_delete(*, key: LLMProviderKey, replacement_key_id: str | None = None) -> None:
    """Delete the key. Its evaluations move to the replacement (this project's, same provider) when one is given;
    without one, the active ones stop with `provider_key_deleted`."""
    replacement = None
    if replacement_key_id is not None:
        replacement = _replacement(key, replacement_key_id)
    with transaction.atomic():
        if replacement is None:
            provider_key_dependants_error(key=key)
        else:
            provider_key_dependants_move(key=key, replacement=replacement)
        key.delete()


def _replacement(key: LLMProviderKey, replacement_key_id: str) -> LLMProviderKey:
    try:
        wanted = uuid.UUID(replacement_key_id)
    except ValueError:
        wanted = None
    replacement = None
    if wanted is not None and wanted != key.id:
        replacement = LLMProviderKey.objects.filter(team_id=key.team_id, id=wanted).first()
    if replacement is None:
        raise DomainError(REPLACEMENT_NOT_FOUND, code="replacement_key_not_found", attr="replacement_key_id")
    if replacement.provider != key.provider:
        raise DomainError(REPLACEMENT_OTHER_PROVIDER, code="replacement_key_provider", attr="replacement_key_id")
    return replacement


def provider_keys_reencrypt(*, batch_size: int = 500) -> int:
    """Re-encrypt every stored secret with the newest encryption key; returns how many rows changed."""
    changed = 0
    with transaction.atomic():
        for key in LLMProviderKey.objects.select_for_update().only("id", "encrypted_config").iterator(batch_size):
            token = encryption.reencrypt(key.encrypted_config)
            if token != key.encrypted_config:
                LLMProviderKey.objects.filter(pk=key.pk).update(encrypted_config=token, updated_at=timezone.now())
                changed += 1
    return changed
