"""Rows and requests the symbol set and release tests share."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.test import APIClient

from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet
from tests.support.tenants import Tenant
from tests.symbol_sets.uploads import local_upload

MAX_SIZE = 100 * 1024 * 1024
CHUNK_A = "0190a1b2-c3d4-7e5f-8a9b-00000000000a"
CHUNK_B = "0190a1b2-c3d4-7e5f-8a9b-00000000000b"


def make_release(tenant: Tenant, version: str = "1.0.0", **fields: Any) -> ErrorTrackingRelease:
    values = {"hash_id": f"hash-{version}", "version": version, "project": "web", **fields}
    return ErrorTrackingRelease.objects.create(team=tenant.team, **values)


def make_symbol_set(tenant: Tenant, ref: str = CHUNK_A, **fields: Any) -> ErrorTrackingSymbolSet:
    values = {"storage_ptr": f"symbolsets/{uuid.uuid4()}", **fields}
    return ErrorTrackingSymbolSet.objects.create(team=tenant.team, ref=ref, **values)


def url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/environments/{tenant.team.id}/error_tracking/symbol_sets/{suffix}"


def start(api: APIClient, tenant: Tenant, *symbol_sets: dict[str, Any], **options: Any) -> Any:
    return api.post(url(tenant, "bulk_start_upload"), {"symbol_sets": list(symbol_sets), **options}, format="json")


def finish(api: APIClient, tenant: Tenant, content_hashes: Any) -> Any:
    return api.post(url(tenant, "bulk_finish_upload"), {"content_hashes": content_hashes}, format="json")


def upload(entry: dict[str, Any], data: bytes) -> None:
    """What the client does between start and finish (to the local store, through the test client)."""
    assert local_upload(entry["presigned_url"], data).status_code == 204
