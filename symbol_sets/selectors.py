"""Reads of symbol sets and releases, always within one project."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from environments.models import Team
from posthog_clone.object_storage import ObjectStorage, ObjectStorageUnavailable, get_object_storage
from symbol_sets import errors
from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet

DOWNLOAD_EXPIRY_SECONDS = 3600


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def releases_by_id(*, team: Team, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ErrorTrackingRelease]:
    return {release.id: release for release in ErrorTrackingRelease.objects.filter(team=team, id__in=set(ids))}


def symbol_sets_by_ref(
    *, team: Team, refs: Iterable[str], for_update: bool = False
) -> dict[str, ErrorTrackingSymbolSet]:
    queryset = ErrorTrackingSymbolSet.objects.filter(team=team, ref__in=set(refs))
    if for_update:
        # Locked in one order by every caller, so two overlapping batches cannot deadlock.
        queryset = queryset.select_for_update().order_by("ref")
    return {symbol_set.ref: symbol_set for symbol_set in queryset}


def symbol_sets_by_id(*, team: Team, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ErrorTrackingSymbolSet]:
    queryset = ErrorTrackingSymbolSet.objects.filter(team=team, id__in=set(ids))
    return {symbol_set.id: symbol_set for symbol_set in queryset}


def symbol_set_download_url(*, symbol_set: ErrorTrackingSymbolSet) -> str:
    """A presigned URL (1 hour) for the set's file."""
    if symbol_set.storage_ptr is None:
        raise errors.file_missing()
    return required_object_storage().presigned_get_url(symbol_set.storage_ptr, expires_in=DOWNLOAD_EXPIRY_SECONDS)


def required_object_storage() -> ObjectStorage:
    """The configured store, or the error every upload path answers when object storage is turned off."""
    try:
        return get_object_storage()
    except ObjectStorageUnavailable:
        raise errors.object_storage_required() from None
