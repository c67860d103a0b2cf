"""Object storage in files under the data dir, for running without an S3 service (the embedded default).

This server plays the store's part itself: a presigned POST points at its own `/object_storage/` endpoint
(`views.upload`), which checks the signed policy before it stores a byte. The policy has S3's shape, a base64 JSON
document with `expiration` and `conditions`, and is signed with HMAC-SHA256 keyed by SECRET_KEY, so any process
of the server can verify what another one issued. Downloads are presigned the same way (`views.download`).

The upload answers like S3: 204 when stored; 403 for a bad signature, an expired policy or a key the policy does
not allow; 400 EntityTooLarge/EntityTooSmall for a size outside the policy's range; 400 MalformedPOSTRequest for a
body that is not multipart/form-data with a `file` part; 411 without Content-Length. The body is streamed: form
fields must come before the `file` part (as S3 requires, and as the PostHog CLI sends them), key, expiry and
signature are checked when that part begins, and the bytes go to a temporary file beside the target that replaces
it only once the whole part arrived within the size range.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

import multipart
from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from posthog_clone.object_storage.base import ObjectStorage, ObjectStorageError, PresignedPost, StoredObject

URL_PATH = "object_storage"
# Separate salts, so a signature made for one kind of request can never authorize the other.
POST_SALT = "posthog_clone.object_storage.local.post"
GET_SALT = "posthog_clone.object_storage.local.get"
READ_CHUNK_SIZE = 256 * 1024
MAX_FIELD_SIZE = 64 * 1024  # key, policy and signature are far smaller; anything bigger is not ours
MAX_PARTS = 64
# Path segments start with a letter or digit: no `..`, no absolute paths, and temporary `.upload-*` files
# can never be addressed as objects.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
EXPIRATION_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Rejected(Exception):
    """A request the store refuses, with the status and S3 error code to answer it with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def malformed(message: str = "The body of your POST request is not well-formed multipart/form-data.") -> Rejected:
    return Rejected(400, "MalformedPOSTRequest", message)


@dataclass(frozen=True)
class UploadPolicy:
    key: str
    min_size: int
    max_size: int


