"""`bootstrap` and `serve`, the commands a user runs first."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command

from environments.models import PersonalAPIKey, Team, hash_personal_api_key
from posthog_clone import embedded
from tests.evaluations.fake_llm import FakeLLM

REPO = Path(settings.BASE_DIR)


def run_bootstrap(*args: str) -> dict:
    out = io.StringIO()
    call_command("bootstrap", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


BOOTSTRAP_ARGS = (
    "--email",
    "ops@example.com",
    "--password",
    "pw-ops-12345",
    "--organization",
    "Ops",
    "--project",
    "Site",
)


@pytest.mark.django_db
def test_bootstrap_prints_one_json_object_and_reuses_names() -> None:
    first = run_bootstrap(*BOOTSTRAP_ARGS, "--scopes", "query:read", "evaluation:write")
    assert set(first) == {"user_email", "organization_id", "project_id", "project_api_token", "personal_api_key"}
    assert first["user_email"] == "ops@example.com"
    assert first["project_api_token"] == Team.objects.get(pk=first["project_id"]).api_token
    key = PersonalAPIKey.objects.get(secure_value=hash_personal_api_key(first["personal_api_key"]))
    assert key.scopes == ["query:read", "evaluation:write"]

    second = run_bootstrap(*BOOTSTRAP_ARGS)
    assert second["organization_id"] == first["organization_id"]
    assert second["project_id"] == first["project_id"]
    assert second["personal_api_key"] != first["personal_api_key"]
    assert PersonalAPIKey.objects.filter(user__email="ops@example.com").count() == 2


@pytest.mark.django_db
def test_bootstrap_rejects_unknown_scopes() -> None:
    with pytest.raises(CommandError, match="Invalid scope: nope:read"):
        run_bootstrap(*BOOTSTRAP_ARGS, "--scopes", "nope:read")


# --- serve, end to end in subprocesses ---------------------------------------------------------------


def start_serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    embedded.wait_for_port("127.0.0.1", port, timeout=120, process=process)
    return process


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "serve should supervise child processes"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], f"children still running after serve stopped: {alive}"


def run_an_evaluation(base: str, key: str, project_id: int, token: str) -> dict:
    """The seed's flow over HTTP: create an evaluation, send an `$ai_generation`, run it, read the run back."""
    auth = {"Authorization": f"Bearer {key}"}
    evaluation = requests.post(
        f"{base}/api/environments/{project_id}/evaluations/",
        json={"name": "Helpful", "evaluation_type": "llm_judge", "output_type": "boolean",
              "evaluation_config": {"prompt": "Is it helpful?"}},
        headers=auth, timeout=10,
    ).json()  # fmt: skip
    event_uuid = str(uuid.uuid4())
    sent = requests.post(f"{base}/batch/", timeout=10, json={"api_key": token, "batch": [
        {"event": "$ai_generation", "distinct_id": "u1", "uuid": event_uuid,
         "properties": {"$ai_input": "hi", "$ai_output_choices": "hello"}}]})  # fmt: skip
    assert sent.status_code == 200
    started = requests.post(
        f"{base}/api/environments/{project_id}/evaluation_runs/",
        json={"evaluation_id": evaluation["id"], "target_event_id": event_uuid, "timestamp": "2026-11-01T00:00:00Z"},
        headers=auth,
        timeout=10,
    )
    assert started.status_code == 201, started.text
    run_url = f"{base}/api/environments/{project_id}/evaluation_runs/{started.json()['workflow_id']}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = requests.get(run_url, headers=auth, timeout=10).json()
        if run["status"] in ("completed", "failed", "skipped"):
            return run
        time.sleep(0.2)
    raise TimeoutError("the evaluation run did not finish within 60s")


def test_serve_runs_the_stack_and_keeps_data_across_restarts(scratch_database: str, tmp_path: Path) -> None:
    judge = FakeLLM().start()
    env = {k: v for k, v in os.environ.items() if k not in {"TEMPORAL_ADDRESS", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DATABASE_URL=scratch_database,
        POSTHOG_CLONE_DATA_DIR=str(tmp_path / "data"),
        LLMA_EVAL_OPENAI_BASE_URL=judge.base_url,
        LLMA_EVAL_MODEL="judge-test-model",
    )
    port = embedded.free_port()
    base = f"http://127.0.0.1:{port}"

    process = start_serve(env, port)
    try:
        out = subprocess.run(
            [sys.executable, str(REPO / "manage.py"), "bootstrap", *BOOTSTRAP_ARGS, "--scopes", "*", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        bootstrapped = json.loads(out)
        key = bootstrapped["personal_api_key"]
        assert requests.get(f"{base}/api/projects/", timeout=10).status_code == 401
        projects = requests.get(f"{base}/api/projects/", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert projects.status_code == 200
        assert projects.json()["results"][0]["name"] == "Site"
        assert requests.get(f"{base}/api/schema/swagger-ui/", timeout=10).status_code == 200
        assert requests.get(f"{base}/api/schema/?format=json", timeout=10).json()["openapi"].startswith("3.")
        run = run_an_evaluation(base, key, bootstrapped["project_id"], bootstrapped["project_api_token"])
        assert (run["status"], run["verdict"], run["model"]) == ("completed", True, "judge-test-model")
    finally:
        stop_serve(process)
        judge.stop()
    assert (tmp_path / "data" / "temporal.sqlite").exists()

    process = start_serve(env, port)
    try:
        again = requests.get(f"{base}/api/projects/", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert again.status_code == 200
        assert again.json()["count"] == 1
    finally:
        stop_serve(process)


def test_generated_secret_key_is_shared_by_processes_starting_together(tmp_path: Path) -> None:
    """Several processes reading the data dir's key at once all get the same complete key."""
    script = "from posthog_clone import embedded; print(embedded.persistent_secret_key())"
    env = {**os.environ, "POSTHOG_CLONE_DATA_DIR": str(tmp_path)}
    processes = [
        subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO, stdout=subprocess.PIPE) for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].decode().strip() for process in processes}
    assert len(keys) == 1
    assert len(keys.pop()) >= 50
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
