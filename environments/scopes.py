"""Personal API key scopes: `<object>:read`, `<object>:write`, or `*` for everything."""

from __future__ import annotations

from typing import Literal

ScopeAction = Literal["read", "write"]

# The objects a key may be scoped to. It follows PostHog's list so keys minted for PostHog keep working here.
SCOPE_OBJECTS: tuple[str, ...] = (
    "action",
    "activity_log",
    "annotation",
    "batch_export",
    "cohort",
    "dashboard",
    "dashboard_template",
    "early_access_feature",
    "error_tracking",
    "evaluation",
    "event_definition",
    "experiment",
    "export",
    "feature_flag",
    "group",
    "hog_function",
    "insight",
    "llm_analytics",
    "llm_provider_key",
    "notebook",
    "organization",
    "organization_member",
    "person",
    "plugin",
    "project",
    "property_definition",
    "query",
    "session_recording",
    "session_recording_playlist",
    "sharing_configuration",
    "subscription",
    "survey",
    "user",
    "webhook",
)

ALL_SCOPES = "*"
VALID_SCOPES: frozenset[str] = frozenset(
    {ALL_SCOPES} | {f"{obj}:{action}" for obj in SCOPE_OBJECTS for action in ("read", "write")}
)

# A view with this scope object cannot be used with a personal API key at all.
INTERNAL = "INTERNAL"

READ_ACTIONS = frozenset({"list", "retrieve"})
WRITE_ACTIONS = frozenset({"create", "update", "partial_update", "patch", "destroy"})


def key_grants(scopes: list[str], required: str) -> bool:
    """Whether a key holding `scopes` may do `required`; `<obj>:write` also grants `<obj>:read`."""
    if ALL_SCOPES in scopes or required in scopes:
        return True
    obj, _, action = required.partition(":")
    return action == "read" and f"{obj}:write" in scopes
