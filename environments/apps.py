from django.apps import AppConfig


class EnvironmentsConfig(AppConfig):
    name = "environments"
    verbose_name = "Organizations, projects, users and API keys"

    def ready(self) -> None:
        from environments.api import openapi  # noqa: F401 - registers the bearer-auth schema extension
