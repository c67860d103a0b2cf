"""Serializer fields and bases every resource uses, so input is read as strictly as the schema documents it."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn `0` or `1.5` into "0" and "1.5", which the OpenAPI
    document (and so every generated client) says cannot be sent."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            # Measured as sent, before whitespace is trimmed, as the schema's maxLength is.
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's, with text model fields read as strict strings."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }
