"""Both object stores through their interface, and the local store's presigned endpoints as a client uses them.

moto checks no POST policy, so what the S3 store hands out is checked by decoding it; the local store enforces
its policy itself, and each way of breaking one is tried against it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
import time_machine
from django.http import HttpResponse
from django.test import Client
from urllib3 import encode_multipart_formdata

from posthog_clone import embedded
from posthog_clone.object_storage import (
    LocalObjectStorage,
    ObjectStorageError,
    get_object_storage,
)
from posthog_clone.object_storage.local import Rejected
from posthog_clone.object_storage.s3 import S3ObjectStorage
from tests.support.storage import MOTO_CREDENTIALS
from tests.symbol_sets.uploads import decoded_policy, local_upload, post_upload

KEY = "symbolsets/0190a1b2-c3d4-7e5f-8a9b-000000000001"
MIB = 1024 * 1024
# Bytes that look like multipart syntax and are not UTF-8: a parser that treats the part as text would mangle them.
AWKWARD_BYTES = bytes(range(256)) * 64 + b"\r\n--\r\n\r\n" + bytes(range(255, -1, -1)) * 64


def s3_error_code(response: HttpResponse) -> str:
    text = response.content.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def files_under(root: Path) -> list[Path]:
    """Every file, temporary ones included."""
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


@pytest.fixture
def local(local_storage: Path, settings: Any) -> LocalObjectStorage:
    settings.SITE_URL = "http://127.0.0.1:8000"
    storage = get_object_storage()
    assert isinstance(storage, LocalObjectStorage)
    return storage


# --- the local store: what it accepts -------------------------------------------------------------------------
@pytest.mark.parametrize("filename", ["file", None], ids=["with-filename", "without-filename"])
def test_local_upload_stores_the_exact_bytes(local: LocalObjectStorage, local_storage: Path, filename: str) -> None:
    presigned = local.presigned_post(KEY, max_size=MIB, expires_in=300)

    response = local_upload(presigned.as_dict(), AWKWARD_BYTES, filename=filename)

    assert response.status_code == 204
    assert (local_storage / KEY).read_bytes() == AWKWARD_BYTES
    assert files_under(local_storage) == [local_storage / KEY]  # no temporary file left
    assert local.head(KEY).size == len(AWKWARD_BYTES)


def test_local_policy_has_the_s3_shape(local: LocalObjectStorage) -> None:
    with time_machine.travel(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), tick=False):
        presigned = local.presigned_post(KEY, max_size=100 * MIB, expires_in=300)
    assert presigned.url == "http://127.0.0.1:8000/object_storage/"  # on SITE_URL
    assert set(presigned.fields) == {"key", "policy", "signature"}
    assert all(isinstance(value, str) for value in presigned.fields.values())
    assert decoded_policy(presigned.fields) == {
        "expiration": "2026-01-02T03:09:05Z",
        "conditions": [{"key": KEY}, ["content-length-range", 0, 100 * MIB]],
    }


def test_local_upload_accepts_exactly_the_size_range(local: LocalObjectStorage) -> None:
    presigned = local.presigned_post(KEY, min_size=10, max_size=1024, expires_in=300)
    assert local_upload(presigned.as_dict(), b"x" * 1024).status_code == 204
    assert local_upload(presigned.as_dict(), b"x" * 10).status_code == 204
    assert local.head(KEY).size == 10


def test_local_reupload_replaces_the_object(local: LocalObjectStorage, local_storage: Path) -> None:
    presigned = local.presigned_post(KEY, max_size=MIB, expires_in=300)
    assert local_upload(presigned.as_dict(), b"first").status_code == 204
    assert local_upload(presigned.as_dict(), b"second").status_code == 204
    assert (local_storage / KEY).read_bytes() == b"second"


# --- the local store: what it refuses, writing nothing -------------------------------------------------------
def tampered(fields: dict[str, str], **changes: str) -> dict[str, str]:
    return {**fields, **changes}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda fields, other: tampered(fields, signature="0" * 64), 403, "SignatureDoesNotMatch"),
        (lambda fields, other: tampered(fields, signature=""), 403, "AccessDenied"),
        # A policy from another presigned upload (here: a bigger one) does not match this signature.
        (lambda fields, other: tampered(fields, policy=other["policy"]), 403, "SignatureDoesNotMatch"),
        (lambda fields, other: tampered(fields, key="symbolsets/someone-elses"), 403, "AccessDenied"),
        (lambda fields, other: {k: v for k, v in fields.items() if k != "key"}, 400, "InvalidArgument"),
    ],
    ids=["zeroed-signature", "empty-signature", "policy-of-another-upload", "wrong-key", "no-key"],
)
def test_local_upload_refuses_a_broken_policy(
    local: LocalObjectStorage, local_storage: Path, change: Any, status: int, code: str
) -> None:
    presigned = local.presigned_post(KEY, max_size=1024, expires_in=300)
    other = local.presigned_post(KEY, max_size=100 * MIB, expires_in=3600).fields

    response = local_upload(presigned.as_dict(), b"payload", fields=change(presigned.fields, other))

    assert response.status_code == status
    assert s3_error_code(response) == code
    assert response["Content-Type"] == "application/xml"
    assert files_under(local_storage) == []


def test_local_upload_refuses_wrong_key_naming_the_condition(local: LocalObjectStorage) -> None:
    presigned = local.presigned_post(KEY, max_size=1024, expires_in=300)
    response = local_upload(presigned.as_dict(), b"payload", fields=tampered(presigned.fields, key="symbolsets/other"))
    assert f'Policy Condition failed: ["eq", "$key", "{KEY}"]' in response.content.decode()
    assert local.head("symbolsets/other") is None


def test_local_upload_refuses_a_policy_signed_with_another_secret(
    local: LocalObjectStorage, local_storage: Path, settings: Any
) -> None:
    presigned = local.presigned_post(KEY, max_size=1024, expires_in=300)
    settings.SECRET_KEY = "another-secret-key-entirely"
    response = local_upload(presigned.as_dict(), b"payload")
    assert response.status_code == 403
    assert s3_error_code(response) == "SignatureDoesNotMatch"
    assert files_under(local_storage) == []


def test_local_upload_refuses_an_expired_policy(local: LocalObjectStorage, local_storage: Path) -> None:
    issued = datetime.now(UTC)
    presigned = local.presigned_post(KEY, max_size=1024, expires_in=300)

    with time_machine.travel(issued + timedelta(seconds=302)):
        expired = local_upload(presigned.as_dict(), b"payload")
    assert expired.status_code == 403
    assert "Policy expired" in expired.content.decode()
    assert files_under(local_storage) == []

    with time_machine.travel(issued + timedelta(seconds=290)):
        assert local_upload(presigned.as_dict(), b"payload").status_code == 204


@pytest.mark.parametrize(
    ("size", "code"), [(1025, "EntityTooLarge"), (9, "EntityTooSmall"), (3 * MIB, "EntityTooLarge")]
)
def test_local_upload_refuses_a_size_outside_the_range(
    local: LocalObjectStorage, local_storage: Path, size: int, code: str
) -> None:
    presigned = local.presigned_post(KEY, min_size=10, max_size=1024, expires_in=300)
    response = local_upload(presigned.as_dict(), b"x" * size)
    assert response.status_code == 400
    assert s3_error_code(response) == code
    assert files_under(local_storage) == []


def test_local_upload_keeps_the_old_object_when_a_replacement_is_refused(
    local: LocalObjectStorage, local_storage: Path
) -> None:
    presigned = local.presigned_post(KEY, max_size=16, expires_in=300)
    assert local_upload(presigned.as_dict(), b"original").status_code == 204
    assert local_upload(presigned.as_dict(), b"x" * 17).status_code == 400
    assert files_under(local_storage) == [local_storage / KEY]
    assert (local_storage / KEY).read_bytes() == b"original"


def test_local_upload_needs_the_fields_before_the_file(local: LocalObjectStorage, local_storage: Path) -> None:
    presigned = local.presigned_post(KEY, max_size=1024, expires_in=300)
    response = local_upload(presigned.as_dict(), b"payload", file_first=True)
    assert response.status_code == 400
    assert s3_error_code(response) == "InvalidArgument"
    assert files_under(local_storage) == []


def test_local_upload_refuses_malformed_requests(local: LocalObjectStorage, local_storage: Path) -> None:
    presigned = local.presigned_post(KEY, max_size=1024, expires_in=300)
    path = urlsplit(presigned.url).path
    client = Client()

    not_a_form = client.post(path, data=b'{"key": "x"}', content_type="application/json")
    assert (not_a_form.status_code, s3_error_code(not_a_form)) == (400, "MalformedPOSTRequest")

    no_file, content_type = encode_multipart_formdata(list(presigned.fields.items()))
    no_file_response = client.post(path, data=no_file, content_type=content_type)
    assert (no_file_response.status_code, s3_error_code(no_file_response)) == (400, "MalformedPOSTRequest")

    whole, content_type = encode_multipart_formdata([*presigned.fields.items(), ("file", ("file", b"x" * 500))])
    truncated = client.post(path, data=whole[:-100], content_type=content_type)
    assert (truncated.status_code, s3_error_code(truncated)) == (400, "MalformedPOSTRequest")

    no_length = client.post(path, data=whole, content_type=content_type, CONTENT_LENGTH="")
    assert (no_length.status_code, s3_error_code(no_length)) == (411, "MissingContentLength")

    assert client.get(path).status_code == 405
    assert files_under(local_storage) == []


def test_local_head_sees_only_objects(local: LocalObjectStorage) -> None:
    presigned = local.presigned_post(KEY, max_size=MIB, expires_in=300)
    assert local_upload(presigned.as_dict(), b"data").status_code == 204
    assert local.head("symbolsets") is None  # a directory, not an object
    assert local.head(f"{KEY}/below") is None
    assert local.head(KEY).size == 4


def test_local_store_signs_only_safe_keys(local: LocalObjectStorage) -> None:
    for key in ["../secret_key", "/etc/passwd", "symbolsets/../../x", "symbolsets/.upload-x", ""]:
        with pytest.raises(Rejected):
            local.presigned_post(key, max_size=1, expires_in=1)
        with pytest.raises(Rejected):
            local.presigned_get_url(key, expires_in=1)


# --- the local store: downloads ----------------------------------------------------------------------------
def test_local_download(local: LocalObjectStorage) -> None:
    assert (
        local_upload(local.presigned_post(KEY, max_size=MIB, expires_in=300).as_dict(), AWKWARD_BYTES).status_code
        == 204
    )
    url = local.presigned_get_url(KEY, expires_in=3600)
    assert url.startswith(f"http://127.0.0.1:8000/object_storage/{KEY}?")

    response = Client().get(urlsplit(url).path, parse_qs(urlsplit(url).query))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == AWKWARD_BYTES


def test_local_download_refuses_bad_signature_expiry_and_missing_objects(local: LocalObjectStorage) -> None:
    presigned = local.presigned_post(KEY, max_size=MIB, expires_in=300)
    assert local_upload(presigned.as_dict(), b"data").status_code == 204
    client = Client()
    url = urlsplit(local.presigned_get_url(KEY, expires_in=60))
    query = {name: values[0] for name, values in parse_qs(url.query).items()}

    forged = client.get(url.path, {**query, "signature": "f" * 64})
    assert (forged.status_code, s3_error_code(forged)) == (403, "SignatureDoesNotMatch")
    other_key = client.get(url.path.replace(KEY, "symbolsets/other"), query)
    assert (other_key.status_code, s3_error_code(other_key)) == (403, "SignatureDoesNotMatch")
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=120)):
        expired = client.get(url.path, query)
    assert (expired.status_code, s3_error_code(expired)) == (403, "AccessDenied")

    local.delete(KEY)
    missing = client.get(url.path, query)
    assert (missing.status_code, s3_error_code(missing)) == (404, "NoSuchKey")


def test_local_endpoints_are_absent_when_storage_is_s3_or_off(s3_storage: str, settings: Any) -> None:
    client = Client()
    assert client.post("/object_storage/", data=b"", content_type="multipart/form-data; boundary=x").status_code == 404
    assert client.get(f"/object_storage/{KEY}").status_code == 404
    settings.OBJECT_STORAGE_ENABLED = False
    assert client.get(f"/object_storage/{KEY}").status_code == 404


# --- the S3 store --------------------------------------------------------------------------------------------
@pytest.fixture
def s3(s3_storage: str) -> S3ObjectStorage:
    storage = get_object_storage()
    assert isinstance(storage, S3ObjectStorage)
    return storage


def test_s3_presigned_post_policy(s3: S3ObjectStorage, s3_storage: str, moto_endpoint: str) -> None:
    with time_machine.travel(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), tick=False):
        presigned = s3.presigned_post(KEY, max_size=100 * MIB, expires_in=300)

    assert presigned.url == f"{moto_endpoint}/{s3_storage}"  # path-style addressing
    assert presigned.fields["key"] == KEY
    assert presigned.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"  # signature v4
    assert all(isinstance(value, str) for value in presigned.fields.values())
    policy = decoded_policy(presigned.fields)
    assert policy["expiration"] == "2026-01-02T03:09:05Z"
    conditions = policy["conditions"]
    assert ["content-length-range", 0, 100 * MIB] in conditions
    assert conditions.count({"key": KEY}) == 1  # boto3 adds it; the store must not add it again
    assert conditions.count({"bucket": s3_storage}) == 1


def test_s3_upload_head_download_delete(s3: S3ObjectStorage) -> None:
    presigned = s3.presigned_post(KEY, max_size=MIB, expires_in=300)
    assert post_upload(presigned.as_dict(), AWKWARD_BYTES).status_code == 204

    assert s3.head(KEY).size == len(AWKWARD_BYTES)
    url = s3.presigned_get_url(KEY, expires_in=3600)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert requests.get(url, timeout=30).content == AWKWARD_BYTES

    s3.delete(KEY)
    assert s3.head(KEY) is None
    s3.delete(KEY)  # deleting what is gone is fine


def test_s3_urls_use_the_public_endpoint_and_calls_the_internal_one(
    s3_storage: str, settings: Any, moto_endpoint: str
) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint, **MOTO_CREDENTIALS).put_object(
        Bucket=s3_storage, Key=KEY, Body=b"12345"
    )
    settings.OBJECT_STORAGE_PUBLIC_ENDPOINT = "http://storage.example.com:9000"
    storage = get_object_storage()

    assert storage.presigned_post(KEY, max_size=1, expires_in=1).url == f"http://storage.example.com:9000/{s3_storage}"
    assert storage.presigned_get_url(KEY, expires_in=1).startswith(f"http://storage.example.com:9000/{s3_storage}/")
    assert storage.head(KEY).size == 5


def test_s3_unreachable_store_raises_object_storage_error(s3_storage: str, settings: Any) -> None:
    settings.OBJECT_STORAGE_ENDPOINT = f"http://127.0.0.1:{embedded.free_port()}"  # nothing listens there
    with pytest.raises(ObjectStorageError):
        get_object_storage().head(KEY)
