"""Events and the persons their distinct ids belong to.

Events do not store a person id: the person is resolved through `PersonDistinctId` when read, so a merge of two
persons shows on every past event at once.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from environments.models import Team
from posthog_clone.ids import uuid7


class Event(models.Model):
    pk = models.CompositePrimaryKey("team_id", "uuid")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    uuid = models.UUIDField()
    event = models.CharField(max_length=400)
    distinct_id = models.CharField(max_length=400)
    properties = models.JSONField(default=dict)
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField()
    elements_chain = models.TextField(blank=True, default="")

    class Meta:
        indexes: ClassVar = [
            # The default list and its cursor pages: newest first, ties broken by uuid.
            models.Index(fields=["team", "-timestamp", "-uuid"], name="event_team_timestamp"),
            models.Index(fields=["team", "event", "-timestamp", "-uuid"], name="event_team_event_timestamp"),
            models.Index(fields=["team", "distinct_id", "-timestamp"], name="event_team_distinct_timestamp"),
        ]

    def __str__(self) -> str:
        return f"{self.event} ({self.uuid})"


class Person(models.Model):
    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid7, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    properties = models.JSONField(default=dict)
    is_identified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.uuid)


class PersonDistinctId(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="distinct_ids")
    distinct_id = models.CharField(max_length=400)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["team", "distinct_id"], name="unique_distinct_id_per_team"),
        ]

    def __str__(self) -> str:
        return self.distinct_id
