"""Declares the authentication schemes in the OpenAPI document."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PersonalAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "environments.api.authentication.PersonalAPIKeyAuthentication"
    name = "PersonalAPIKeyAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "http", "scheme": "bearer", "description": "A personal API key: `Bearer phx_...`."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "environments.api.authentication.SessionAuthentication"
    name = "SessionAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
