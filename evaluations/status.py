"""An evaluation's status (`active | paused | error`, which `enabled` mirrors): the run errors that move it to
`error` and the guard on re-enabling one.

A run error that every later run would meet too (the project's provider key refused, forbidden, out of quota; the
model gone) stops the evaluation: one conditional UPDATE moves it to `error`, so however many runs hit the error at
once, it changes once. Only errors with the project's own key (BYOK) do: the server's own key failing is the
operator's to fix, and its runs fail as before. Transient errors (timeouts, 5xx, rate limits) are retried by the
workflow and never stop the evaluation.

"Fixed" is the key's state: a refused, forbidden or exhausted key is marked `invalid` / `error`, and only a live
check puts it back to `ok` (an update with a new api_key, or `validate/`). Re-enabling is refused while the
evaluation's key is not `ok`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from django.db import connection, transaction
from django.utils import timezone

from evaluations.models import (
    Evaluation,
    EvaluationStatus,
    EvaluationType,
    LLMProviderKey,
    ProviderKeyState,
    StatusReason,
)
from posthog_clone.errors import DomainError

logger = structlog.get_logger(__name__)

# Run error code (the judge's `LLMError.kind`, or the key lookup's) → the evaluation's status_reason.
ERROR_REASONS: dict[str, StatusReason] = {
    "auth_error": StatusReason.PROVIDER_KEY_INVALID,
    "key_invalid": StatusReason.PROVIDER_KEY_INVALID,
    "key_not_found": StatusReason.PROVIDER_KEY_DELETED,
    "permission_error": StatusReason.PROVIDER_KEY_PERMISSION_DENIED,
    "quota_error": StatusReason.PROVIDER_KEY_QUOTA_EXCEEDED,
    "model_not_found": StatusReason.MODEL_NOT_FOUND,
}
# Run error code → the key's new state (its error message is the run's).
KEY_STATES: dict[str, ProviderKeyState] = {
    "auth_error": ProviderKeyState.INVALID,
    "permission_error": ProviderKeyState.ERROR,
    "quota_error": ProviderKeyState.ERROR,
}
KEY_REASONS = frozenset(reason for reason in StatusReason if reason.startswith("provider_key_"))

ATTACH_WORKING_KEY = "Attach a working provider API key before re-enabling this evaluation."
CHOOSE_AVAILABLE_MODEL = "Choose an available model before re-enabling this evaluation."

SET_ERROR = """
UPDATE evaluations_evaluation
SET status = 'error', enabled = false, status_reason = %s, status_reason_detail = %s, updated_at = now()
WHERE team_id = %s AND id = %s AND status <> 'error' AND NOT deleted
RETURNING id
"""
SET_ERROR_WITH_KEY = SET_ERROR.replace("NOT deleted", "NOT deleted AND provider_key_id = %s")


def evaluation_set_error(
    *,
    team_id: int,
    evaluation_id: uuid.UUID | str,
    reason: StatusReason,
    detail: str | None = None,
    provider_key_id: uuid.UUID | str | None = None,
) -> bool:
    """Move the evaluation to `error` with `reason` (disabling it), unless it already is: True only for the one
    call that changed it. With `provider_key_id`, only while the evaluation still uses that key."""
    sql, params = SET_ERROR, [reason.value, detail, team_id, str(evaluation_id)]
    if provider_key_id is not None:
        sql, params = SET_ERROR_WITH_KEY, [*params, str(provider_key_id)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        changed = cursor.fetchone() is not None
    if changed:
        logger.warning("evaluation_status_error", evaluation_id=str(evaluation_id), status_reason=reason.value)
    return changed


def evaluation_error_from_run(
    *,
    team_id: int,
    evaluation_id: str,
    code: str,
    message: str,
    provider_key_id: str,
    key_updated_at: datetime | None,
) -> bool:
    """What a run's non-retryable error with the project's key says about the evaluation and the key. Nothing when
    the key changed since the run read it (`key_updated_at`): the error was the old secret's."""
    reason = ERROR_REASONS.get(code)
    if reason is None:
        return False
    with transaction.atomic():
        if key_updated_at is not None:
            key = LLMProviderKey.objects.filter(team_id=team_id, id=provider_key_id, updated_at=key_updated_at)
            if not key.exists():
                return False
            if code in KEY_STATES:
                # A queryset update: `updated_at` stays, so only a live check or an edit marks the key changed.
                key.update(state=KEY_STATES[code], error_message=message[:1000])
        return evaluation_set_error(
            team_id=team_id, evaluation_id=evaluation_id, reason=reason, provider_key_id=provider_key_id
        )


def reenable_refusal(*, evaluation: Evaluation, provider_key: LLMProviderKey | None, model_changed: bool) -> str | None:
    """Why enabling this disabled evaluation is refused (PostHog's message), or None. `provider_key` is the
    effective one: the request's, else the stored one; `model_changed` whether the request picks another model."""
    if provider_key is not None and provider_key.state != ProviderKeyState.OK:
        return ATTACH_WORKING_KEY
    if evaluation.status != EvaluationStatus.ERROR:
        return None
    if evaluation.status_reason in KEY_REASONS and provider_key is None:
        return ATTACH_WORKING_KEY
    if evaluation.status_reason == StatusReason.MODEL_NOT_FOUND and not model_changed:
        return CHOOSE_AVAILABLE_MODEL
    return None


def provider_key_dependants_error(*, key: LLMProviderKey) -> int:
    """Before a key is deleted: its active evaluations move to `error/provider_key_deleted` (without it they
    would silently fall back to the server's judge)."""
    return Evaluation.objects.filter(provider_key=key, status=EvaluationStatus.ACTIVE).update(
        status=EvaluationStatus.ERROR, enabled=False, status_reason=StatusReason.PROVIDER_KEY_DELETED,
        status_reason_detail=None,
    )  # fmt: skip


def provider_key_assign(*, key: LLMProviderKey, evaluation_ids: list[uuid.UUID], enable: bool) -> tuple[int, int]:
    """Point this project's LLM judge evaluations among `evaluation_ids` at `key` (with the key's provider; one without
    a model configuration judges with the server's default model); stopped ones move to `paused`, or to `active` with
    `enable`. Returns (configurations updated, evaluations enabled). Ids of other projects are left alone."""
    if enable and key.state != ProviderKeyState.OK:
        raise DomainError(ATTACH_WORKING_KEY, code="provider_key_not_working", attr="enable")
    evaluations = Evaluation.objects.filter(
        team_id=key.team_id, id__in=evaluation_ids, deleted=False, evaluation_type=EvaluationType.LLM_JUDGE
    )
    with transaction.atomic():
        restarted = evaluations.filter(status=EvaluationStatus.ERROR).update(
            status=EvaluationStatus.ACTIVE if enable else EvaluationStatus.PAUSED, enabled=enable,
            status_reason=None, status_reason_detail=None,
        )  # fmt: skip
        # The configuration's provider follows the key's (a configuration names its key's provider).
        updated = evaluations.update(provider_key=key, judge_provider=key.provider, updated_at=timezone.now())
    return updated, restarted if enable else 0


def provider_key_dependants_move(*, key: LLMProviderKey, replacement: LLMProviderKey) -> int:
    """Before a key is deleted with a replacement: its evaluations judge with the replacement instead."""
    return Evaluation.objects.filter(provider_key=key).update(provider_key=replacement, updated_at=timezone.now())
