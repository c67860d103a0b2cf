"""The ClickHouse schema, as numbered migrations applied once each (`manage.py clickhouse_migrate`, which `serve`
runs). Applied versions are recorded in ClickHouse itself, so every process and every restart agrees.

The events table is PostHog's shape: sorted by team, day, event, distinct id and uuid (PostHog's own sort key), with
the person stamped on each event at ingestion (`person_id`, `person_properties`, `person_created_at`), so HogQL
reads persons without a join. Each event is written once (see `events.stores.clickhouse`), so reads need no FINAL;
a block sent twice is dropped on insert (`non_replicated_deduplication_window`), and a ReplacingMergeTree collapses
any other repeat of an event's row when it merges.

Migration 2 gives the hottest event properties (`CLICKHOUSE_MATERIALIZED_PROPERTIES`) columns of their own, computed
at insert by the same functions HogQL reads a property with (`query_languages.dialects.clickhouse_json`: its
`JSONExtractString` reading and its `JSONType`), so the text computed from them is the same, NULL included. The
list is a setting, so that step runs on every migrate (its statements are idempotent) and a key added later gets
its columns then. Rows already stored compute the values when read until `MATERIALIZE COLUMN` (a background
mutation, started when a column is added) has rewritten their parts: answers are the same before and after, only
faster after.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from events.stores.clickhouse_client import ClickHouseClient
from query_languages import materialized_columns

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
MATERIALIZED_COLUMNS = 2


def materialize_properties(client: ClickHouseClient, keys: Iterable[str]) -> list[str]:
    """Add the materialised column of each event property in `keys` that the events table lacks (and start computing
    it for the rows already stored); returns the columns added."""
    table = f"{client.database}.{EVENTS_TABLE}"
    existing = {name for (name,) in client.query(
        "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String}",
        {"database": client.database, "table": EVENTS_TABLE}).rows}  # fmt: skip
    added = []
    for key in keys:
        for column, type_, expression in materialized_columns(key):
            if column in existing:
                continue
            client.command(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS `{column}` {type_} MATERIALIZED {expression}")
            client.command(f"ALTER TABLE {table} MATERIALIZE COLUMN `{column}`")
            added.append(column)
    return added


def migrate(client: ClickHouseClient, materialized: Iterable[str] | None = None) -> list[int]:
    """Apply the migrations not yet applied, in order; returns the versions applied now (idempotent). `materialized`:
    the event properties to give columns (default: CLICKHOUSE_MATERIALIZED_PROPERTIES)."""
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
    keys = settings.CLICKHOUSE_MATERIALIZED_PROPERTIES if materialized is None else materialized
    materialize_properties(client, keys)
    if MATERIALIZED_COLUMNS not in done:
        client.command(f"INSERT INTO {database}.schema_migrations (version) VALUES ({{version:UInt32}})",
                       {"version": MATERIALIZED_COLUMNS})  # fmt: skip
        applied.append(MATERIALIZED_COLUMNS)
    return applied
