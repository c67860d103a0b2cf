"""Validators shared by serializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def contains_nul(value: Any) -> bool:
    """Whether U+0000 appears in a string, or in any key or value of nested JSON."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


NUL_NOT_ALLOWED = "The character U+0000 is not allowed."


def reject_nul_characters(value: Any) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: refuse it with a 400 before it reaches a query (DRF's
    CharField already does this for plain strings; JSON fields need it too)."""
    if contains_nul(value):
        raise serializers.ValidationError(NUL_NOT_ALLOWED, code="null_characters_not_allowed")
