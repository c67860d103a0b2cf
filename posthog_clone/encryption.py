"""Secrets stored in the database (LLM provider keys), encrypted with Fernet (AES-128-CBC with an HMAC-SHA256).

The Fernet keys are derived (HKDF-SHA256) from `PROVIDER_KEY_ENCRYPTION_KEYS` (comma-separated, newest first) or,
when that is unset, from `SECRET_KEY` then `SECRET_KEY_FALLBACKS`. Any text serves as a secret, a
`Fernet.generate_key()` as well as a passphrase. `MultiFernet` encrypts with the first and decrypts with any, so a
new secret is put first, `rotate_provider_keys` re-encrypts every row with it, and the old one can then be dropped.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Fixed, so the same secret always derives the same key; the purpose, so a key derived here serves nothing else.
SALT = b"posthog-clone/encryption"
PURPOSE = b"llm-provider-keys/v1"


class DecryptionError(Exception):
    """No configured secret decrypts the token: the secrets changed without the rows being re-encrypted."""


def secrets() -> tuple[str, ...]:
    configured = [secret.strip() for secret in settings.PROVIDER_KEY_ENCRYPTION_KEYS if secret.strip()]
    if configured:
        return tuple(configured)
    return (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))


def encrypt(plaintext: str) -> str:
    return _cipher(secrets()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher(secrets()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("No configured encryption key decrypts this secret.") from None


def reencrypt(token: str) -> str:
    """The same secret, encrypted with the newest key; a token that key already decrypts comes back unchanged."""
    keys = secrets()
    try:
        _fernet(keys[0]).decrypt(token.encode())
        return token
    except InvalidToken:
        pass
    try:
        return _cipher(keys).rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("No configured encryption key decrypts this secret.") from None


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet(secret) for secret in keys])


@lru_cache(maxsize=16)
def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=PURPOSE).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))
