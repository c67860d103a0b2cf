"""The errors clients of the symbol set API branch on. Codes and messages follow PostHog's, so the PostHog CLI
reacts to them as it does there (it retries without releases on `release_id_mismatch`, for instance)."""

from __future__ import annotations

from collections.abc import Iterable

from posthog_clone.errors import DomainError, NotFound


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values)))


def object_storage_required() -> DomainError:
    return DomainError("Object storage must be available to allow source map uploads.", code="object_storage_required")


def invalid_conflict_handling() -> DomainError:
    return DomainError("Use either force or skip_on_conflict, not both.", code="invalid_conflict_handling")


def duplicate_chunk_ids(chunk_ids: Iterable[str]) -> DomainError:
    return DomainError(f"Duplicate chunk IDs provided: {_listed(chunk_ids)}", code="invalid_chunk_ids")


def invalid_release_ids(release_ids: Iterable[str]) -> DomainError:
    return DomainError(f"Invalid release ID provided: {_listed(release_ids)}", code="invalid_release_id")


def unknown_release_ids(release_ids: Iterable[str]) -> DomainError:
    return DomainError(f"Unknown release ID provided: {_listed(release_ids)}", code="invalid_release_id")


def release_id_mismatch(ref: str) -> DomainError:
    return DomainError(f"Symbol set {ref} already has a release ID", code="release_id_mismatch")


def content_hash_mismatch(ref: str) -> DomainError:
    return DomainError(f"Symbol set {ref} already exists with different content.", code="content_hash_mismatch")


def content_hash_required_to_replace(ref: str) -> DomainError:
    return DomainError(
        f"Symbol set {ref} already has content; provide a content_hash to update it.", code="content_hash_required"
    )


def content_hash_required_to_finish() -> DomainError:
    return DomainError("A content hash must be provided to complete symbol set upload.", code="content_hash_required")


def unknown_symbol_set_ids(ids: Iterable[str]) -> DomainError:
    return DomainError(f"Unknown symbol set IDs: {_listed(ids)}", code="symbol_set_not_found")


def file_not_found() -> DomainError:
    return DomainError("No file has been uploaded for the symbol set.", code="file_not_found")


def file_missing() -> DomainError:
    return NotFound("Symbol set has no uploaded file.")


def file_too_large() -> DomainError:
    return DomainError("The uploaded symbol set file was too large.", code="file_too_large")


def concurrent_upload() -> DomainError:
    return DomainError(
        "Another request created some of these symbol sets at the same time; retry the request.",
        code="concurrent_upload",
        kind="conflict",
    )


def hash_id_in_use(hash_id: str) -> DomainError:
    return DomainError(f"Hash id {hash_id} already in use", code="invalid_input", attr="hash_id")
