from __future__ import annotations

from typing import ClassVar

from django.db import models

from environments.models import Team, User
from posthog_clone.ids import uuid7


class EvaluationType(models.TextChoices):
    LLM_JUDGE = "llm_judge", "LLM as a judge"


class OutputType(models.TextChoices):
    BOOLEAN = "boolean", "Boolean (Pass/Fail)"


def default_output_config() -> dict[str, bool]:
    return {"allows_na": False}


class Evaluation(models.Model):
    """An LLM evaluation: what to judge (`evaluation_config`), the verdict's shape (`output_config`) and which
    events it runs on automatically (`conditions`). Deleting is soft: `deleted` hides the row."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="evaluations")
    name = models.CharField(max_length=400)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=False)
    evaluation_type = models.CharField(max_length=50, choices=EvaluationType.choices)
    evaluation_config = models.JSONField(default=dict)
    output_type = models.CharField(max_length=50, choices=OutputType.choices)
    output_config = models.JSONField(default=default_output_config)
    conditions = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar = ["-created_at", "id"]
        indexes: ClassVar = [
            # The default list: newest first within a project, skipping soft-deleted rows.
            models.Index(
                fields=["team", "-created_at", "id"],
                name="evaluation_team_created",
                condition=models.Q(deleted=False),
            ),
            # What online evaluation loads for each ingested batch: the enabled evaluations of a project.
            models.Index(fields=["team", "enabled"], name="evaluation_team_enabled", condition=models.Q(deleted=False)),
        ]

    def __str__(self) -> str:
        return self.name
