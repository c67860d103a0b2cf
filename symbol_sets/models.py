from __future__ import annotations

from typing import ClassVar

from django.db import models

from environments.models import Team
from posthog_clone.ids import uuid7


class ErrorTrackingRelease(models.Model):
    """A release of the user's code. The client picks `hash_id` (the PostHog CLI sends the SHA-512 hex of
    project + version); without one it is the release's own id."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    hash_id = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.TextField()
    project = models.TextField()
    metadata = models.JSONField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["team", "hash_id"], name="unique_release_hash_id_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.project}@{self.version}"


class ErrorTrackingSymbolSet(models.Model):
    """The symbols of one chunk of the user's code (`ref`, the chunk id), stored as an object at `storage_ptr`.
    `content_hash` is set once the upload is confirmed; until then the set is a pending upload."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    ref = models.TextField()
    # NULL means "none" for these three, as in PostHog: no file, not confirmed, no failure.
    storage_ptr = models.TextField(null=True, blank=True)  # noqa: DJ001
    content_hash = models.TextField(null=True, blank=True)  # noqa: DJ001
    failure_reason = models.TextField(null=True, blank=True)  # noqa: DJ001
    release = models.ForeignKey(
        ErrorTrackingRelease, on_delete=models.CASCADE, null=True, blank=True, related_name="symbol_sets"
    )
    last_used = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [models.UniqueConstraint(fields=["team", "ref"], name="unique_ref_per_team")]
        indexes: ClassVar = [
            # The default list: newest first within a project.
            models.Index(fields=["team", "-created_at", "-id"], name="symbol_set_team_created"),
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def has_uploaded_file(self) -> bool:
        return self.storage_ptr is not None
