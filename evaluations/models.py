from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from environments.models import Team, User
from posthog_clone.ids import uuid7


class EvaluationType(models.TextChoices):
    LLM_JUDGE = "llm_judge", "LLM as a judge"
    HOG = "hog", "Hog code"


class OutputType(models.TextChoices):
    BOOLEAN = "boolean", "Boolean (Pass/Fail)"
    NUMERIC = "numeric", "Numeric (score)"
    CATEGORICAL = "categorical", "Categorical"


class EvaluationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ERROR = "error", "Error"


class StatusReason(models.TextChoices):
    """Why an evaluation is in `error` (PostHog's names; only some are ever set here, see `evaluations.status`)."""

    PROVIDER_KEY_REQUIRED = "provider_key_required", "Provider key required"
    TRIAL_LIMIT_REACHED = "trial_limit_reached", "Trial limit reached"
    MODEL_NOT_ALLOWED = "model_not_allowed", "Model not allowed"
    PROVIDER_KEY_DELETED = "provider_key_deleted", "Provider key deleted"
    NO_DEFAULT_MODEL = "no_default_model", "No default model"
    PROVIDER_KEY_INVALID = "provider_key_invalid", "Provider key invalid"
    PROVIDER_KEY_PERMISSION_DENIED = "provider_key_permission_denied", "Provider key permission denied"
    PROVIDER_KEY_QUOTA_EXCEEDED = "provider_key_quota_exceeded", "Provider key quota exceeded"
    PROVIDER_KEY_RATE_LIMITED = "provider_key_rate_limited", "Provider key rate limited"
    MODEL_NOT_FOUND = "model_not_found", "Model not found"
    HOG_ERROR = "hog_error", "Hog error"


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
    # Authoritative; `enabled` mirrors it (true exactly when active). System code moves it to `error`
    # (`evaluations.status`), with a reason; clients pause and resume.
    status = models.CharField(max_length=20, choices=EvaluationStatus.choices, default=EvaluationStatus.PAUSED)
    status_reason = models.CharField(max_length=50, choices=StatusReason.choices, null=True, blank=True)  # noqa: DJ001 - null: no reason
    status_reason_detail = models.TextField(null=True, blank=True)  # noqa: DJ001 - null: no detail
    evaluation_type = models.CharField(max_length=50, choices=EvaluationType.choices)
    evaluation_config = models.JSONField(default=dict)
    output_type = models.CharField(max_length=50, choices=OutputType.choices)
    output_config = models.JSONField(default=default_output_config)
    conditions = models.JSONField(default=list)
    # The judge's model configuration (llm_judge only): none when `judge_provider` is blank, then the server's
    # own judge runs it. With a provider key the key's secret is used (decrypted by the judge activity).
    judge_provider = models.CharField(max_length=50, blank=True, default="")
    judge_model = models.CharField(max_length=100, blank=True, default="")
    provider_key = models.ForeignKey(
        "LLMProviderKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluations"
    )
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
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(evaluation_type=EvaluationType.LLM_JUDGE)
                | models.Q(judge_provider="", provider_key__isnull=True),
                name="evaluation_model_configuration_llm_judge_only",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=EvaluationStatus.ERROR) | models.Q(status_reason__isnull=False),
                name="evaluation_error_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A new row takes its status from `enabled` (unless created in error); later writes keep the two in step
        # through the serializer and `evaluations.status`.
        if self._state.adding and self.status != EvaluationStatus.ERROR:
            self.status = EvaluationStatus.ACTIVE if self.enabled else EvaluationStatus.PAUSED
        super().save(*args, **kwargs)

    @property
    def model_configuration(self) -> dict[str, Any] | None:
        """`{provider, model, provider_key_id, provider_key_name}`, or None when the server's judge runs it."""
        if not self.judge_provider:
            return None
        key = self.provider_key
        return {
            "provider": self.judge_provider,
            "model": self.judge_model,
            "provider_key_id": str(key.id) if key else None,
            "provider_key_name": key.name if key else None,
        }


class RunTrigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    ONLINE = "online", "Online"
    BACKFILL = "backfill", "Backfill"


class BackfillStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class EvaluationBackfill(models.Model):
    """An evaluation run over past events: its workflow walks the range newest first, a page at a time, recording a
    pending run per event to judge (the dispatcher starts them) and moving `cursor_*` past what it has read, in one
    transaction per page, so a worker killed mid-page repeats that page and nothing else."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="backfills")
    status = models.CharField(max_length=20, choices=BackfillStatus.choices, default=BackfillStatus.RUNNING)
    target = models.CharField(max_length=20, default="generation")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # Frozen at creation: `[{properties, rollout_percentage}]`.
    conditions = models.JSONField(default=list)
    rerun_existing = models.BooleanField(default=False)
    total_count = models.IntegerField(default=0)
    dispatched_count = models.IntegerField(default=0)
    skipped_count = models.IntegerField(default=0)
    remaining_count = models.IntegerField(null=True)
    # Where the walk is: the last event read (newest first); null before the first page.
    cursor_timestamp = models.DateTimeField(null=True)
    cursor_uuid = models.UUIDField(null=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "id"]
        indexes: ClassVar = [
            models.Index(fields=["team", "evaluation", "-created_at"], name="evaluation_backfill_list"),
        ]
        constraints: ClassVar = [
            # One running backfill per evaluation, however many creates race.
            models.UniqueConstraint(
                fields=["evaluation"], condition=models.Q(status="running"), name="evaluation_backfill_one_running"
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)


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
    backfill = models.ForeignKey(
        "EvaluationBackfill", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
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
            # What paces backfills: a project's backfilled runs not finished yet.
            models.Index(
                fields=["team", "backfill"],
                name="evaluation_run_backfill_flight",
                condition=models.Q(trigger="backfill", status__in=["pending", "running"]),
            ),
            # What backfills yield to: online and manual runs not finished yet.
            models.Index(
                fields=["created_at"],
                name="evaluation_run_live_flight",
                condition=models.Q(status__in=["pending", "running"]) & ~models.Q(trigger="backfill"),
            ),
            # What the dispatcher polls: online runs whose workflow has not been started yet.
            models.Index(
                fields=["created_at"],
                name="evaluation_run_undispatched",
                condition=models.Q(dispatched_at__isnull=True, status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return self.id


class OnlineRunIntake(models.Model):
    """The online runs one ingested batch triggered, written in the capture's transaction as one row (what they are:
    `evaluations.scheduling.intake_payload`), and turned into pending `EvaluationRun`s by the worker's dispatcher.
    One row per batch instead of a row per run keeps the indexed, foreign-keyed run table off ingestion's path."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField()
    payload = models.BinaryField()

    class Meta:
        # A project's deletion finds its rows by this (there are few: the dispatcher empties the table).
        indexes: ClassVar = [models.Index(fields=["team"], name="evaluation_intake_team")]

    def __str__(self) -> str:
        return f"intake {self.id}"


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


class EvaluationSummaryCache(models.Model):
    """A summary of an evaluation's results (`llm_analytics/evaluation_summary/`), kept until `expires_at` where
    every web process reads it (Redis instead, when REDIS_URL is set). `key` says what was summarised."""

    key = models.CharField(max_length=200, primary_key=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+")
    value = models.JSONField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["expires_at"], name="evaluation_summary_expires")]

    def __str__(self) -> str:
        return self.key
