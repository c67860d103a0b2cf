"""Identifier generation shared by every app: time-ordered UUIDs and base62 random tokens."""

from __future__ import annotations

import secrets
import uuid

import uuid6

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (v7) as a plain `uuid.UUID`, so B-tree inserts stay append-mostly."""
    return uuid.UUID(int=uuid6.uuid7().int)


def base62_encode(number: int) -> str:
    if number == 0:
        return BASE62_ALPHABET[0]
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits))


def random_token(nbytes: int = 35) -> str:
    """A base62 string carrying `nbytes` of randomness (35 bytes, as PostHog's keys do)."""
    return base62_encode(secrets.randbits(nbytes * 8))
