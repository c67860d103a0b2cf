"""Reads for the web pages. Every read is bounded by the caller's organizations: a project or an evaluation of
another organization reads as None, and the page answers 404 as if it did not exist."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from environments.models import Team, User
from evaluations import stats
from evaluations.models import Evaluation, EvaluationRun


def projects_for_user(*, user: User) -> QuerySet[Team]:
    """The projects of every organization the user belongs to, by organization then project name."""
    return (
        Team.objects.filter(organization__memberships__user=user)
        .select_related("organization")
        .order_by("organization__name", "name", "id")
    )


def evaluations_for_project(*, team: Team) -> list[Evaluation]:
    return list(Evaluation.objects.filter(team=team, deleted=False).order_by("name", "id"))


def evaluation_for_user(*, user: User, evaluation_id: str) -> Evaluation | None:
    try:
        parsed = uuid.UUID(evaluation_id)
    except ValueError:
        return None
    return (
        Evaluation.objects.filter(id=parsed, deleted=False, team__organization__memberships__user=user)
        .select_related("team")
        .first()
    )


def latest_runs(*, evaluation: Evaluation, limit: int) -> list[EvaluationRun]:
    return list(
        EvaluationRun.objects.filter(team_id=evaluation.team_id, evaluation=evaluation).order_by("-created_at", "id")[
            :limit
        ]
    )


def seven_day_stats(*, team: Team, evaluation_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What the list's `?include=stats_7d` adds, through the same selector: one store query for the page."""
    return stats.evaluations_stats_7d(team=team, evaluation_ids=evaluation_ids, now=timezone.now())


def stats_series(*, team: Team, evaluation: Evaluation, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """The `series` that `stats/` answers for these query parameters."""
    now = timezone.now()
    parameters = stats.stats_parameters(params=params, team=team, now=now)
    return stats.evaluation_stats(team=team, evaluation=evaluation, parameters=parameters, now=now)["series"]
