"""A provider key's secret reaches no log line: a real server (gunicorn, logging at DEBUG, so the HTTP client's own
lines are written too) creates, refuses, re-validates and checks keys against the fake provider, which echoes a
refused key in its error, as OpenAI does."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.evaluations.fake_llm import FakeLLM
from tests.faults.processes import WebServer, bootstrap, server_env

ACCEPTED = "sk-proj-accepted-0123456789abcdefghij"
REFUSED = "sk-proj-refused-9876543210zyxwvutsrq"
LOCAL = "local-secret-5555-6666-7777"


def test_no_log_line_holds_a_provider_key(tmp_path: Path, migrated_database: str) -> None:
    llm = FakeLLM().start()
    llm.accepted_keys = {ACCEPTED, LOCAL}
    log = tmp_path / "web.log"
    env = server_env(tmp_path, DATABASE_URL=migrated_database, LOG_LEVEL="DEBUG",
                     LLMA_PROVIDER_OPENAI_BASE_URL=llm.base_url)  # fmt: skip
    bootstrapped = bootstrap(env)
    server = WebServer(env, workers=1, threads=2, log=log)
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {bootstrapped['personal_api_key']}"
        base = f"{server.base_url}/api/environments/{bootstrapped['project_id']}/llm_analytics"
        created = session.post(f"{base}/provider_keys/", json={"provider": "openai", "name": "A", "api_key": ACCEPTED},
                               timeout=30)  # fmt: skip
        assert created.status_code == 201, created.text
        refused = session.post(f"{base}/provider_keys/", json={"provider": "openai", "name": "B", "api_key": REFUSED},
                               timeout=30)  # fmt: skip
        assert refused.status_code == 400
        local = session.post(f"{base}/provider_keys/", json={"provider": "openai_compatible", "name": "C",
                             "api_key": LOCAL, "base_url": llm.base_url}, timeout=30)  # fmt: skip
        assert local.status_code == 201, local.text
        llm.accepted_keys = set()  # all revoked: re-validating is refused, with the key echoed back
        for key in (created, local):
            validated = session.post(f"{base}/provider_keys/{key.json()['id']}/validate/", timeout=30)
            assert validated.json()["state"] == "invalid"
        checked = session.post(f"{base}/provider_key_validations/", json={"api_key": REFUSED}, timeout=30)
        assert checked.json()["state"] == "invalid"
        answers = created.text + refused.text + local.text + checked.text
        assert len(llm.model_requests) == 6
    finally:
        server.stop()  # the access log is written out
        llm.stop()
    text = log.read_text()
    assert "/llm_analytics/provider_keys/" in text  # the requests were logged
    assert "/v1/models" in text  # and so were the HTTP client's calls to the provider
    for secret in (ACCEPTED, REFUSED, LOCAL):
        assert secret not in text and secret not in answers
        assert secret[8:] not in text