class LocalObjectStorage(ObjectStorage):
    def __init__(self, *, root: Path, base_url: str, secret: str) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.secret = secret

    @classmethod
    def from_settings(cls) -> LocalObjectStorage:
        return cls(root=Path(settings.OBJECT_STORAGE_LOCAL_DIR), base_url=settings.SITE_URL, secret=settings.SECRET_KEY)

    # --- the ObjectStorage interface ------------------------------------------------------------------
    def presigned_post(self, key: str, *, max_size: int, expires_in: int, min_size: int = 0) -> PresignedPost:
        self.path_for(key)  # refuse, at signing time, a key that could never be stored
        expiration = datetime.now(UTC) + timedelta(seconds=expires_in)
        document = {
            "expiration": expiration.strftime(EXPIRATION_FORMAT),
            "conditions": [{"key": key}, ["content-length-range", min_size, max_size]],
        }
        policy = base64.b64encode(json.dumps(document).encode()).decode()
        return PresignedPost(
            url=f"{self.base_url}/{URL_PATH}/",
            fields={"key": key, "policy": policy, "signature": self._sign(POST_SALT, policy)},
        )

    def check(self) -> None:
        existing = self.root
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # uploads create the missing directories below it
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ObjectStorageError(f"{existing} is not writable")

    def head(self, key: str) -> StoredObject | None:
        try:
            info = self.path_for(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return StoredObject(key=key, size=info.st_size) if stat.S_ISREG(info.st_mode) else None

    def presigned_get_url(self, key: str, *, expires_in: int) -> str:
        self.path_for(key)
        expires = str(int(time.time()) + expires_in)
        query = urlencode({"expires": expires, "signature": self._sign(GET_SALT, f"{key}\n{expires}")})
        return f"{self.base_url}/{URL_PATH}/{key}?{query}"

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    # --- serving the presigned requests ----------------------------------------------------------------
    def receive_upload(self, *, body: Readable, content_type: str, content_length: int | None) -> str:
        """Store the `file` part of a presigned multipart POST and return its key, or raise `Rejected`."""
        if content_length is None:
            raise Rejected(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        mime, options = multipart.parse_options_header(content_type)
        boundary = options.get("boundary")
        if mime != "multipart/form-data" or not boundary:
            raise malformed()
        events = _multipart_events(body, boundary=boundary, content_length=content_length)
        fields: dict[str, str] = {}
        try:
            for event in events:
                if not isinstance(event, multipart.MultipartSegment):
                    continue
                data = iter(lambda: next(events), None)  # this part's chunks, up to its end-of-part event
                name = event.name.lower()  # S3 reads form field names case-insensitively
                if name == "file":
                    policy = self._verified_policy(fields)
                    self._store(policy, data)
                    return policy.key  # like S3, ignore anything after the file
                fields[name] = _read_field(data)
        except multipart.MultipartError as error:
            raise malformed() from error
        raise malformed("POST requires exactly one file upload per request.")

    def downloadable_path(self, key: str, *, expires: str, signature: str) -> Path:
        """The file a presigned GET names, or raise `Rejected`."""
        if not constant_time_compare(signature, self._sign(GET_SALT, f"{key}\n{expires}")):
            raise Rejected(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if not expires.isdigit() or int(expires) < time.time():
            raise Rejected(403, "AccessDenied", "Request has expired.")
        path = self.path_for(key)
        if not path.is_file():
            raise Rejected(404, "NoSuchKey", "The specified key does not exist.")
        return path

    def path_for(self, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key):
            raise Rejected(400, "InvalidArgument", "Invalid object key.")
        return self.root / key

    # --- internals --------------------------------------------------------------------------------------
    def _sign(self, salt: str, value: str) -> str:
        return salted_hmac(salt, value, secret=self.secret, algorithm="sha256").hexdigest()

    def _verified_policy(self, fields: dict[str, str]) -> UploadPolicy:
        key, encoded, signature = fields.get("key"), fields.get("policy"), fields.get("signature")
        if not key:
            raise Rejected(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
        if not encoded or not signature:
            raise Rejected(403, "AccessDenied", "Bucket POST must contain the fields 'policy' and 'signature'.")
        if not constant_time_compare(signature, self._sign(POST_SALT, encoded)):
            raise Rejected(403, "SignatureDoesNotMatch", "The request signature does not match the policy.")
        # Signed by this server, so the document has the shape `presigned_post` wrote.
        document = json.loads(base64.b64decode(encoded))
        expiration = datetime.strptime(document["expiration"], EXPIRATION_FORMAT).replace(tzinfo=UTC)
        if expiration <= datetime.now(UTC):
            raise Rejected(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        min_size, max_size = 0, 0
        for condition in document["conditions"]:
            if isinstance(condition, dict):
                for name, expected in condition.items():
                    if fields.get(name) != expected:
                        failed = json.dumps(["eq", f"${name}", expected])
                        message = f"Invalid according to Policy: Policy Condition failed: {failed}"
                        raise Rejected(403, "AccessDenied", message)
            elif condition[0] == "content-length-range":
                min_size, max_size = int(condition[1]), int(condition[2])
        return UploadPolicy(key=key, min_size=min_size, max_size=max_size)

    def _store(self, policy: UploadPolicy, data: Iterable[bytes]) -> None:
        """Write atomically: readers see the old object or the complete new one, never a partial file."""
        target = self.path_for(policy.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                size = 0
                for chunk in data:
                    size += len(chunk)
                    if size > policy.max_size:
                        raise Rejected(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
                    handle.write(chunk)
                if size < policy.min_size:
                    message = "Your proposed upload is smaller than the minimum allowed size."
                    raise Rejected(400, "EntityTooSmall", message)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _multipart_events(
    body: Readable, *, boundary: str, content_length: int
) -> Iterator[multipart.MultipartSegment | bytes | None]:
    """Parser events for the body, read in chunks: a segment header, its data chunks, then None at its end."""
    remaining = content_length
    with multipart.PushMultipartParser(boundary, content_length=content_length, max_segment_count=MAX_PARTS) as parser:
        while not parser.closed:
            chunk = body.read(min(READ_CHUNK_SIZE, remaining)) if remaining > 0 else b""
            remaining = remaining - len(chunk) if chunk else 0  # an early end of input ends the stream
            yield from parser.parse(chunk)


def _read_field(data: Iterable[bytes]) -> str:
    value = bytearray()
    for chunk in data:
        value += chunk
        if len(value) > MAX_FIELD_SIZE:
            raise malformed("Your POST request fields exceed the maximum allowed size.")
    try:
        return value.decode()
    except UnicodeDecodeError as error:
        raise malformed("Form fields must be UTF-8 text.") from error
