"""Running it in production: request ids, metrics, and what never reaches the logs."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.tenants import Tenant

REPO = Path(settings.BASE_DIR)


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
    def test_loopback_reads_them_when_allowed(self, tenant: Tenant, settings: Any) -> None:
        settings.METRICS_LOOPBACK = True
        body = {"api_key": tenant.team.api_token, "batch": [{"event": "e", "distinct_id": "d"}] * 3}
        Client().post("/batch/", json.dumps(body), content_type="application/json")
        Client().generic("M0001XYZ", "/_health")
        response = Client().get("/metrics")
        assert response.status_code == 200
        text = response.content.decode()
        assert re.search(r'http_requests_total\{method="POST",route="capture",status="200"\} \d', text)
        assert "http_request_duration_seconds_bucket" in text
        assert re.search(r"events_ingested_total [1-9]", text)
        assert "# TYPE evaluation_runs gauge" in text
        # Label values come from closed sets: an invented method is "other".
        assert "M0001XYZ" not in text and 'method="other",route="health",status="405"' in text

    def test_loopback_is_not_enough_by_default_nor_through_a_proxy(self, settings: Any) -> None:
        assert Client().get("/metrics").status_code == 403
        settings.METRICS_LOOPBACK = True
        assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 403
        assert Client().get("/metrics", HTTP_FORWARDED="for=198.51.100.1").status_code == 403
        assert Client().get("/metrics").status_code == 200

    def test_other_addresses_need_the_token(self, settings: Any) -> None:
        remote = {"REMOTE_ADDR": "10.1.2.3"}
        assert Client().get("/metrics", **remote).status_code == 403
        settings.METRICS_TOKEN = "metrics-secret"
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **remote).status_code == 403
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret", **remote).status_code == 200

    def test_multiprocess_mode_reports_each_live_registered_process(self, tmp_path: Path, monkeypatch: Any,
                                                                   settings: Any) -> None:  # fmt: skip
        """Real processes writing to a multiprocess directory: one registered as itself, one whose registration
        does not match its start time (as a reused pid's would not), one killed after registering; plus a corrupt
        file. Only the first gets process metrics, and the scrape still answers 200."""
        settings.METRICS_LOOPBACK = True
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        registers = "from posthog_clone.process_metrics import register_process; register_process('web')"
        stale = "from posthog_clone.process_metrics import _registered; _registered.labels('web').set(1.0)"
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        live, reused, killed = (
            subprocess.Popen(
                # Each exits within a minute whatever happens (SIGALRM), so reading its "ok" is a bounded wait.
                [sys.executable, "-c", f"import signal; signal.alarm(60); {code}; print('ok', flush=True); input()"],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for code in (registers, stale, registers)
        )
        try:
            for process in (live, reused, killed):
                assert process.stdout is not None and process.stdout.readline() == b"ok\n"
            killed.kill()
            killed.wait(timeout=10)
            (tmp_path / "counter_4194003.db").write_bytes(b"\x00\x01\x00\x00not a metrics file")
            response = Client().get("/metrics")
            assert response.status_code == 200
            families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
            for name in ("process_resident_memory_bytes", "process_cpu_seconds", "process_open_fds",
                         "process_max_fds", "process_virtual_memory_bytes", "process_start_time_seconds"):  # fmt: skip
                assert [sample.labels for sample in families[name].samples] == [{"pid": str(live.pid), "role": "web"}]
            assert "server_process_start_time_seconds" not in families  # the registrations are not metrics
        finally:
            for process in (live, reused, killed):
                process.kill()
                process.wait(timeout=10)

    def test_runs_are_counted_from_the_database(self, tenant: Tenant, settings: Any) -> None:
        from tests.evaluations.helpers import make_run

        settings.METRICS_LOOPBACK = True
        make_run(tenant, status="completed", trigger="online")
        text = Client().get("/metrics").content.decode()
        assert 'evaluation_runs{status="completed",trigger="online"} 1.0' in text
        assert "evaluation_online_intake_batches 0.0" in text


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
