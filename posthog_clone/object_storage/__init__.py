"""Object storage behind one small interface (`base.ObjectStorage`), chosen from settings by `get_object_storage`:
S3 (or any S3-compatible store) when `OBJECT_STORAGE_ENDPOINT` is set, else files under the data dir. The S3 store
(and boto3, which takes about half a second to import) is loaded only when it is configured."""

from __future__ import annotations

from django.conf import settings

from posthog_clone.object_storage.base import (
    ObjectStorage,
    ObjectStorageError,
    ObjectStorageUnavailable,
    PresignedPost,
    StoredObject,
)
from posthog_clone.object_storage.local import LocalObjectStorage


def get_object_storage() -> ObjectStorage:
    """The configured store. Built from settings on each call (cheap: boto3 clients are cached per process), so
    every process and every settings override agrees on it without shared state."""
    if not settings.OBJECT_STORAGE_ENABLED:
        raise ObjectStorageUnavailable("Object storage is disabled (OBJECT_STORAGE_ENABLED=false).")
    if settings.OBJECT_STORAGE_ENDPOINT:
        from posthog_clone.object_storage.s3 import S3ObjectStorage

        return S3ObjectStorage.from_settings()
    return LocalObjectStorage.from_settings()


__all__ = [
    "LocalObjectStorage",
    "ObjectStorage",
    "ObjectStorageError",
    "ObjectStorageUnavailable",
    "PresignedPost",
    "StoredObject",
    "get_object_storage",
]
