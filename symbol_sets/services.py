"""Writes to symbol sets and releases.

The upload flow is PostHog's: `bulk_start_upload` creates or re-points symbol sets and hands out presigned POSTs,
the client uploads each file straight to object storage, and `bulk_finish_upload` checks what arrived and records
the content hashes. Each function validates its whole input before it writes, and writes in one transaction, so a
failed request leaves nothing behind. Stored objects are deleted only once the rows that point at them are gone.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from environments.models import Team
from posthog_clone.ids import uuid7
from posthog_clone.object_storage import (
    ObjectStorage,
    ObjectStorageError,
    ObjectStorageUnavailable,
    PresignedPost,
    get_object_storage,
)
from symbol_sets import errors, selectors
from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet

logger = structlog.get_logger(__name__)

MAX_SYMBOL_SET_SIZE = 100 * 1024 * 1024  # the PostHog CLI skips larger chunks itself
STORAGE_FOLDER = "symbolsets"
BULK_UPLOAD_EXPIRY_SECONDS = 300
SINGLE_UPLOAD_EXPIRY_SECONDS = 3600
# Uploads mark sets as recently used (retention keeps them), but rewriting the timestamp on every upload of an
# unchanged chunk would turn each CLI run into a burst of updates.
LAST_USED_REFRESH_AFTER = timedelta(hours=12)


@dataclass(frozen=True)
class ChunkUpload:
    """One chunk a client wants to upload: its id (the symbol set's `ref`), release and content hash."""

    chunk_id: str
    release_id: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True)
class UploadTicket:
    symbol_set_id: uuid.UUID
    presigned_post: PresignedPost


@dataclass(frozen=True)
class _UploadDecision:
    upload: ChunkUpload
    release: ErrorTrackingRelease | None
    existing: ErrorTrackingSymbolSet | None
    needs_upload: bool
    binds_release: bool

    @property
    def acts(self) -> bool:
        return self.existing is None or self.needs_upload or self.binds_release


# --- the upload flow ------------------------------------------------------------------------------------
def symbol_sets_bulk_start_upload(
    *, team: Team, uploads: Sequence[ChunkUpload], force: bool = False, skip_on_conflict: bool = False
) -> dict[str, UploadTicket]:
    """Create or re-point the symbol sets the chunks need and return an upload for each chunk that needs one,
    by chunk id. A chunk already stored with the same content hash gets none."""
    releases = _validated_releases(team=team, uploads=uploads, force=force, skip_on_conflict=skip_on_conflict)
    storage = selectors.required_object_storage()
    with _creating_symbol_sets():
        decisions = _decide_all(
            team=team, uploads=uploads, releases=releases, force=force, skip_on_conflict=skip_on_conflict
        )
        return _apply(team=team, decisions=decisions, storage=storage, expires_in=BULK_UPLOAD_EXPIRY_SECONDS)


def symbol_sets_bulk_check_upload(
    *, team: Team, uploads: Sequence[ChunkUpload], force: bool = False, skip_on_conflict: bool = False
) -> list[str]:
    """The chunk ids `symbol_sets_bulk_start_upload` would act on, with the same errors; creates nothing."""
    releases = _validated_releases(team=team, uploads=uploads, force=force, skip_on_conflict=skip_on_conflict)
    with transaction.atomic():
        decisions = _decide_all(
            team=team, uploads=uploads, releases=releases, force=force, skip_on_conflict=skip_on_conflict
        )
        now = timezone.now()
        existing = [decision.existing for decision in decisions if decision.existing is not None]
        refreshed = [symbol_set for symbol_set in existing if _refresh_last_used(symbol_set, now)]
        ErrorTrackingSymbolSet.objects.bulk_update(refreshed, ["last_used"])
    return [decision.upload.chunk_id for decision in decisions if decision.acts]


