"""Provider keys at rest: Fernet tokens under secrets derived from SECRET_KEY or PROVIDER_KEY_ENCRYPTION_KEYS, and
rotation (a new secret first, `rotate_provider_keys`, then the old one dropped)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from evaluations.models import LLMProviderKey
from evaluations.provider_keys import stored_api_key
from posthog_clone import encryption
from tests.evaluations.helpers import make_provider_key
from tests.support.tenants import Tenant


def test_a_round_trip_hides_the_text_and_each_token_differs() -> None:
    first, second = encryption.encrypt("sk-secret-value"), encryption.encrypt("sk-secret-value")
    assert "sk-secret-value" not in first and first != second
    assert encryption.decrypt(first) == encryption.decrypt(second) == "sk-secret-value"


def test_the_secret_key_is_used_when_no_encryption_keys_are_set(settings: Any) -> None:
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = []
    token = encryption.encrypt("sk-1")
    settings.SECRET_KEY = "another-secret-key"
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(token)


def test_secret_key_fallbacks_still_decrypt(settings: Any) -> None:
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = []
    old = settings.SECRET_KEY
    token = encryption.encrypt("sk-1")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-secret-key", [old]
    assert encryption.decrypt(token) == "sk-1"


def test_own_encryption_keys_take_over_from_the_secret_key(settings: Any) -> None:
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["provider-secret-1"]
    token = encryption.encrypt("sk-1")
    settings.SECRET_KEY = "changed-secret-key"  # changing the SECRET_KEY no longer matters
    assert encryption.decrypt(token) == "sk-1"
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = []
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(token)


def test_rotation_new_first_reencrypt_then_drop_the_old(settings: Any) -> None:
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["old-secret"]
    token = encryption.encrypt("sk-1")
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["new-secret", "old-secret"]
    assert encryption.decrypt(token) == "sk-1"  # both decrypt during the rotation
    rotated = encryption.reencrypt(token)
    assert rotated != token and encryption.reencrypt(rotated) == rotated
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["new-secret"]
    assert encryption.decrypt(rotated) == "sk-1"
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(token)


@pytest.mark.django_db
def test_the_rotation_command_reencrypts_every_stored_key(settings: Any, tenant: Tenant, capsys: Any) -> None:
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["old-secret"]
    keys = [make_provider_key(tenant, api_key=f"sk-key-number-{n}") for n in range(3)]
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["new-secret", "old-secret"]
    call_command("rotate_provider_keys")
    assert "Re-encrypted 3 provider key(s)" in capsys.readouterr().out
    call_command("rotate_provider_keys")
    assert "Re-encrypted 0 provider key(s)" in capsys.readouterr().out
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["new-secret"]
    for n, key in enumerate(keys):
        assert stored_api_key(LLMProviderKey.objects.get(id=key.id)) == f"sk-key-number-{n}"


@pytest.mark.django_db
def test_the_rotation_command_changes_nothing_when_a_secret_is_missing(settings: Any, tenant: Tenant) -> None:
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["forgotten-secret"]
    key = make_provider_key(tenant)
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["new-secret"]
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("rotate_provider_keys")
    assert LLMProviderKey.objects.get(id=key.id).encrypted_config == key.encrypted_config
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["forgotten-secret"]
    assert json.loads(encryption.decrypt(key.encrypted_config))["api_key"].startswith("sk-")
