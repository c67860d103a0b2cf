"""Re-encrypt every stored LLM provider key with the newest encryption secret (the first of
PROVIDER_KEY_ENCRYPTION_KEYS), so older secrets can be dropped from the list afterwards."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from evaluations.provider_keys import provider_keys_reencrypt
from posthog_clone.encryption import DecryptionError


class Command(BaseCommand):
    help = "Re-encrypt stored LLM provider keys with the newest of PROVIDER_KEY_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            changed = provider_keys_reencrypt()
        except DecryptionError as error:
            raise CommandError(
                f"{error} Keep every secret a stored key was encrypted with in PROVIDER_KEY_ENCRYPTION_KEYS until "
                "this command has run; nothing was changed."
            ) from None
        self.stdout.write(f"Re-encrypted {changed} provider key(s) with the newest encryption key.")