def symbol_set_start_upload(*, team: Team, chunk_id: str, release_id: str | None = None) -> UploadTicket:
    """The single-chunk start (PostHog's deprecated `start_upload`): always issues a new upload, replacing any
    stored content once finished."""
    upload = ChunkUpload(chunk_id=chunk_id, release_id=release_id)
    releases = _validated_releases(team=team, uploads=[upload], force=False, skip_on_conflict=False)
    storage = selectors.required_object_storage()
    with _creating_symbol_sets():
        existing = selectors.symbol_sets_by_ref(team=team, refs=[chunk_id], for_update=True).get(chunk_id)
        release = releases.get(release_id) if release_id else None
        decision = _UploadDecision(
            upload=upload,
            release=release,
            existing=existing,
            needs_upload=True,
            binds_release=_binds_release(upload, release, existing),
        )
        tickets = _apply(team=team, decisions=[decision], storage=storage, expires_in=SINGLE_UPLOAD_EXPIRY_SECONDS)
    return tickets[chunk_id]


def symbol_set_finish_upload(*, team: Team, symbol_set: ErrorTrackingSymbolSet, content_hash: str | None) -> None:
    """Confirm one upload. The first confirmed hash stays: finishing again cannot change it."""
    if not content_hash:
        raise errors.content_hash_required_to_finish()
    storage = selectors.required_object_storage()
    _check_uploaded(team=team, storage=storage, symbol_sets=[symbol_set])
    ErrorTrackingSymbolSet.objects.filter(pk=symbol_set.pk, content_hash__isnull=True).update(content_hash=content_hash)


def symbol_sets_bulk_finish_upload(*, team: Team, content_hashes: Mapping[str, str | None]) -> None:
    """Confirm uploads by symbol set id. Nothing changes unless every file is there and within the size limit;
    a file that is empty or too large costs its symbol set, which is deleted with it."""
    if not content_hashes:
        return  # a re-run where every chunk was already present still calls finish
    if not all(content_hashes.values()):
        raise errors.content_hash_required_to_finish()
    storage = selectors.required_object_storage()
    parsed_ids = {raw: selectors.parse_uuid(raw) for raw in content_hashes}
    found = selectors.symbol_sets_by_id(team=team, ids=[parsed for parsed in parsed_ids.values() if parsed])
    unknown = [raw for raw, parsed in parsed_ids.items() if parsed not in found]
    if unknown:
        raise errors.unknown_symbol_set_ids(unknown)
    _check_uploaded(team=team, storage=storage, symbol_sets=list(found.values()))
    for raw, content_hash in content_hashes.items():
        found[parsed_ids[raw]].content_hash = content_hash
    ErrorTrackingSymbolSet.objects.bulk_update(found.values(), ["content_hash"])


# --- deletion ---------------------------------------------------------------------------------------------
def symbol_sets_delete(*, team: Team, symbol_sets: Collection[ErrorTrackingSymbolSet]) -> int:
    """Delete the sets and then their stored objects; returns how many sets were deleted."""
    with transaction.atomic():
        deleted, _ = ErrorTrackingSymbolSet.objects.filter(team=team, id__in=[s.id for s in symbol_sets]).delete()
        _delete_objects_on_commit([s.storage_ptr for s in symbol_sets if s.storage_ptr])
    return deleted


def symbol_sets_bulk_delete(*, team: Team, ids: Iterable[uuid.UUID]) -> int:
    """Delete the project's sets among `ids`; ids of other projects, or of nothing, are ignored."""
    return symbol_sets_delete(team=team, symbol_sets=list(selectors.symbol_sets_by_id(team=team, ids=ids).values()))


# --- releases ---------------------------------------------------------------------------------------------
def release_create(
    *, team: Team, version: str, project: str, hash_id: str | None = None, metadata: Any = None
) -> ErrorTrackingRelease:
    release = ErrorTrackingRelease(team=team, version=version, project=project, metadata=metadata)
    release.hash_id = hash_id or str(release.id)
    _save_release(release)
    return release


def release_update(*, release: ErrorTrackingRelease, data: Mapping[str, Any]) -> ErrorTrackingRelease:
    for field, value in data.items():
        setattr(release, field, value)
    release.hash_id = release.hash_id or str(release.id)  # as on creation, no hash id means the release's id
    _save_release(release)
    return release


