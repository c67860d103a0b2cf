from django.apps import AppConfig
from django.conf import settings


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events and persons"

    def ready(self) -> None:
        from events.stores import clickhouse_problem
        from posthog_clone.health import register_readiness_check

        register_readiness_check("clickhouse", clickhouse_problem, applies=lambda: bool(settings.CLICKHOUSE_URL))
