"""What a client does with a presigned upload, done the way the PostHog CLI does it, plus policy decoding."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from django.http import HttpResponse
from django.test import Client
from urllib3 import encode_multipart_formdata

TIMEOUT = 30


def content_hash(data: bytes) -> str:
    """The CLI's content hash: lowercase hex SHA-512 of the uploaded bytes."""
    return hashlib.sha512(data).hexdigest()


def post_upload(presigned_url: dict[str, Any], data: bytes, *, filename: str | None = "file") -> requests.Response:
    """A multipart POST: every presigned field as a text part, then the bytes as the `file` part (current CLIs
    name the file `file`; old ones sent the part with no filename)."""
    parts: list[tuple[str, tuple[str | None, Any]]] = [
        (name, (None, value)) for name, value in presigned_url["fields"].items()
    ]
    parts.append(("file", (filename, data)))
    return requests.post(presigned_url["url"], files=parts, timeout=TIMEOUT)


def decoded_policy(fields: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(fields["policy"]))


def local_upload(
    presigned_url: dict[str, Any],
    data: bytes,
    *,
    filename: str | None = "file",
    fields: dict[str, str] | None = None,
    file_first: bool = False,
) -> HttpResponse:
    """The same POST to the local store's endpoint, through Django's test client (no server needed)."""
    parts: list[tuple[str, Any]] = list((presigned_url["fields"] if fields is None else fields).items())
    file_part = ("file", (filename, data))
    body, content_type = encode_multipart_formdata([file_part, *parts] if file_first else [*parts, file_part])
    return Client().post(urlsplit(presigned_url["url"]).path, data=body, content_type=content_type)
