"""ClickHouse (chdb) beside PostgreSQL for the query-language tests: the shared chdb session, in a database of their
own, and the three engines over one test's events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.query_languages.engines import DATABASE, Engines, InDatabase
from tests.support.tenants import Tenant


@pytest.fixture(scope="session")
def clickhouse(clickhouse_url: str) -> Any:
    from events.stores.clickhouse_client import client_for_url
    from events.stores.clickhouse_schema import migrate

    client = client_for_url(clickhouse_url)
    migrate(InDatabase(client, DATABASE))
    return client


@pytest.fixture
def engines(tenant: Tenant, clickhouse: Any) -> Engines:
    """A project of its own (its id keeps its ClickHouse rows apart), with no events yet."""
    return Engines(tenant.team, clickhouse)
