"""The official `posthog` Python SDK, pointed at this server, works unchanged."""

from __future__ import annotations

from typing import Any

import posthog.request
import pytest
from posthog import Posthog

from tests.support.tenants import Tenant

pytestmark = pytest.mark.usefixtures("events_backend")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gzip", [False, True])
def test_sdk_capture_set_and_alias(live_server, tenant: Tenant, key_client: Any, gzip: bool) -> None:
    errors: list[Any] = []
    sdk = Posthog(
        tenant.team.api_token,
        host=live_server.url,
        sync_mode=True,
        gzip=gzip,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    signed_up = sdk.capture(
        "signed up", distinct_id="anon-7", properties={"plan": "pro", "$set": {"email": "ann@x.io"}}
    )
    sdk.set(distinct_id="anon-7", properties={"name": "Ann"})
    sdk.set_once(distinct_id="anon-7", properties={"name": "not Ann", "first_touch": "ad"})
    sdk.alias(previous_id="anon-7", distinct_id="ann")
    purchased = sdk.capture("purchased", distinct_id="ann", properties={"amount": 42.5})
    sdk.shutdown()
    # The SDK keeps one pooled HTTP session per process; closing it ends the server's keep-alive thread.
    posthog.request.reset_sessions()
    assert errors == []

    api = key_client("query:read")
    results = api.get(f"/api/projects/{tenant.team.id}/events/").json()["results"]
    by_name = {event["event"]: event for event in results}
    assert set(by_name) == {"signed up", "$set", "$set_once", "$create_alias", "purchased"}
    assert by_name["signed up"]["id"] == signed_up
    assert by_name["purchased"]["id"] == purchased
    assert by_name["purchased"]["properties"]["amount"] == 42.5
    assert by_name["signed up"]["properties"]["$lib"] == "posthog-python"
    # The alias joined both ids to one person, whose profile got every update in order.
    person = by_name["signed up"]["person"]
    assert person == by_name["purchased"]["person"]
    assert person["properties"] == {"email": "ann@x.io", "name": "Ann"}
