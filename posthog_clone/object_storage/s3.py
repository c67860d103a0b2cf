"""S3 and S3-compatible stores (AWS S3, MinIO) through boto3.

Two clients: one on OBJECT_STORAGE_ENDPOINT for the server's own calls (HEAD, DELETE), and one on the public
endpoint that only signs, because a presigned URL embeds the host it was signed for and clients may reach the store
by another name than the server does (`http://minio:9000` inside compose, `http://localhost:9000` outside).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.client import BaseClient, Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from posthog_clone.object_storage.base import ObjectStorage, ObjectStorageError, PresignedPost, StoredObject

MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# Concurrent requests per call of `head_many`; botocore pools 10 connections per client by default.
MAX_CONCURRENT_REQUESTS = 10


@functools.lru_cache(maxsize=8)
def _client(endpoint: str, access_key_id: str, secret_access_key: str, region: str) -> BaseClient:
    """One client per configuration and process; boto3 clients are thread-safe. Empty credentials fall back to
    boto3's own chain (environment, instance role)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        region_name=region or None,
        config=Config(
            # Explicit: some endpoint/region combinations otherwise presign in the SigV2 query form.
            signature_version="s3v4",
            s3={"addressing_style": "path"},  # MinIO and most self-hosted stores serve buckets as paths
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


class S3ObjectStorage(ObjectStorage):
    def __init__(self, *, bucket: str, client: BaseClient, signing_client: BaseClient) -> None:
        self.bucket = bucket
        self.client = client
        self.signing_client = signing_client

    @classmethod
    def from_settings(cls) -> S3ObjectStorage:
        credentials = (
            settings.OBJECT_STORAGE_ACCESS_KEY_ID,
            settings.OBJECT_STORAGE_SECRET_ACCESS_KEY,
            settings.OBJECT_STORAGE_REGION,
        )
        endpoint = settings.OBJECT_STORAGE_ENDPOINT
        public_endpoint = settings.OBJECT_STORAGE_PUBLIC_ENDPOINT or endpoint
        return cls(
            bucket=settings.OBJECT_STORAGE_BUCKET,
            client=_client(endpoint, *credentials),
            signing_client=_client(public_endpoint, *credentials),
        )

    def presigned_post(self, key: str, *, max_size: int, expires_in: int, min_size: int = 0) -> PresignedPost:
        # boto3 adds the bucket and key conditions itself; repeating them can push the policy past the 1 KiB some
        # S3-compatible stores allow.
        try:
            signed = self.signing_client.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Conditions=[["content-length-range", min_size, max_size]],
                ExpiresIn=expires_in,
            )
        except (BotoCoreError, ClientError) as error:
            raise ObjectStorageError(f"could not presign an upload of {key}: {error}") from error
        return PresignedPost(url=signed["url"], fields={name: str(value) for name, value in signed["fields"].items()})

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise ObjectStorageError(f"bucket {self.bucket} is not reachable: {error}") from error

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING_OBJECT_CODES:
                return None
            raise ObjectStorageError(f"HEAD {key} failed: {error}") from error
        except BotoCoreError as error:
            raise ObjectStorageError(f"HEAD {key} failed: {error}") from error
        return StoredObject(key=key, size=int(response.get("ContentLength") or 0))

    def head_many(self, keys: Sequence[str]) -> list[StoredObject | None]:
        # One round trip per object: in parallel, a batch of 50 costs a few round trips, not 50.
        if len(keys) <= 1:
            return [self.head(key) for key in keys]
        with ThreadPoolExecutor(min(len(keys), MAX_CONCURRENT_REQUESTS)) as pool:
            return list(pool.map(self.head, keys))

    def presigned_get_url(self, key: str, *, expires_in: int) -> str:
        try:
            return self.signing_client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        except (BotoCoreError, ClientError) as error:
            raise ObjectStorageError(f"could not presign a download of {key}: {error}") from error

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise ObjectStorageError(f"DELETE {key} failed: {error}") from error
