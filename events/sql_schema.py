"""Where the events app keeps events and persons, as the query languages' dialects must name them: the PostgreSQL
tables of `events.models` and the SQL functions its migrations define (0002 to 0004), and the ClickHouse events table
(`events.stores.clickhouse_schema`). The stores build their dialects here."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from events.stores.clickhouse_schema import EVENTS_TABLE
from query_languages import ClickHouseDialect, ClickHouseSchema, PostgresDialect, PostgresSchema

POSTGRES_SCHEMA = PostgresSchema(
    events="events_event",
    persons="events_person",
    person_distinct_ids="events_persondistinctid",
    try_numeric="posthog_try_numeric",
    json_numeric="posthog_json_numeric",
    json_timestamptz="posthog_json_timestamptz",
    semver_key="posthog_semver_key",
    chain_values="posthog_chain_values",
    text_to_int64="posthog_text_to_int64",
    to_int64="posthog_to_int64",
    text_to_float64="posthog_text_to_float64",
    int_to_float64="posthog_int_to_float64",
    float_text="posthog_float_text",
    divide="posthog_divide",
    clamp_date="posthog_clamp_date",
    text_to_date="posthog_text_to_date",
)
# The person of each event `e`, as `p` (PostgreSQL).
PERSON_JOIN = POSTGRES_SCHEMA.person_join


def postgres_dialect(regex_check: Callable[[str], str | None] | None = None) -> PostgresDialect:
    """`regex_check`: why PostgreSQL refuses a regular expression (None: RE2's refusals only)."""
    return PostgresDialect(POSTGRES_SCHEMA, regex_check=regex_check)


def clickhouse_dialect(database: str, materialized: Iterable[str] = ()) -> ClickHouseDialect:
    """`materialized`: the event properties whose columns `clickhouse_migrate` made."""
    return ClickHouseDialect(ClickHouseSchema(database, EVENTS_TABLE), materialized)
