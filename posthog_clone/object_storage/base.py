"""What products need from an object store: presigned uploads and downloads that clients make directly, a HEAD to
check what arrived, and deletion. Implementations: `s3` (boto3) and `local` (files under the data dir)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PresignedPost:
    """A form upload a client can make without credentials: POST `url` as multipart/form-data, every field as a
    text part, then the bytes as a part named `file`. Every value is a string (clients decode them strictly)."""

    url: str
    fields: dict[str, str]

    def as_dict(self) -> dict[str, object]:
        return {"url": self.url, "fields": dict(self.fields)}


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


class ObjectStorageError(Exception):
    """The store could not be reached, or answered with an unexpected error."""


class ObjectStorageUnavailable(Exception):
    """Object storage is turned off (`OBJECT_STORAGE_ENABLED=false`)."""


class ObjectStorage(ABC):
    @abstractmethod
    def presigned_post(self, key: str, *, max_size: int, expires_in: int, min_size: int = 0) -> PresignedPost:
        """An upload of `min_size` to `max_size` bytes to `key`, valid for `expires_in` seconds."""

    @abstractmethod
    def head(self, key: str) -> StoredObject | None:
        """The object at `key`, or None when there is none."""

    def head_many(self, keys: Sequence[str]) -> list[StoredObject | None]:
        """`head` of each key, in order."""
        return [self.head(key) for key in keys]

    @abstractmethod
    def presigned_get_url(self, key: str, *, expires_in: int) -> str:
        """A URL that downloads `key` without credentials for `expires_in` seconds."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; a missing object is not an error."""

    @abstractmethod
    def check(self) -> None:
        """Raise ObjectStorageError unless the store can take uploads now (for readiness checks)."""
