from django.apps import AppConfig
from django.conf import settings


def _clickhouse_problem() -> str | None:
    # Imported when asked: clickhouse-connect is loaded only where events are stored in ClickHouse.
    from events.clickhouse.store import clickhouse_problem

    return clickhouse_problem()


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events and persons"

    def ready(self) -> None:
        from posthog_clone.health import register_readiness_check

        register_readiness_check("clickhouse", _clickhouse_problem, applies=lambda: bool(settings.CLICKHOUSE_URL))
