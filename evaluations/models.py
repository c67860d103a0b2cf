from __future__ import annotations

from typing import ClassVar

from django.db import models

from environments.models import Team, User
from posthog_clone.ids import uuid7


class EvaluationType(models.TextChoices):
    LLM_JUDGE = "llm_judge", "LLM as a judge"


class OutputType(models.TextChoices):
    BOOLEAN = "boolean", "Boolean (Pass/Fail)"
    NUMERIC = "numeric", "Numeric (score)"
    CATEGORICAL = "categorical", "Categorical"


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


class RunTrigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    ONLINE = "online", "Online"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class EvaluationRun(models.Model):
    """One run of an evaluation on one event, keyed by its Temporal workflow id. The workflow's activities move it
    from `pending` to `running` to `completed`, `failed` or `skipped`; a completed run names the `$ai_evaluation`
    event it emitted."""

    id = models.CharField(primary_key=True, max_length=255, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="runs")
    target_event_id = models.UUIDField()
    event = models.CharField(max_length=400)
    timestamp = models.DateTimeField()
    distinct_id = models.CharField(max_length=400)
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING)
    # The run's output type, from when it started (null while pending); its typed result (a boolean, a number or a
    # list of category keys; null when not applicable or not completed) and whether that passed (null when it
    # cannot: not applicable, or no passing rule). `verdict` is the boolean result alone, as before.
    result_type = models.CharField(max_length=50, choices=OutputType.choices, null=True)  # noqa: DJ001 - null: not started
    result = models.JSONField(null=True)
    passed = models.BooleanField(null=True)
    verdict = models.BooleanField(null=True)
    applicable = models.BooleanField(null=True)
    reasoning = models.TextField(blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    input_tokens = models.IntegerField(null=True)
    output_tokens = models.IntegerField(null=True)
    error_code = models.CharField(max_length=100, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    emitted_event_id = models.UUIDField(null=True)
    created_at = models.DateTimeField()
    # When its workflow was started in Temporal; online runs wait here (NULL) while Temporal is unreachable.
    dispatched_at = models.DateTimeField(null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        indexes: ClassVar = [
            # Newest first; ties (a batch's online runs share created_at) are few enough to sort.
            models.Index(fields=["team", "-created_at"], name="evaluation_run_team_created"),
            models.Index(fields=["team", "evaluation", "-created_at"], name="evaluation_run_team_evaluation"),
            models.Index(fields=["team", "target_event_id"], name="evaluation_run_team_target"),
            # What the dispatcher polls: online runs whose workflow has not been started yet.
            models.Index(
                fields=["created_at"],
                name="evaluation_run_undispatched",
                condition=models.Q(dispatched_at__isnull=True, status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return self.id


class ProviderKeyProvider(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    # Any server speaking OpenAI's API at a base URL of the project's choosing: Ollama, vLLM, llama.cpp, LiteLLM.
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible"


class ProviderKeyState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    OK = "ok", "OK"
    INVALID = "invalid", "Invalid"
    ERROR = "error", "Error"


class LLMProviderKey(models.Model):
    """A project's own key for an LLM provider. The secret is in `encrypted_config` (Fernet, see
    `posthog_clone.encryption`) and never leaves the server; `api_key_masked` is what the API shows of it."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="llm_provider_keys")
    provider = models.CharField(max_length=50, choices=ProviderKeyProvider.choices)
    name = models.CharField(max_length=255)
    state = models.CharField(max_length=20, choices=ProviderKeyState.choices, default=ProviderKeyState.UNKNOWN)
    error_message = models.TextField(blank=True, default="")
    # `{"api_key": ...}`, encrypted; the key may be absent for an OpenAI-compatible server that needs none.
    encrypted_config = models.TextField()
    api_key_masked = models.CharField(max_length=20, blank=True, default="")
    # The OpenAI-compatible server's base URL (not a secret: credentials in it are refused).
    base_url = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "id"]
        indexes: ClassVar = [models.Index(fields=["team", "-created_at"], name="llm_provider_key_team_created")]

    def __str__(self) -> str:
        return self.name
