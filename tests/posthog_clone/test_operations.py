"""Running it in production: request ids, metrics, and what never reaches the logs."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import structlog
from django.test import Client

from tests.conftest import Tenant


def written(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    """The records as production writes them (the console handler's structured formatter), parsed."""
    formatter = next(handler.formatter for handler in logging.getLogger().handlers
                     if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter))  # fmt: skip
    return [json.loads(formatter.format(record)) for record in records]


class TestRequestIds:
    def test_a_plausible_id_sent_is_kept(self) -> None:
        response = Client().get("/_health", HTTP_X_REQUEST_ID="trace-42.a:b")
        assert response["X-Request-ID"] == "trace-42.a:b"

    @pytest.mark.parametrize("sent", [None, "", "has spaces", "x" * 201, "<script>"])
    def test_otherwise_one_is_made(self, sent: str | None) -> None:
        headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
        response = Client().get("/_health", **headers)
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])

    def test_errors_carry_it_too(self) -> None:
        assert Client().get("/api/projects/?search=%00", HTTP_X_REQUEST_ID="r-1")["X-Request-ID"] == "r-1"
        assert Client().get("/no-such-page", HTTP_X_REQUEST_ID="r-2")["X-Request-ID"] == "r-2"

    @pytest.mark.django_db
    def test_every_line_logged_while_serving_names_it(self, key_client: Any, tenant: Tenant, caplog: Any) -> None:
        with caplog.at_level(logging.INFO):
            key_client("*").get(f"/api/environments/{tenant.team.id}/evaluations/no-such/", HTTP_X_REQUEST_ID="r-3")
        lines = written(caplog.records)
        assert lines, "the 404 is logged (at WARNING, by Django)"
        assert {line.get("request_id") for line in lines} == {"r-3"}


@pytest.mark.django_db
class TestMetrics:
    def test_loopback_reads_them(self, tenant: Tenant) -> None:
        body = {"api_key": tenant.team.api_token, "batch": [{"event": "e", "distinct_id": "d"}] * 3}
        Client().post("/batch/", json.dumps(body), content_type="application/json")
        response = Client().get("/metrics")
        assert response.status_code == 200
        text = response.content.decode()
        assert re.search(r'http_requests_total\{method="POST",route="capture",status="200"\} \d', text)
        assert "http_request_duration_seconds_bucket" in text
        assert re.search(r"events_ingested_total [1-9]", text)
        assert "# TYPE evaluation_runs gauge" in text

    def test_other_addresses_need_the_token(self, settings: Any) -> None:
        remote = {"REMOTE_ADDR": "10.1.2.3"}
        assert Client().get("/metrics", **remote).status_code == 403
        settings.METRICS_TOKEN = "metrics-secret"
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **remote).status_code == 403
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret", **remote).status_code == 200

    def test_runs_are_counted_from_the_database(self, tenant: Tenant) -> None:
        from tests.evaluations.helpers import make_run

        make_run(tenant, status="completed", trigger="online")
        text = Client().get("/metrics").content.decode()
        assert 'evaluation_runs{status="completed",trigger="online"} 1.0' in text


@pytest.mark.django_db
def test_personal_api_keys_never_reach_the_logs(key_client: Any, make_key: Any, tenant: Tenant, caplog: Any) -> None:
    valid = make_key("*")
    with caplog.at_level(logging.DEBUG):
        Client().get("/api/projects/", HTTP_AUTHORIZATION=f"Bearer {valid}")
        Client().get("/api/projects/", HTTP_AUTHORIZATION="Bearer phx_not_a_real_key_at_all")
        Client().get(f"/api/projects/?personal_api_key={valid}")
        Client().get(f"/api/environments/{tenant.team.id}/events/", HTTP_AUTHORIZATION=f"Bearer {valid}")
    everything = json.dumps(written(caplog.records)) + "".join(record.getMessage() for record in caplog.records)
    assert valid not in everything
    assert "phx_not_a_real_key_at_all" not in everything


@pytest.mark.django_db(transaction=True)
def test_run_logs_name_their_workflow(key_client: Any, tenant: Tenant, evaluation_worker: Any, caplog: Any) -> None:
    from tests.evaluations.helpers import make_evaluation
    from tests.evaluations.test_evaluation_runs_e2e import finished_run, start_run

    with caplog.at_level(logging.INFO):
        workflow_id = start_run(key_client, tenant, make_evaluation(tenant))
        finished_run(workflow_id)
    events = {line["event"]: line for line in written(caplog.records) if line.get("workflow_id") == workflow_id}
    assert {"evaluation_run_started", "evaluation_run_completed"} <= set(events)
    assert events["evaluation_run_completed"]["verdict"] is True
