"""The PostHog CLI's upload sequence replayed over real HTTP against the running server, with both stores.

The real CLI cannot run here (its binary is not installable offline), so these tests re-implement its requests
as the spec describes them: `Authorization: Bearer`, `/api/projects/:id/...` without trailing slashes, the
release lookup/creation, `bulk_start_upload`, one multipart POST per id_map entry (fields as text parts, then
`file`), and `bulk_finish_upload`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from symbol_sets.models import ErrorTrackingSymbolSet
from tests.support.tenants import KeyFactory, Tenant
from tests.symbol_sets.uploads import TIMEOUT, content_hash, post_upload


class CLI:
    """The HTTP the PostHog CLI sends, against one project."""

    def __init__(self, host: str, token: str, project_id: int, *, prefix: str = "projects") -> None:
        self.base = f"{host}/api/{prefix}/{project_id}/error_tracking"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": "posthog-cli"})

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.base}/{path}", params=params, timeout=TIMEOUT)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(f"{self.base}/{path}", json=body, timeout=TIMEOUT)

    def release(self, project: str, version: str) -> dict[str, Any]:
        hash_id = hashlib.sha512(project.encode() + version.encode()).hexdigest()
        found = self.get(f"releases/hash/{hash_id}")
        if found.status_code == 200:
            return found.json()
        assert found.status_code == 404, found.text
        created = self.post("releases", {"hash_id": hash_id, "version": version, "project": project, "metadata": {}})
        assert created.status_code == 201, created.text
        return created.json()

    def upload(self, chunks: dict[str, bytes], *, release_id: str | None, filename: str | None = "file") -> int:
        """Start, upload and finish one batch; returns how many chunks were uploaded."""
        body = {
            "symbol_sets": [
                {"chunk_id": chunk_id, "release_id": release_id, "content_hash": content_hash(data)}
                for chunk_id, data in chunks.items()
            ]
        }
        started = self.post("symbol_sets/bulk_start_upload", body)
        assert started.status_code == 200, started.text
        id_map = started.json()["id_map"]
        content_hashes = {}
        for chunk_id, entry in id_map.items():
            assert all(isinstance(value, str) for value in entry["presigned_url"]["fields"].values())
            uploaded = post_upload(entry["presigned_url"], chunks[chunk_id], filename=filename)
            assert uploaded.status_code == 204, uploaded.text
            content_hashes[entry["symbol_set_id"]] = content_hash(chunks[chunk_id])
        finished = self.post("symbol_sets/bulk_finish_upload", {"content_hashes": content_hashes})
        assert finished.status_code == 200, finished.text
        assert finished.json() == {"success": True}
        return len(id_map)

    def download(self, chunk_id: str) -> bytes:
        """`resolve_ref` (`?ref=&limit=1`), then the download helper."""
        listed = self.get("symbol_sets/", ref=chunk_id, limit=1)
        assert listed.status_code == 200, listed.text
        symbol_set_id = listed.json()["results"][0]["id"]
        url = self.get(f"symbol_sets/{symbol_set_id}/download/")
        assert url.status_code == 200, url.text
        fetched = requests.get(url.json()["url"], timeout=TIMEOUT)
        assert fetched.status_code == 200
        return fetched.content


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, live_server: Any, settings: Any) -> str:
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    else:
        settings.SITE_URL = live_server.url  # where the local store's presigned URLs point
    return request.param


@pytest.fixture
def make_cli(live_server: Any, tenant: Tenant, make_key: KeyFactory) -> Iterator[Callable[..., CLI]]:
    clients: list[CLI] = []

    def factory(*, prefix: str = "projects") -> CLI:
        clients.append(CLI(live_server.url, make_key("error_tracking:write"), tenant.team.id, prefix=prefix))
        return clients[-1]

    yield factory
    # A kept-alive connection would keep its server thread, and that thread's database connection, alive past
    # the end of the run, and the test database could not be dropped.
    for client in clients:
        client.session.close()


@pytest.fixture
def cli(make_cli: Callable[..., CLI]) -> CLI:
    return make_cli()


def chunk_batch(count: int, size: int = 4096) -> dict[str, bytes]:
    return {f"0190a1b2-c3d4-7e5f-8a9b-{index:012x}": os.urandom(size) for index in range(count)}


def test_upload_batch_then_rerun_uploads_nothing(store: str, cli: CLI, tenant: Tenant) -> None:
    release = cli.release("web", "1.2.3")
    chunks = chunk_batch(3)

    assert cli.upload(chunks, release_id=release["id"]) == 3

    stored = ErrorTrackingSymbolSet.objects.filter(team=tenant.team).order_by("ref")
    assert [s.ref for s in stored] == sorted(chunks)
    assert all(s.content_hash == content_hash(chunks[s.ref]) and str(s.release_id) == release["id"] for s in stored)
    for chunk_id, data in chunks.items():
        assert cli.download(chunk_id) == data
    # The second run finds the same release and every chunk already there: nothing to upload, finish still 200.
    assert cli.release("web", "1.2.3")["id"] == release["id"]
    assert cli.upload(chunks, release_id=release["id"]) == 0


def test_old_cli_shapes_environments_prefix_and_legacy_body(store: str, make_cli: Callable[..., CLI]) -> None:
    cli = make_cli(prefix="environments")
    chunks = chunk_batch(2, size=300_000)  # spans several reads of the upload body
    started = cli.post("symbol_sets/bulk_start_upload/", {"chunk_ids": list(chunks), "release_id": None})
    assert started.status_code == 200, started.text
    # Old CLIs sent the file part without a filename. AWS and the local store take it as the file; moto, like
    # MinIO, reads it as a text field and mangles binary bytes, so the S3 run sends a filename.
    filename = None if store == "local" else "file"
    content_hashes = {}
    for chunk_id, entry in started.json()["id_map"].items():
        assert post_upload(entry["presigned_url"], chunks[chunk_id], filename=filename).status_code == 204
        content_hashes[entry["symbol_set_id"]] = content_hash(chunks[chunk_id])
    assert cli.post("symbol_sets/bulk_finish_upload/", {"content_hashes": content_hashes}).status_code == 200
    for chunk_id, data in chunks.items():
        assert cli.download(chunk_id) == data


def test_changed_content_is_refused_then_replaced_with_force(store: str, cli: CLI, tenant: Tenant) -> None:
    chunk_id = "0190a1b2-c3d4-7e5f-8a9b-000000000001"
    assert cli.upload({chunk_id: b"first build"}, release_id=None) == 1

    changed = {"symbol_sets": [{"chunk_id": chunk_id, "content_hash": content_hash(b"second build")}]}
    refused = cli.post("symbol_sets/bulk_start_upload", changed)
    assert refused.status_code == 400
    assert refused.json()["code"] == "content_hash_mismatch"

    forced = cli.post("symbol_sets/bulk_start_upload", {**changed, "force": True})
    entry = forced.json()["id_map"][chunk_id]
    assert post_upload(entry["presigned_url"], b"second build").status_code == 204
    finished = cli.post("symbol_sets/bulk_finish_upload", {"content_hashes": {entry["symbol_set_id"]: "h2"}})
    assert finished.status_code == 200
    assert cli.download(chunk_id) == b"second build"


def test_finish_without_upload_keeps_the_pending_set_for_a_retry(store: str, cli: CLI, tenant: Tenant) -> None:
    chunk_id = "0190a1b2-c3d4-7e5f-8a9b-000000000002"
    started = cli.post("symbol_sets/bulk_start_upload", {"symbol_sets": [{"chunk_id": chunk_id}]})
    entry = started.json()["id_map"][chunk_id]

    early = cli.post("symbol_sets/bulk_finish_upload", {"content_hashes": {entry["symbol_set_id"]: "h"}})
    assert early.status_code == 400
    assert early.json()["code"] == "file_not_found"
    assert ErrorTrackingSymbolSet.objects.get(id=entry["symbol_set_id"]).content_hash is None

    assert post_upload(entry["presigned_url"], b"late bytes").status_code == 204
    retried = cli.post("symbol_sets/bulk_finish_upload", {"content_hashes": {entry["symbol_set_id"]: "h"}})
    assert retried.status_code == 200
    assert ErrorTrackingSymbolSet.objects.get(id=entry["symbol_set_id"]).content_hash == "h"


def test_local_store_refuses_a_file_over_100_mib(
    live_server: Any, settings: Any, cli: CLI, tenant: Tenant, local_storage: Any
) -> None:
    settings.SITE_URL = live_server.url
    chunk_id = "0190a1b2-c3d4-7e5f-8a9b-000000000003"
    started = cli.post("symbol_sets/bulk_start_upload", {"symbol_sets": [{"chunk_id": chunk_id}]})
    entry = started.json()["id_map"][chunk_id]

    refused = post_upload(entry["presigned_url"], bytes(100 * 1024 * 1024 + 1))
    assert refused.status_code == 400
    assert "<Code>EntityTooLarge</Code>" in refused.text
    assert [path for path in local_storage.rglob("*") if path.is_file()] == []
    finished = cli.post("symbol_sets/bulk_finish_upload", {"content_hashes": {entry["symbol_set_id"]: "h"}})
    assert finished.json()["code"] == "file_not_found"
