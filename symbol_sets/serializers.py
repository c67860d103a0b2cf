from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from posthog_clone.api.fields import ModelSerializer, StrictBooleanField, StrictCharField, StrictUUIDField
from posthog_clone.api.validators import reject_nul_characters
from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet
from symbol_sets.services import ChunkUpload

# A ref is a chunk id (a UUID or a content hash in practice); the cap keeps it well inside what a unique index
# on (team, ref) can hold.
MAX_REF_LENGTH = 256
MAX_CONTENT_HASH_LENGTH = 1024
MAX_HASH_ID_BYTES = 128
# The PostHog CLI sends 50 chunks per upload batch and at most 1,000 per check.
MAX_BATCH_SIZE = 1000


def _required(message: str) -> dict[str, str]:
    return {"required": message, "null": message, "blank": message}


class ReleaseSerializer(ModelSerializer):
    team_id = serializers.IntegerField(read_only=True)
    hash_id = StrictCharField(required=False, allow_blank=True)
    version = StrictCharField(error_messages=_required("Version is required"))
    project = StrictCharField(error_messages=_required("Project is required"))
    metadata = serializers.JSONField(required=False, allow_null=True, validators=[reject_nul_characters])

    class Meta:
        model = ErrorTrackingRelease
        fields = ["id", "hash_id", "team_id", "created_at", "metadata", "version", "project"]
        read_only_fields = ["id", "team_id", "created_at"]

    def validate_hash_id(self, value: str) -> str:
        if len(value.encode()) > MAX_HASH_ID_BYTES:
            raise serializers.ValidationError(f"Hash id length cannot exceed {MAX_HASH_ID_BYTES} bytes")
        return value


class SymbolSetSerializer(ModelSerializer):
    """The storage pointer and content hash stay private: `has_uploaded_file` says whether there is a file."""

    team_id = serializers.IntegerField(read_only=True)
    has_uploaded_file = serializers.BooleanField(read_only=True)
    release = ReleaseSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ErrorTrackingSymbolSet
        fields = ["id", "ref", "team_id", "created_at", "last_used", "failure_reason", "has_uploaded_file", "release"]
        read_only_fields = fields


# --- request bodies -----------------------------------------------------------------------------------------
@extend_schema_field({"type": "string", "format": "uuid", "nullable": True,
                      "description": "A release's id; empty or null means none."})  # fmt: skip
class ReleaseIdField(StrictCharField):
    """An optional release id; empty means none. Kept as text: the service answers a malformed id with
    `invalid_release_id`, which clients branch on."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, allow_blank=True, default=None, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> str | None:
        return super().run_validation(data) or None


class ChunkUploadSerializer(serializers.Serializer):
    chunk_id = StrictCharField(max_length=MAX_REF_LENGTH)
    release_id = ReleaseIdField()
    content_hash = StrictCharField(required=False, allow_null=True, default=None, max_length=MAX_CONTENT_HASH_LENGTH)


class BulkUploadSerializer(serializers.Serializer):
    """The three body shapes clients send, merged into one list of chunks: `symbol_sets` (current CLIs),
    `chunk_ids` with one `release_id` (the oldest CLIs) and a single `ref`."""

    symbol_sets = ChunkUploadSerializer(many=True, required=False, max_length=MAX_BATCH_SIZE)
    chunk_ids = serializers.ListField(
        child=StrictCharField(max_length=MAX_REF_LENGTH), required=False, max_length=MAX_BATCH_SIZE
    )
    release_id = ReleaseIdField(help_text="The release of `chunk_ids` and `ref`.")
    ref = StrictCharField(max_length=MAX_REF_LENGTH, required=False)
    force = StrictBooleanField(default=False, help_text="Replace chunks stored with different content.")
    skip_on_conflict = StrictBooleanField(
        default=False, help_text="Keep chunks stored with different content instead of failing."
    )

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments of the bulk upload services: the merged chunks and the conflict options."""
        data = self.validated_data
        uploads = [ChunkUpload(**item) for item in data.get("symbol_sets", [])]
        single_refs = [*data.get("chunk_ids", []), *([data["ref"]] if "ref" in data else [])]
        uploads += [ChunkUpload(chunk_id=chunk_id, release_id=data["release_id"]) for chunk_id in single_refs]
        return {"uploads": uploads, "force": data["force"], "skip_on_conflict": data["skip_on_conflict"]}


class PresignedPostSerializer(serializers.Serializer):
    url = StrictCharField()
    fields = serializers.DictField(child=StrictCharField())


class UploadTicketSerializer(serializers.Serializer):
    presigned_url = PresignedPostSerializer()
    symbol_set_id = serializers.UUIDField()


class BulkStartUploadResponseSerializer(serializers.Serializer):
    id_map = serializers.DictField(child=UploadTicketSerializer(), help_text="Uploads to make, by chunk id.")


class BulkCheckUploadResponseSerializer(serializers.Serializer):
    chunk_ids_to_upload = serializers.ListField(child=StrictCharField())


class StartUploadQuerySerializer(serializers.Serializer):
    chunk_id = StrictCharField(
        max_length=MAX_REF_LENGTH, error_messages=_required("chunk_id query parameter is required")
    )
    release_id = ReleaseIdField()


class FinishUploadSerializer(serializers.Serializer):
    content_hash = StrictCharField(
        required=False, allow_null=True, allow_blank=True, max_length=MAX_CONTENT_HASH_LENGTH
    )


class BulkFinishUploadSerializer(serializers.Serializer):
    content_hashes = serializers.DictField(
        child=StrictCharField(allow_null=True, allow_blank=True, max_length=MAX_CONTENT_HASH_LENGTH),
        required=False,
        error_messages={"null": "content_hashes are required"},
        help_text="Content hash (SHA-512 hex of the uploaded bytes) by symbol set id.",
    )

    def validate_content_hashes(self, value: dict[str, str | None]) -> dict[str, str | None]:
        if len(value) > MAX_BATCH_SIZE:
            raise serializers.ValidationError(f"Ensure this field has no more than {MAX_BATCH_SIZE} elements.")
        return value


class BulkDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=StrictUUIDField(),
        allow_empty=False,
        max_length=MAX_BATCH_SIZE,
        error_messages={**_required("ids is required"), "empty": "ids is required", "not_a_list": "ids must be a list"},
    )


class DownloadSerializer(serializers.Serializer):
    url = serializers.URLField()


class BulkDeleteResponseSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
