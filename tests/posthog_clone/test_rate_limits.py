"""Rate limits: per key (else user, else address), per scope, PostHog's 429 body with Retry-After, counters shared
by every process (the database, or Redis)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone

from events.models import Event
from posthog_clone.client_address import client_address, trusted_networks
from tests.evaluations.helpers import make_evaluation
from tests.faults.processes import WebServer, bootstrap, server_env
from tests.support.tenants import Tenant


@pytest.fixture
def limits(settings: Any) -> dict[str, list[str]]:
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex}"  # counters of this test only (Redis outlives tests)
    settings.RATE_LIMITS = {**settings.RATE_LIMITS}
    # Windows are fixed (per clock minute for these tests): start well inside one, so no test straddles two.
    left_in_minute = 60 - time.time() % 60
    if left_in_minute < 5:
        time.sleep(left_in_minute + 0.1)
    return settings.RATE_LIMITS


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert (body["type"], body["code"], body["attr"]) == ("throttled_error", "throttled", None)
    assert body["detail"].startswith("Request was throttled.")
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.django_db
class TestAPI:
    @pytest.mark.parametrize("backend", ["database", "redis"])
    def test_per_key(self, key_client: Any, tenant: Tenant, limits: dict, settings: Any, backend: str) -> None:
        settings.REDIS_URL = "redis://127.0.0.1:6379/0" if backend == "redis" else ""
        limits["api"] = ["3/minute", "100/hour"]
        first, second = key_client("*"), key_client("*")
        url = f"/api/environments/{tenant.team.id}/evaluations/"
        assert [first.get(url).status_code for _ in range(3)] == [200, 200, 200]
        assert_throttled(first.get(url))
        assert second.get(url).status_code == 200  # another key counts on its own

    def test_backfill_estimates_have_a_limit_of_their_own(self, key_client: Any, tenant: Tenant, limits: dict) -> None:
        limits["evaluation_backfill_estimate"] = ["2/minute"]
        api = key_client("*")
        evaluation = make_evaluation(tenant, conditions=[{"id": "a", "rollout_percentage": 100, "properties": []}])
        url = f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/backfills/"
        now = timezone.now()
        body = {"window_start": (now - timedelta(days=1)).isoformat(), "window_end": now.isoformat()}
        assert [api.post(f"{url}estimate/", body, format="json").status_code for _ in range(2)] == [200, 200]
        assert_throttled(api.post(f"{url}estimate/", body, format="json"))
        assert api.get(url).status_code == 200  # the rest of the API is not held back

    def test_events_have_their_own_scope(self, key_client: Any, tenant: Tenant, limits: dict) -> None:
        limits["query"] = ["2/minute"]
        api = key_client("*")
        events = f"/api/environments/{tenant.team.id}/events/"
        assert [api.get(events).status_code for _ in range(2)] == [200, 200]
        assert_throttled(api.get(events))
        assert api.get(f"/api/environments/{tenant.team.id}/evaluations/").status_code == 200

    def test_sessions_count_per_user(self, client: Any, tenant: Tenant, limits: dict) -> None:
        limits["api"] = ["2/minute"]
        client.force_login(tenant.user)
        assert [client.get("/api/projects/").status_code for _ in range(2)] == [200, 200]
        assert_throttled(client.get("/api/projects/"))

    def test_off_when_disabled(self, key_client: Any, tenant: Tenant, limits: dict, settings: Any) -> None:
        limits["api"] = ["1/minute"]
        settings.RATE_LIMIT_ENABLED = False
        api = key_client("*")
        assert [api.get("/api/projects/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db
class TestLogin:
    def test_per_email(self, tenant: Tenant, limits: dict) -> None:
        limits["login_email"] = ["3/minute"]
        client = Client()
        wrong = {"email": tenant.user.email, "password": "wrong-password"}
        assert [client.post("/api/login", wrong, content_type="application/json").status_code
                for _ in range(3)] == [400, 400, 400]  # fmt: skip
        right = {"email": tenant.user.email.upper(), "password": "correct-horse-battery"}
        assert_throttled(client.post("/api/login", right, content_type="application/json"))
        other = {"email": "someone-else@example.com", "password": "x"}
        assert client.post("/api/login", other, content_type="application/json").status_code == 400

    def test_per_address(self, limits: dict) -> None:
        limits["login_ip"] = ["2/minute"]
        client = Client()
        for n in range(2):
            body = {"email": f"guess{n}@example.com", "password": "x"}
            assert client.post("/api/login", body, content_type="application/json").status_code == 400
        assert_throttled(client.post("/api/login", {"email": "g@example.com", "password": "x"},
                                     content_type="application/json"))  # fmt: skip

    def test_a_forwarded_address_is_ignored_unless_a_trusted_proxy_sent_it(self, limits: dict) -> None:
        limits["login_ip"] = ["2/minute"]
        client = Client()  # REMOTE_ADDR 127.0.0.1, not a trusted proxy (TRUSTED_PROXIES is empty)

        def attempt(n: int) -> Any:
            return client.post("/api/login", {"email": f"guess{n}@example.com", "password": "x"},
                               content_type="application/json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")  # fmt: skip

        assert [attempt(n).status_code for n in range(2)] == [400, 400]
        assert_throttled(attempt(2))

    def test_behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_hop(self, limits: dict,
                                                                              settings: Any) -> None:  # fmt: skip
        limits["login_ip"] = ["2/minute"]
        settings.TRUSTED_PROXIES = trusted_networks(["127.0.0.1", "10.0.0.0/8"])
        client = Client()

        def attempt(forwarded: str) -> int:
            return client.post("/api/login", {"email": "g@example.com", "password": "x"}, content_type="application/json",
                               HTTP_X_FORWARDED_FOR=forwarded).status_code  # fmt: skip

        # The client writes any address it likes on the left; the proxies append the one they saw.
        assert [attempt("1.2.3.4, 198.51.100.7, 10.0.0.2"), attempt("5.6.7.8, 198.51.100.7")] == [400, 400]
        assert attempt("9.9.9.9, 198.51.100.7, 10.0.0.9") == 429
        assert attempt("198.51.100.8") == 400  # another client behind the same proxy counts on its own


def test_client_address_reading() -> None:
    trusted = trusted_networks(["10.0.0.0/8", "::1"])
    assert client_address({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, trusted) == "203.0.113.9"
    assert client_address({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"}, trusted) == "2.2.2.2"
    assert client_address({"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "10.1.1.1"}, trusted) == "10.1.1.1"
    assert client_address({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "junk"}, trusted) == "10.0.0.1"
    assert client_address({"REMOTE_ADDR": "10.0.0.1"}, trusted) == "10.0.0.1"
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address"):
        trusted_networks(["proxy.local"])


@pytest.mark.django_db
def test_ingestion_per_project(tenant: Tenant, other_tenant: Tenant, limits: dict) -> None:
    limits["capture"] = ["2/minute"]

    def send(team: Any, name: str) -> Any:
        body = {"api_key": team.api_token, "event": name, "distinct_id": "d"}
        return Client().post("/batch/", json.dumps(body), content_type="application/json")

    assert [send(tenant.team, "e").status_code for _ in range(2)] == [200, 200]
    refused = send(tenant.team, "refused")
    assert_throttled(refused)
    assert not Event.objects.filter(event="refused").exists()
    assert send(other_tenant.team, "e").status_code == 200


def test_counts_are_shared_by_every_web_process(migrated_database: str, tmp_path: Path) -> None:
    # Windows are fixed (one per clock hour here): the ten requests must not straddle two of them.
    env = server_env(tmp_path, DATABASE_URL=migrated_database, RATE_LIMITS=json.dumps({"api": ["5/hour"]}))
    key = bootstrap(env)["personal_api_key"]
    server = WebServer(env, workers=3, threads=1)
    try:
        left_in_window = 3600 - time.time() % 3600
        if left_in_window < 60:
            time.sleep(left_in_window + 0.5)
        statuses = []
        for _ in range(10):  # a new connection each time, so the requests spread over the processes
            response = requests.get(f"{server.base_url}/api/projects/", timeout=30,
                                    headers={"Authorization": f"Bearer {key}", "Connection": "close"})  # fmt: skip
            statuses.append(response.status_code)
        assert statuses == [200] * 5 + [429] * 5
    finally:
        server.stop()
