"""The ClickHouse schema, as numbered migrations applied once each (`manage.py clickhouse_migrate`, which `serve`
runs). Applied versions are recorded in ClickHouse itself, so every process and every restart agrees.

The events table is PostHog's shape: sorted by team, day, event, distinct id and uuid (PostHog's own sort key), with
the person stamped on each event at ingestion (`person_id`, `person_properties`, `person_created_at`), so HogQL
reads persons without a join. Each event is written once (see `events.clickhouse.store`), so reads need no FINAL;
a block sent twice is dropped on insert (`non_replicated_deduplication_window`), and a ReplacingMergeTree collapses
any other repeat of an event's row when it merges.
"""

from __future__ import annotations

from events.clickhouse.client import ClickHouseClient

EVENTS_TABLE = "events"
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS {database}.events (
            team_id Int64,
            uuid UUID,
            event String,
            distinct_id String,
            properties String,
            timestamp DateTime64(6, 'UTC'),
            created_at DateTime64(6, 'UTC'),
            elements_chain String,
            person_id Nullable(UUID),
            person_properties String,
            person_created_at Nullable(DateTime64(6, 'UTC'))
        )
        ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(timestamp)
        ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))
        SETTINGS non_replicated_deduplication_window = 1000
        """,
    ),
)


def migrate(client: ClickHouseClient) -> list[int]:
    """Apply the migrations not yet applied, in order; returns the versions applied now (idempotent)."""
    database = client.database
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations (version UInt32, applied_at DateTime DEFAULT now()) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query(f"SELECT version FROM {database}.schema_migrations FINAL").rows}
    applied = []
    for version, statement in MIGRATIONS:
        if version in done:
            continue
        client.command(statement.format(database=database))
        client.command(f"INSERT INTO {database}.schema_migrations (version) VALUES ({{version:UInt32}})",
                       {"version": version})  # fmt: skip
        applied.append(version)
    return applied
