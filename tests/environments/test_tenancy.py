"""Tenancy as a structure: the base mixin seals what enforces it, and a matrix walks every project-scoped route
and method with another organization's key, with another project's object ids, and with a read-only key."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from rest_framework import viewsets
from rest_framework.test import APIClient

from environments.api.routing import BaseAPIViewSetMixin, TeamScopedViewSetMixin
from environments.scopes import SCOPE_OBJECTS, WRITE_ACTIONS
from evaluations.models import Evaluation, EvaluationBackfill, EvaluationRun, LLMProviderKey
from events.models import Event
from posthog_clone.urls import project_router
from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet
from tests.evaluations.helpers import make_backfill, make_evaluation, make_provider_key, make_run
from tests.events.helpers import make_event, store
from tests.support.tenants import Tenant
from tests.symbol_sets.helpers import make_release, make_symbol_set

# --- the seals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["get_queryset", "get_object", "get_permissions", "get_authenticators", "dangerously_get_queryset"]
)
def test_project_scoped_viewsets_cannot_override_what_enforces_tenancy(method: str) -> None:
    with pytest.raises(TypeError, match=f"must not override {method}"):
        type("Leaky", (TeamScopedViewSetMixin, viewsets.GenericViewSet), {method: lambda self: None})


@pytest.mark.parametrize("method", ["get_queryset", "get_object"])
def test_other_viewsets_read_only_through_dangerously_named_methods(method: str) -> None:
    with pytest.raises(TypeError, match=f"must not override {method}"):
        type("Leaky", (BaseAPIViewSetMixin, viewsets.GenericViewSet), {method: lambda self: None})


# --- the matrix ------------------------------------------------------------------------------------------------

# One object per project-scoped resource, by router basename: (make it in a project, its id in URLs, its model).
OBJECTS: dict[str, tuple[Callable[[Tenant], Model], Callable[[Any], str], type[Model]]] = {
    "evaluations": (make_evaluation, lambda obj: str(obj.id), Evaluation),
    "evaluation_runs": (make_run, lambda obj: obj.id, EvaluationRun),
    "evaluation_backfills": (make_backfill, lambda obj: str(obj.id), EvaluationBackfill),
    "llm_analytics_provider_keys": (make_provider_key, lambda obj: str(obj.id), LLMProviderKey),
    # Checks a key without storing one: another project's key must not be what it checks.
    "llm_analytics_provider_key_validations": (make_provider_key, lambda obj: str(obj.id), LLMProviderKey),
    # Reads another project's evaluation's results only if it crosses projects.
    "llm_analytics_evaluation_summary": (make_evaluation, lambda obj: str(obj.id), Evaluation),
    "events": (
        lambda tenant: Event.objects.get(team=tenant.team, uuid=store(tenant.team, make_event())[0].uuid),
        lambda obj: str(obj.uuid),
        Event,
    ),
    # Queries create nothing: another project's event is what must never appear in an answer.
    "query": (
        lambda tenant: Event.objects.get(team=tenant.team, uuid=store(tenant.team, make_event())[0].uuid),
        lambda obj: str(obj.uuid),
        Event,
    ),
    "error_tracking_symbol_sets": (make_symbol_set, lambda obj: str(obj.id), ErrorTrackingSymbolSet),
    # Versions (and so hash ids) differ per project, so finding theirs by hash in mine cannot hit my own.
    "error_tracking_releases": (
        lambda tenant: make_release(tenant, tenant.team.name),
        lambda obj: str(obj.id),
        ErrorTrackingRelease,
    ),
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
# Refused (405) for every object, so also for another project's (hard deletes of evaluations).
ALWAYS_REFUSED = {("evaluations", "destroy")}


def routes() -> list[tuple[str, str, str, str, bool, Any]]:
    """(basename, URL template, method, action, detail, viewset) for every project-scoped route and method."""
    found = []
    for prefix, viewset, basename in project_router.registry:
        for route in project_router.get_routes(viewset):
            for method, action in project_router.get_method_map(viewset, route.mapping).items():
                template = route.url.replace("{prefix}", prefix).replace("{trailing_slash}", "/").strip("^$")
                found.append((basename, template, method, action, route.detail, viewset))
    return found


# Routes nested under another object: the parent's id, read from the object.
PARENTS: dict[str, Callable[[Any], str]] = {"evaluation_backfills": lambda obj: str(obj.evaluation_id)}


def url(template: str, project_id: int, object_id: str, hash_id: str, family: str, parent_id: str = "") -> str:
    path = template.replace("{lookup}", object_id)
    path = re.sub(r"\(\?P<hash_id>[^)]*\)", hash_id, path)
    path = re.sub(r"\(\?P<evaluation_id>[^)]*\)", parent_id, path)
    return f"/api/{family}/{project_id}/{path}"


def call(api: APIClient, method: str, path: str) -> Any:
    return getattr(api, method)(path, json.dumps({}), content_type="application/json") if method in WRITE_METHODS \
        else getattr(api, method)(path)  # fmt: skip


def needed_write_scope(viewset: Any, action: str) -> str | None:
    declared = getattr(getattr(viewset, action), "kwargs", {}).get("required_scopes")
    if declared is not None:
        return next((scope for scope in declared if scope.endswith(":write")), None)
    write_actions = getattr(viewset, "scope_object_write_actions", WRITE_ACTIONS)
    return f"{viewset.scope_object}:write" if action in write_actions else None


def snapshot(objects: dict[str, Model]) -> dict[str, tuple[Any, ...]]:
    return {basename: tuple(type(obj).objects.filter(pk=obj.pk).values_list()) for basename, obj in objects.items()}


def test_every_route_is_in_the_matrix() -> None:
    assert {basename for basename, *_ in routes()} == set(OBJECTS), "a project-scoped route has no matrix entry"


@pytest.mark.django_db
@pytest.mark.parametrize("family", ["environments", "projects"])
def test_no_route_crosses_projects(key_client: Any, tenant: Tenant, other_tenant: Tenant, family: str) -> None:
    mine = {basename: make(tenant) for basename, (make, _, _) in OBJECTS.items()}
    theirs = {basename: make(other_tenant) for basename, (make, _, _) in OBJECTS.items()}
    their_hash = theirs["error_tracking_releases"].hash_id
    before = snapshot(theirs)
    api, read_only = key_client("*"), key_client(*(f"{scope}:read" for scope in SCOPE_OBJECTS))
    checked = 0
    for basename, template, method, action, detail, viewset in routes():
        their_id = OBJECTS[basename][1](theirs[basename])
        my_id = OBJECTS[basename][1](mine[basename])
        their_parent = PARENTS[basename](theirs[basename]) if basename in PARENTS else ""
        my_parent = PARENTS[basename](mine[basename]) if basename in PARENTS else ""
        where = f"{method.upper()} {template} ({action})"

        # Another organization's project, with its own object ids: no access at all.
        foreign = call(api, method, url(template, other_tenant.team.id, their_id, their_hash, family, their_parent))
        assert foreign.status_code == 403, where
        assert foreign.json()["detail"] == "You don't have access to the project.", where

        # My project, another project's object: not found, and nothing of it in any answer.
        crossed = call(api, method, url(template, tenant.team.id, their_id, their_hash, family, their_parent))
        if detail or "hash_id" in template:
            expected = 405 if (basename, action) in ALWAYS_REFUSED else 404
            assert crossed.status_code == expected, (where, crossed.content[:200])
            if expected == 404:  # an error body only (which may echo the id asked for), nothing of the object
                assert set(crossed.json()) == {"type", "code", "detail", "attr"}, where
        else:
            assert their_id not in crossed.content.decode(errors="replace"), where

        # A key that may only read: every write names the scope it lacks.
        scope = needed_write_scope(viewset, action)
        if method in WRITE_METHODS and scope:
            refused = call(read_only, method, url(template, tenant.team.id, my_id, "hash-1.0.0", family, my_parent))
            assert refused.status_code == 403, where
            assert refused.json()["detail"] == f"API key missing required scope '{scope}'", where
        checked += 1
    assert checked >= 25
    assert snapshot(theirs) == before  # nothing of theirs changed either
