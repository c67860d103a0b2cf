"""Serializer fields and bases every resource uses, so input is read as strictly as the schema documents it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from rest_framework import serializers

# A character Python's str.strip() keeps, written so JSON Schema (ECMA) regexes read it the same way.
NOT_STRIPPED = "[^\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


class StrictUUIDField(serializers.UUIDField):
    """A UUID sent as a string: DRF's UUIDField would also read an integer, and so `false` and `true`, as one."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn `0` or `1.5` into "0" and "1.5", which the OpenAPI
    document (and so every generated client) says cannot be sent. One that may not be blank documents that it
    needs a character trimming keeps (a lone tab or U+001F would be trimmed to nothing)."""

    default_error_messages = {"invalid": "Not a valid string."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.allow_blank and self.trim_whitespace and not self.read_only:
            self.validators.append(RegexValidator(NOT_STRIPPED, message="This field may not be blank.", code="blank"))

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            # Measured as sent, before whitespace is trimmed, as the schema's maxLength is.
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false`, and only those: DRF's BooleanField also reads 0, 1, "yes", "off"…, which the OpenAPI
    document says cannot be sent."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ModelSerializer(serializers.ModelSerializer):
    """DRF's, with text and boolean model fields read as strictly as the schema documents them."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.BooleanField: StrictBooleanField,
    }


def drf_datetime(value: datetime | None) -> str | None:
    """A datetime exactly as DRF's DateTimeField writes it (ISO 8601 in UTC, `Z` for the offset), for rows
    rendered without a serializer."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
