"""The project a request names in its URL, resolved with the caller's membership level in the same statement.

Key authentication resolves it together with the key (one statement per request instead of two: see
`authentication.KEY_AND_PROJECT_LOOKUP`); the base viewset resolves it alone for session callers."""

from __future__ import annotations

from dataclasses import dataclass

from environments.models import Team
from posthog_clone.db import instance_from_row, select_columns

CURRENT_PROJECT = "@current"
# Team ids are bigints; anything larger cannot exist and must not reach the database as a parameter.
MAX_TEAM_ID = 2**63 - 1


def project_columns(user_id: str) -> str:
    """The project's columns then the caller's membership level in its organization (NULL: not a member), for a
    statement that joins the project as `t` and knows the caller's id as the SQL expression `user_id`."""
    return (
        f"{select_columns(Team, 't')}, (SELECT m.level FROM environments_organizationmembership AS m "
        f"WHERE m.organization_id = t.organization_id AND m.user_id = {user_id})"
    )


PROJECT_LOOKUP = f"SELECT {project_columns('%s')} FROM environments_team AS t WHERE t.id = %s"


def numeric_project_id(raw: str) -> int | None:
    """The id in a `:project_id` URL segment that is not `@current`, or None when it cannot name a project."""
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_TEAM_ID else None


def project_from_row(row: tuple[object, ...], start: int) -> Team | None:
    """The project laid out by `project_columns` at `row[start:]`, with `caller_level` set; None for a NULL join."""
    if row[start] is None:
        return None
    team, after_team = instance_from_row(Team, row, start)
    team.caller_level = row[after_team]  # read by TeamMemberPermission
    return team


@dataclass(frozen=True)
class ResolvedProject:
    """What key authentication found for the URL's `:project_id` segment (`raw`): the project or None."""

    raw: str
    team: Team | None
