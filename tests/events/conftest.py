"""The `/query/` tests' fixtures (tests/events/test_query_*.py): a client that may query, the project's query URL
and PostHog's own HogQL test set stored in it. A module may define its own `api` or `url` (test_events_api.py
does), which takes precedence here."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.events.helpers import store_sign_outs
from tests.support.tenants import Tenant


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("query:read")


@pytest.fixture
def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/query/"


@pytest.fixture
def dataset(tenant: Tenant) -> None:
    store_sign_outs(tenant.team)  # n: '7', 12, 'x', missing; key: test_val1, test_val2, test_val3, test_val2