def release_delete(*, release: ErrorTrackingRelease) -> None:
    """Delete a release with its symbol sets (the foreign key cascades) and their stored objects."""
    with transaction.atomic():
        keys = list(release.symbol_sets.exclude(storage_ptr=None).values_list("storage_ptr", flat=True))
        release.delete()
        _delete_objects_on_commit(keys)


# --- internals --------------------------------------------------------------------------------------------
def _validated_releases(
    *, team: Team, uploads: Sequence[ChunkUpload], force: bool, skip_on_conflict: bool
) -> dict[str, ErrorTrackingRelease]:
    """Check a batch as a whole before anything is written; return its releases by the id as sent."""
    if force and skip_on_conflict:
        raise errors.invalid_conflict_handling()
    duplicates = [chunk_id for chunk_id, count in Counter(u.chunk_id for u in uploads).items() if count > 1]
    if duplicates:
        raise errors.duplicate_chunk_ids(duplicates)
    requested = {u.release_id: selectors.parse_uuid(u.release_id) for u in uploads if u.release_id is not None}
    malformed = [raw for raw, parsed in requested.items() if parsed is None]
    if malformed:
        raise errors.invalid_release_ids(malformed)
    found = selectors.releases_by_id(team=team, ids=[parsed for parsed in requested.values() if parsed])
    unknown = [raw for raw, parsed in requested.items() if parsed not in found]
    if unknown:
        raise errors.unknown_release_ids(unknown)
    return {raw: found[parsed] for raw, parsed in requested.items() if parsed}


def _binds_release(
    upload: ChunkUpload, release: ErrorTrackingRelease | None, existing: ErrorTrackingSymbolSet | None
) -> bool:
    """Whether the upload attaches a release to an existing set; a set never changes release, nor loses one."""
    if release is None or existing is None or existing.release_id == release.id:
        return False
    if existing.release_id is not None:
        raise errors.release_id_mismatch(upload.chunk_id)
    return True


def _needs_upload(
    upload: ChunkUpload, existing: ErrorTrackingSymbolSet, *, force: bool, skip_on_conflict: bool
) -> bool:
    stored, sent = existing.content_hash, upload.content_hash
    if stored is None:
        return True  # a pending upload being restarted
    if sent is None:
        raise errors.content_hash_required_to_replace(upload.chunk_id)
    if sent == stored:
        return False
    if force:
        return True
    if skip_on_conflict:
        logger.warning("symbol_set_conflict_skipped", ref=upload.chunk_id, symbol_set_id=str(existing.id))
        return False
    raise errors.content_hash_mismatch(upload.chunk_id)


def _decide(
    upload: ChunkUpload,
    releases: Mapping[str, ErrorTrackingRelease],
    existing: ErrorTrackingSymbolSet | None,
    *,
    force: bool,
    skip_on_conflict: bool,
) -> _UploadDecision:
    release = releases.get(upload.release_id) if upload.release_id else None
    binds_release = _binds_release(upload, release, existing)  # checked first: a release conflict is the worse one
    needs_upload = existing is None or _needs_upload(upload, existing, force=force, skip_on_conflict=skip_on_conflict)
    return _UploadDecision(
        upload=upload, release=release, existing=existing, needs_upload=needs_upload, binds_release=binds_release
    )


def _decide_all(
    *,
    team: Team,
    uploads: Sequence[ChunkUpload],
    releases: Mapping[str, ErrorTrackingRelease],
    force: bool,
    skip_on_conflict: bool,
) -> list[_UploadDecision]:
    """What to do with each chunk, given the project's sets for these refs (locked until the transaction ends)."""
    existing = selectors.symbol_sets_by_ref(team=team, refs=[u.chunk_id for u in uploads], for_update=True)
    return [
        _decide(upload, releases, existing.get(upload.chunk_id), force=force, skip_on_conflict=skip_on_conflict)
        for upload in uploads
    ]


