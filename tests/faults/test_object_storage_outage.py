"""(c) Object storage unreachable (moto in server mode, stopped and started again): starts answer 503
`object_storage_unavailable`, finishing uploaded files fails without half-made sets, and uploads resume cleanly
once the store is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from posthog_clone import embedded
from symbol_sets.models import ErrorTrackingSymbolSet
from tests.support.errors import assert_error
from tests.support.storage import MOTO_CREDENTIALS
from tests.support.tenants import Tenant
from tests.symbol_sets.helpers import CHUNK_A, CHUNK_B, finish, start
from tests.symbol_sets.uploads import content_hash, post_upload

# Processes of their own, killed and restarted: one xdist worker runs the module's tests, first (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("faults")

BUCKET = "outage"
CHUNK_C = "0190a1b2-c3d4-7e5f-8a9b-00000000000c"
FILES = {CHUNK_A: b"a" * 1000, CHUNK_B: b"b" * 2000, CHUNK_C: b"c" * 3000}


class OwnMoto:
    """A moto server of this test's own, on one port across restarts (a restart loses its contents, as a store
    replaced by an empty one would)."""

    def __init__(self) -> None:
        self.port = embedded.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        embedded.wait_for_port("127.0.0.1", self.port, timeout=30)
        boto3.client("s3", endpoint_url=self.endpoint, **MOTO_CREDENTIALS).create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def moto(settings: Any) -> Iterator[OwnMoto]:
    own = OwnMoto()
    own.start()
    settings.OBJECT_STORAGE_ENABLED = True
    settings.OBJECT_STORAGE_ENDPOINT = own.endpoint
    settings.OBJECT_STORAGE_PUBLIC_ENDPOINT = ""
    settings.OBJECT_STORAGE_ACCESS_KEY_ID = MOTO_CREDENTIALS["aws_access_key_id"]
    settings.OBJECT_STORAGE_SECRET_ACCESS_KEY = MOTO_CREDENTIALS["aws_secret_access_key"]
    settings.OBJECT_STORAGE_REGION = MOTO_CREDENTIALS["region_name"]
    settings.OBJECT_STORAGE_BUCKET = BUCKET
    try:
        yield own
    finally:
        own.stop()


def upload_all(api: Any, tenant: Tenant, *chunk_ids: str) -> dict[str, str]:
    """Start and upload `chunk_ids`; their symbol set ids by chunk id."""
    started = start(api, tenant, *({"chunk_id": chunk_id} for chunk_id in chunk_ids))
    assert started.status_code == 200, started.content
    id_map = started.json()["id_map"]
    for chunk_id in chunk_ids:
        assert post_upload(id_map[chunk_id]["presigned_url"], FILES[chunk_id]).status_code == 204
    return {chunk_id: id_map[chunk_id]["symbol_set_id"] for chunk_id in chunk_ids}


@pytest.mark.django_db
def test_uploads_through_an_object_storage_outage(moto: OwnMoto, key_client: Any, tenant: Tenant) -> None:
    api = key_client("error_tracking:write")
    ids = upload_all(api, tenant, CHUNK_A, CHUNK_B)
    assert finish(api, tenant, {ids[CHUNK_A]: content_hash(FILES[CHUNK_A])}).status_code == 200

    moto.stop()
    refused = start(api, tenant, {"chunk_id": CHUNK_C})
    assert_error(
        refused, 503, code="object_storage_unavailable", detail="Object storage is unavailable; try again later."
    )
    assert refused["Retry-After"] == "1"
    assert not ErrorTrackingSymbolSet.objects.filter(team=tenant.team, ref=CHUNK_C).exists()
    unfinished = finish(api, tenant, {ids[CHUNK_B]: content_hash(FILES[CHUNK_B])})
    assert_error(unfinished, 503, code="object_storage_unavailable")
    sets = {s.ref: s for s in ErrorTrackingSymbolSet.objects.filter(team=tenant.team)}
    assert sets[CHUNK_B].content_hash is None  # not half-made: still waiting for its upload to be confirmed
    assert sets[CHUNK_A].content_hash == content_hash(FILES[CHUNK_A])

    moto.start()  # back, and empty
    resumed = upload_all(api, tenant, CHUNK_B, CHUNK_C)
    assert resumed[CHUNK_B] == ids[CHUNK_B]  # the same set takes the new upload
    hashes = {resumed[chunk_id]: content_hash(FILES[chunk_id]) for chunk_id in (CHUNK_B, CHUNK_C)}
    assert finish(api, tenant, hashes).status_code == 200
    finished = {s.ref: s.content_hash for s in ErrorTrackingSymbolSet.objects.filter(team=tenant.team)}
    assert finished == {chunk_id: content_hash(data) for chunk_id, data in FILES.items()}
