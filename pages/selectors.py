"""Reads for the web pages. Every read is bounded by the caller's organizations: a project or an evaluation of
another organization reads as None, and the page answers 404 as if it did not exist."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from environments.models import Team, User
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