def _apply(
    *, team: Team, decisions: Sequence[_UploadDecision], storage: ObjectStorage, expires_in: int
) -> dict[str, UploadTicket]:
    """Write the decisions (one insert and one update for the batch) and presign an upload per new file. Every
    upload goes to a new key, so a restarted upload never overwrites an object a finished set points at."""
    if any(decision.needs_upload for decision in decisions):
        # Signing needs no round trip to S3; without this check a client would get URLs to a store that is down.
        storage.check()
    now = timezone.now()
    created: list[ErrorTrackingSymbolSet] = []
    changed: list[ErrorTrackingSymbolSet] = []
    tickets: dict[str, UploadTicket] = {}
    for decision in decisions:
        symbol_set = decision.existing
        if symbol_set is None:
            symbol_set = ErrorTrackingSymbolSet(team=team, ref=decision.upload.chunk_id, release=decision.release)
            created.append(symbol_set)
        if decision.binds_release:
            symbol_set.release = decision.release
        if decision.needs_upload:
            symbol_set.storage_ptr = f"{STORAGE_FOLDER}/{uuid7()}"
            symbol_set.content_hash = None
            symbol_set.failure_reason = None  # new content gets a new chance at symbolication
            post = storage.presigned_post(symbol_set.storage_ptr, max_size=MAX_SYMBOL_SET_SIZE, expires_in=expires_in)
            tickets[decision.upload.chunk_id] = UploadTicket(symbol_set_id=symbol_set.id, presigned_post=post)
        refreshed = _refresh_last_used(symbol_set, now)
        if decision.existing is not None and (decision.acts or refreshed):
            changed.append(symbol_set)
    ErrorTrackingSymbolSet.objects.bulk_create(created)
    ErrorTrackingSymbolSet.objects.bulk_update(
        changed, ["release", "storage_ptr", "content_hash", "failure_reason", "last_used"]
    )
    return tickets


def _refresh_last_used(symbol_set: ErrorTrackingSymbolSet, now: datetime) -> bool:
    if symbol_set.last_used is not None and now - symbol_set.last_used < LAST_USED_REFRESH_AFTER:
        return False
    symbol_set.last_used = now
    return True


@contextmanager
def _creating_symbol_sets() -> Iterator[None]:
    """A transaction in which symbol sets are created. Existing rows are locked, but two requests can still both
    try to create the same new ref; the loser gets a 409 to retry (the PostHog CLI retries failed batches)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        raise errors.concurrent_upload() from error


def _check_uploaded(*, team: Team, storage: ObjectStorage, symbol_sets: Sequence[ErrorTrackingSymbolSet]) -> None:
    """Every set's file must be stored, non-empty and within the limit. A missing file leaves the set pending, so
    the client can upload and finish again; an empty or oversize one is deleted with its set."""
    keys = [s.storage_ptr for s in symbol_sets if s.storage_ptr]
    found = storage.head_many(keys)
    if len(keys) < len(symbol_sets) or None in found:
        raise errors.file_not_found()
    rejected = [
        symbol_set
        for symbol_set, stored in zip(symbol_sets, found, strict=True)
        if stored is None or not 0 < stored.size <= MAX_SYMBOL_SET_SIZE
    ]
    if rejected:
        symbol_sets_delete(team=team, symbol_sets=rejected)
        raise errors.file_too_large()


def _delete_objects_on_commit(keys: list[str]) -> None:
    """Remove stored objects once the deleting transaction commits. A failure only leaves an orphaned object, so
    it is logged rather than failing a request whose rows are already gone."""
    if not keys:
        return

    def delete_objects() -> None:
        try:
            storage = get_object_storage()
        except ObjectStorageUnavailable:
            return
        for key in keys:
            try:
                storage.delete(key)
            except ObjectStorageError:
                logger.warning("symbol_set_object_not_deleted", key=key, exc_info=True)

    transaction.on_commit(delete_objects)


def _save_release(release: ErrorTrackingRelease) -> None:
    try:
        with transaction.atomic():
            release.save()
    except IntegrityError as error:  # the only unique constraint besides the primary key
        raise errors.hash_id_in_use(release.hash_id) from error
