"""Declares the authentication schemes in the OpenAPI document, and which base classes' docstrings it leaves out."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import get_lib_doc_excludes

from environments.api.routing import BaseAPIViewSetMixin, TeamScopedViewSetMixin
from posthog_clone.api.fields import ModelSerializer


def doc_excludes() -> list[type]:
    """Base classes whose docstrings describe our machinery, not an endpoint: an operation or component without a
    docstring of its own gets none, instead of inheriting theirs."""
    return [*get_lib_doc_excludes(), TeamScopedViewSetMixin, BaseAPIViewSetMixin, ModelSerializer]


class PersonalAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "environments.api.authentication.PersonalAPIKeyAuthentication"
    name = "PersonalAPIKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API key: `Bearer phx_...`."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "environments.api.authentication.SessionAuthentication"
    name = "SessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
