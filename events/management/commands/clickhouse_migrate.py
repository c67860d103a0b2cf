"""Create or update the ClickHouse schema (idempotent); `serve` runs it when CLICKHOUSE_URL is set."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.stores.clickhouse_client import client_for_url
from events.stores.clickhouse_schema import migrate


class Command(BaseCommand):
    help = "Apply the ClickHouse migrations that CLICKHOUSE_URL's database lacks."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.CLICKHOUSE_URL:
            raise CommandError("CLICKHOUSE_URL is not set: events are stored in PostgreSQL.")
        applied = migrate(client_for_url(settings.CLICKHOUSE_URL, timeout_seconds=settings.CLICKHOUSE_TIMEOUT_SECONDS))
        self.stdout.write(f"ClickHouse migrations applied: {applied or 'none (up to date)'}")
