"""`/_health` and `/_readyz`: unauthenticated, and honest about each dependency."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from posthog_clone import embedded


@pytest.fixture
def raw() -> Client:
    return Client()


@pytest.mark.parametrize("path", ["/_health", "/_health/"])
def test_health_answers_without_touching_anything(raw: Client, path: str) -> None:
    # No database mark: pytest-django fails any query this test would make.
    response = raw.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_every_dependency_answers(raw: Client, temporal_settings: Any, local_storage: Any) -> None:
    response = raw.get("/_readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "postgres": "ok", "temporal": "ok", "object_storage": "ok",
    }  # fmt: skip


@pytest.mark.django_db
def test_temporal_down_is_503_naming_it(raw: Client, settings: Any, local_storage: Any, caplog: Any) -> None:
    settings.TEMPORAL_ADDRESS = f"127.0.0.1:{embedded.free_port()}"
    with caplog.at_level("WARNING"):
        response = raw.get("/_readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    # Names and states only: why is in the log, not given to anyone who asks.
    assert checks == {"postgres": {"status": "ok"}, "temporal": {"status": "unavailable"},
                      "object_storage": {"status": "ok"}}  # fmt: skip
    assert settings.TEMPORAL_ADDRESS not in response.content.decode()
    [logged] = [record.msg for record in caplog.records if "readiness_check_failed" in str(record.msg)]
    assert logged["check"] == "temporal" and logged["error"]


@pytest.mark.django_db
def test_object_storage_down_is_503_naming_it(raw: Client, settings: Any, temporal_settings: Any) -> None:
    settings.OBJECT_STORAGE_ENDPOINT = f"http://127.0.0.1:{embedded.free_port()}"
    settings.OBJECT_STORAGE_ACCESS_KEY_ID = settings.OBJECT_STORAGE_SECRET_ACCESS_KEY = "testing"
    response = raw.get("/_readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["object_storage"]["status"] == "unavailable"
    assert (checks["postgres"]["status"], checks["temporal"]["status"]) == ("ok", "ok")


@pytest.mark.django_db
def test_disabled_object_storage_does_not_make_it_unready(raw: Client, settings: Any, temporal_settings: Any) -> None:
    settings.OBJECT_STORAGE_ENABLED = False
    response = raw.get("/_readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["object_storage"] == {"status": "disabled"}


def test_only_get(raw: Client) -> None:
    assert raw.post("/_health").status_code == 405
