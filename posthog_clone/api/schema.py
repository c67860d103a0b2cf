"""OpenAPI post-processing shared by every resource."""

from __future__ import annotations

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


PROPERTY_FILTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A PostHog property filter.",
    "properties": {
        "key": {"type": "string"},
        "value": {
            "oneOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}},
            ]
        },
        "operator": {"type": "string", "default": "exact"},
        "type": {"type": "string", "default": "event"},
    },
    "required": ["key"],
}
