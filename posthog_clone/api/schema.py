"""OpenAPI post-processing shared by every resource."""

from __future__ import annotations

import re
from typing import Any

PROJECT_ID_DESCRIPTION = (
    "Project ID of the project you're trying to access. To find the ID of the project, make a call to /api/projects/."
)


def describe_project_id(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Document the `project_id` path segment the way PostHog's reference does (a string: an id or `@current`)."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path" and parameter.get("name") == "project_id":
                    parameter["schema"] = {"type": "string"}
                    parameter["description"] = PROJECT_ID_DESCRIPTION
    return result


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "PostHog's error body.",
    "properties": {
        "type": {"type": "string", "example": "validation_error"},
        "code": {"type": "string", "example": "required"},
        "detail": {"type": "string"},
        "attr": {"type": "string", "nullable": True, "description": "The input field at fault, if any."},
    },
    "required": ["type", "code", "detail", "attr"],
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a field, a query parameter, U+0000 anywhere, JSON nested too deeply.",
    "401": "No credentials, or an invalid personal API key.",
    "403": "A scope the key lacks, a project it may not reach, or a session write without its CSRF token.",
    "404": "No such project or object in it.",
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
    "429": "Rate limited; `Retry-After` says when to retry.",
    "503": "A service the request needs (the database, Temporal, object storage) is unavailable; retry later.",
    "504": "The query ran past QUERY_TIMEOUT_SECONDS and was stopped (`query_timeout`).",
}
# Operations that run HogQL (the events list's `select` and `where` too), and so may time out.
QUERY_PATHS = ("/query/", "/events/")
UNAUTHENTICATED_PATHS = ("/api/login", "/api/logout")


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Every error an operation can answer, each in PostHog's body: validation and unavailability everywhere,
    authentication and rate limits on the authenticated API, 404 wherever the path names something, 413/415
    wherever there is a body."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorResponse"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["400", "429", "503"]
            if not path.startswith(UNAUTHENTICATED_PATHS):
                codes += ["401", "403"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation:
                codes += ["413", "415"]
            if path.endswith(QUERY_PATHS):
                codes.append("504")
            for code in codes:
                operation["responses"].setdefault(code, {"description": ERROR_DESCRIPTIONS[code], "content": error})
            for response in operation["responses"].values():
                if "text/csv" in response.get("content", {}):  # CSV is text, not the JSON object beside it
                    response["content"]["text/csv"] = {"schema": {"type": "string"}}
    return result


# Marks a query parameter whose empty value (`?limit=`) is read as if it were absent.
EMPTY_MEANS_ABSENT = {"x-empty-means-absent": True}


def allow_empty_values(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """OpenAPI's own word for EMPTY_MEANS_ABSENT is `allowEmptyValue`, which drf-spectacular cannot emit."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                # (A parameter read by a serializer field carries the mark in its schema.)
                schema = parameter.get("schema", {})
                if parameter.pop("x-empty-means-absent", False) or schema.pop("x-empty-means-absent", False):
                    parameter["allowEmptyValue"] = True
    return result


def name_enum_values(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Give string enums explicit member names (`x-enum-varnames`), unique once upper-snake-cased, so client
    generators can build them: timezones such as `GMT+0`, `GMT-0` and `GMT0` otherwise collide."""
    for component in result.get("components", {}).get("schemas", {}).values():
        values = component.get("enum")
        if not values or not all(isinstance(value, str) for value in values):
            continue
        names: list[str] = []
        taken: set[str] = set()
        for value in values:
            base = re.sub(r"[^0-9A-Za-z]+", "_", value.replace("+", "_plus_")).strip("_").upper() or "EMPTY"
            name, suffix = base, 2
            while name in taken:
                name, suffix = f"{base}_{suffix}", suffix + 1
            taken.add(name)
            names.append(name)
        component["x-enum-varnames"] = names
    return result


# Swagger UI groups operations by tag; these follow PostHog's reference (one per resource, in both URL families).
RESOURCE_TAGS = [
    ("evaluation_runs", "evaluation runs"),
    ("evaluations", "evaluations"),
    ("llm_analytics/provider_key", "llm provider keys"),
    ("llm_analytics/evaluation_summary", "evaluations"),
    ("events", "events"),
    ("error_tracking/symbol_sets", "symbol sets"),
    ("error_tracking/releases", "releases"),
    ("personal_api_keys", "personal api keys"),
    ("projects", "projects"),
    ("environments", "environments"),
    ("users", "users"),
    ("login", "authentication"),
    ("logout", "authentication"),
]


def tag_by_resource(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    for path, path_item in result.get("paths", {}).items():
        scoped = re.sub(r"^/api/(environments|projects)/\{project_id\}/", "", path)
        resource = scoped.removeprefix("/api/")
        tag = next((name for prefix, name in RESOURCE_TAGS if resource.startswith(prefix)), None)
        for operation in path_item.values():
            if isinstance(operation, dict) and tag:
                operation["tags"] = [tag]
    result["tags"] = [{"name": name} for name in dict.fromkeys(name for _, name in RESOURCE_TAGS)]
    return result
