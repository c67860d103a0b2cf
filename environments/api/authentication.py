"""Who is calling: a personal API key (header, body or query string) or a browser session."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from environments.api.projects import (
    CURRENT_PROJECT,
    ResolvedProject,
    numeric_project_id,
    project_columns,
    project_from_row,
)
from environments.models import PersonalAPIKey, Team, User, hash_personal_api_key
from posthog_clone.db import fetch_one, instance_from_row, select_columns

BEARER_PATTERN = re.compile(r"^Bearer\s+(\S.+)$")
PERSONAL_KEY_IN_HEADER = re.compile(r"(^|\s)phx_")
LAST_USED_RESOLUTION = timedelta(hours=1)


class PersonalAPIKeyAuthentication(authentication.BaseAuthentication):
    """Reads the first key candidate found: `Authorization: Bearer`, then a `personal_api_key` body field, then
    the query string. A candidate that matches no active key is a 401; nothing else is tried after it."""

    keyword = "Bearer"

    @staticmethod
    def find_key(request: Request) -> tuple[str, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        match = BEARER_PATTERN.match(header)
        if match:
            token = match.group(1).strip()
            if not token.startswith("pha_"):  # OAuth access tokens belong to another authenticator
                return token, "Authorization header"
        body_value = _body_field(request, "personal_api_key")
        if body_value:
            return body_value, "body"
        query_value = request.query_params.get("personal_api_key")
        if query_value:
            return query_value, "query string"
        return None

    def authenticate(self, request: Request) -> tuple[User, PersonalAPIKey] | None:
        found = self.find_key(request)
        if found is None:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            if PERSONAL_KEY_IN_HEADER.search(header) and not BEARER_PATTERN.match(header):
                # Otherwise this is "credentials were not provided", which sends people looking for a wrong key.
                raise exceptions.AuthenticationFailed(
                    "The Authorization header holds a personal API key without the Bearer scheme: "
                    "send `Authorization: Bearer phx_…`."
                )
            return None
        value, source = found
        raw_project = _project_in_url(request)
        key, team = _active_key(hash_personal_api_key(value), raw_project)
        if key is None:
            raise exceptions.AuthenticationFailed(f"Personal API key found in request {source} is invalid.")
        if raw_project is not None:
            request.resolved_project = ResolvedProject(raw=raw_project, team=team)
        _touch_last_used(key)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


_KEY_AND_USER = (
    f"SELECT {select_columns(PersonalAPIKey, 'k')}, {select_columns(User, 'u')}{{project}} "
    "FROM environments_personalapikey AS k JOIN environments_user AS u ON u.id = k.user_id{join} "
    "WHERE k.secure_value = %s AND u.is_active"
)
KEY_LOOKUP = _KEY_AND_USER.format(project="", join="")
# On project-scoped URLs the project and the caller's membership come in the same statement as the key.
KEY_AND_PROJECT_LOOKUP = _KEY_AND_USER.format(
    project=f", {project_columns('u.id')}", join=" LEFT JOIN environments_team AS t ON t.id = %s"
)
KEY_AND_CURRENT_PROJECT_LOOKUP = _KEY_AND_USER.format(
    project=f", {project_columns('u.id')}", join=" LEFT JOIN environments_team AS t ON t.id = u.current_team_id"
)


def _project_in_url(request: Request) -> str | None:
    """The `:project_id` segment of a project-scoped view's URL, as written."""
    view = request.parser_context.get("view") if request.parser_context else None
    if view is None or not getattr(view, "has_team", lambda: False)():
        return None
    return str(view.kwargs[view.team_url_kwarg])


def _active_key(secure_value: str, raw_project: str | None) -> tuple[PersonalAPIKey | None, Team | None]:
    """The key with this hash and its (active) user, and the project the URL names when it names one: one
    statement on every key-authenticated request."""
    project_id = numeric_project_id(raw_project) if raw_project not in (None, CURRENT_PROJECT) else None
    if raw_project == CURRENT_PROJECT:
        row = fetch_one(KEY_AND_CURRENT_PROJECT_LOOKUP, [secure_value])
    elif project_id is not None:
        row = fetch_one(KEY_AND_PROJECT_LOOKUP, [project_id, secure_value])
    else:
        row = fetch_one(KEY_LOOKUP, [secure_value])
    if row is None:
        return None, None
    key, after_key = instance_from_row(PersonalAPIKey, row)
    key.user, after_user = instance_from_row(User, row, after_key)
    team = project_from_row(row, after_user) if len(row) > after_user else None
    return key, team


def _body_field(request: Request, name: str) -> str | None:
    """A field of a JSON or form body, without forcing a parse of bodies that cannot hold one."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and not request.META.get("CONTENT_LENGTH"):
        return None
    data = request.data
    value = data.get(name) if hasattr(data, "get") else None
    return value if isinstance(value, str) else None


def _touch_last_used(key: PersonalAPIKey) -> None:
    """Record use at most once an hour, with a conditional UPDATE so concurrent requests write once."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    PersonalAPIKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


class SessionAuthentication(authentication.SessionAuthentication):
    """Django's session cookie, answering 401 (not 403) when nobody is logged in."""

    def authenticate_header(self, request: Request) -> str:
        return "Session"
