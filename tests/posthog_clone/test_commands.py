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
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from environments.models import PersonalAPIKey, Team, hash_personal_api_key
from posthog_clone import embedded
from tests.evaluations.fake_llm import FakeLLM

# Processes of their own, killed and restarted: one xdist worker runs the module's tests, first (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("serve")

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


BANNER = "posthog-clone is listening on"


def launch_serve(env: dict[str, str], port: int, logs: Path, *, workers: int = 1) -> subprocess.Popen[bytes]:
    """`python -m posthog_clone serve`, its output in `logs`/stdout and `logs`/stderr."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "wb") as stdout, open(logs / "stderr", "wb") as stderr:
        command = [sys.executable, "-m", "posthog_clone", "serve", "--port", str(port), "--workers", str(workers),
                   "--threads", "2"]  # fmt: skip
        return subprocess.Popen(command, env=env, cwd=REPO, stdout=stdout, stderr=stderr)


def output(logs: Path, stream: str = "stdout") -> str:
    return (logs / stream).read_text(errors="replace")


def start_serve(env: dict[str, str], port: int, logs: Path, *, workers: int = 1) -> subprocess.Popen[bytes]:
    """Start serve and wait (bounded) for its banner."""
    process = launch_serve(env, port, logs, workers=workers)
    deadline = time.monotonic() + 240
    while BANNER not in output(logs):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"serve printed no banner (exit {process.poll()}): {output(logs, 'stderr')[-3000:]}")
        time.sleep(0.1)
    return process


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "serve should supervise child processes"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], f"children still running after serve stopped: {alive}"


def kill_if_running(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


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

    process = start_serve(env, port, tmp_path / "first")
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

    process = start_serve(env, port, tmp_path / "again")
    try:
        again = requests.get(f"{base}/api/projects/", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert again.status_code == 200
        assert again.json()["count"] == 1
    finally:
        stop_serve(process)


def serve_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"TEMPORAL_ADDRESS", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}}  # fmt: skip
    env.update(DATABASE_URL=database_url, POSTHOG_CLONE_DATA_DIR=str(data_dir))
    return env


def scrape(base: str) -> list[Sample]:
    """Every sample of `/metrics`, through Prometheus's own text parser (so the text must be valid)."""
    response = requests.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200, response.text[:500]
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def request_counts(base: str) -> dict[tuple[str, str, str], float]:
    """`http_requests_total` by (method, route, status), leaving out the scrapes themselves."""
    return {(s.labels["method"], s.labels["route"], s.labels["status"]): s.value for s in scrape(base)
            if s.name == "http_requests_total" and s.labels["route"] != "metrics"}  # fmt: skip


def server_processes(serve: subprocess.Popen[bytes]) -> dict[str, str]:
    """pid -> role of the processes serve runs that report process metrics."""
    roles = {str(serve.pid): "serve"}
    for child in psutil.Process(serve.pid).children():
        command = " ".join(child.cmdline())
        if "gunicorn" in command:
            roles[str(child.pid)] = "web-master"
            roles.update((str(worker.pid), "web") for worker in child.children())
        elif "run_worker" in command:
            roles[str(child.pid)] = "temporal-worker"
    return roles


PROCESS_METRICS = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                   "process_open_fds", "process_max_fds", "process_start_time_seconds")  # fmt: skip


def process_metrics(base: str) -> dict[str, dict[str, str]]:
    """metric -> {pid: role} of the process metrics in `/metrics`."""
    found: dict[str, dict[str, str]] = {name: {} for name in PROCESS_METRICS}
    for sample in scrape(base):
        if sample.name in found:
            assert sample.value > 0 or sample.name == "process_cpu_seconds_total", sample
            found[sample.name][sample.labels["pid"]] = sample.labels["role"]
    return found


def children_running(serve: subprocess.Popen[bytes], marker: str) -> list[psutil.Process]:
    """serve's children whose command line has `marker`, leaving out one that exited and is not reaped yet."""
    found = []
    for child in psutil.Process(serve.pid).children():
        try:
            if marker in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:  # a zombie's command line cannot be read (ZombieProcess is a NoSuchProcess)
            continue
    return found


def embedded_temporal_servers(data_dir: Path) -> list[psutil.Process]:
    database = str(data_dir / "temporal.sqlite")
    return [p for p in psutil.process_iter(["cmdline"]) if database in (p.info["cmdline"] or [])]


def test_one_serve_per_data_dir_and_none_of_its_processes_outlives_it(scratch_database: str, tmp_path: Path) -> None:
    """A second serve on the data dir is refused and changes nothing; a taken port is refused before anything
    starts; `/metrics` has each process's metrics and survives a corrupt file; a SIGKILLed serve's children exit and
    the next serve on the same data dir and port comes up."""
    data_dir = tmp_path / "data"
    env = serve_env(scratch_database, data_dir)
    port = embedded.free_port()
    base = f"http://127.0.0.1:{port}"
    first = start_serve(env, port, tmp_path / "first", workers=2)
    second = third = again = None
    try:
        # The banner comes once the server is ready: serve's own /_readyz probe got 200, and it answers at once.
        assert request_counts(base)[("GET", "readyz", "200")] >= 1
        assert requests.get(f"{base}/_readyz", timeout=10).status_code == 200
        assert requests.get(f"{base}/api/projects/", timeout=10).status_code == 401
        for _ in range(3):
            assert requests.get(f"{base}/_health", timeout=10).status_code == 200

        # Process metrics for each gunicorn worker, the master, the Temporal worker and serve, by pid and role.
        expected = server_processes(first)
        assert sorted(expected.values()) == ["serve", "temporal-worker", "web", "web", "web-master"]
        deadline = time.monotonic() + 60  # the Temporal worker registers once Django is set up in it
        while (found := process_metrics(base))["process_resident_memory_bytes"] != expected:
            assert time.monotonic() < deadline, f"process metrics {found} are not those of {expected}"
            time.sleep(0.5)
        assert all(found[name] == expected for name in PROCESS_METRICS), found

        # A half-written file and a foreign one in the run's metrics directory are left out, not a 500.
        run_metrics = data_dir / "metrics" / str(first.pid)
        (run_metrics / "counter_4194001.db").write_bytes(b"\x40\x00\x00\x00half-written")
        (run_metrics / "gauge_liveall_4194002.db").write_bytes(b"")
        assert process_metrics(base)["process_open_fds"] == expected
        counts = request_counts(base)
        assert counts[("GET", "health", "200")] == 3

        # A second serve on the same data dir: refused at once, naming the first; nothing of the first changes.
        metrics_files = sorted(path.name for path in (data_dir / "metrics").rglob("*"))
        second = launch_serve(env, embedded.free_port(), tmp_path / "second")
        assert second.wait(timeout=5) != 0
        refusal = output(tmp_path / "second", "stderr")
        assert f"pid {first.pid}" in refusal and base in refusal, refusal
        assert output(tmp_path / "second") == ""  # no migrations, no banner
        assert len(embedded_temporal_servers(data_dir)) == 1
        assert sorted(path.name for path in (data_dir / "metrics").rglob("*")) == metrics_files
        assert request_counts(base) == counts
        assert requests.get(f"{base}/_readyz", timeout=10).status_code == 200

        # The same port for another data dir: refused before anything starts.
        third = launch_serve(serve_env(scratch_database, tmp_path / "other"), port, tmp_path / "third")
        assert third.wait(timeout=30) != 0
        assert f"port {port} is already in use" in output(tmp_path / "third", "stderr")
        assert BANNER not in output(tmp_path / "third")
        assert not (tmp_path / "other" / "metrics").exists()

        # SIGKILL: the children get SIGTERM from the kernel and exit.
        children = psutil.Process(first.pid).children(recursive=True)
        first.kill()
        first.wait(timeout=10)
        _, alive = psutil.wait_procs(children, timeout=60)
        assert alive == [], f"children of a killed serve still running: {alive}"

        # The next serve on the same data dir and port takes over, with the killed run's metrics gone.
        again = start_serve(env, port, tmp_path / "again")
        assert requests.get(f"{base}/_readyz", timeout=10).status_code == 200
        assert [path.name for path in (data_dir / "metrics").iterdir()] == [str(again.pid)]
        assert request_counts(base).get(("GET", "health", "200")) is None
        assert set(process_metrics(base)["process_start_time_seconds"]) <= set(server_processes(again))

        # Temporal or the worker dying is not the HTTP server's end: serve starts them again (Temporal on the
        # same port) while the API keeps answering.
        [temporal] = embedded_temporal_servers(data_dir)
        [worker] = children_running(again, "run_worker")
        temporal.kill()
        worker.kill()
        deadline = time.monotonic() + 120

        def replaced(pids: list[int], old: int) -> bool:
            return len(pids) == 1 and pids[0] != old

        # serve reaps and restarts each in turn, so /_readyz can answer 200 before the worker is back.
        while not (
            replaced([p.pid for p in embedded_temporal_servers(data_dir)], temporal.pid)
            and replaced([p.pid for p in children_running(again, "run_worker")], worker.pid)
            and requests.get(f"{base}/_readyz", timeout=10).status_code == 200
        ):
            assert requests.get(f"{base}/_health", timeout=5).status_code == 200
            assert time.monotonic() < deadline, "Temporal and the worker were not back within 120 s"
            time.sleep(0.5)
        assert again.poll() is None
        [new_worker] = children_running(again, "run_worker")
        restarted = {new_worker.pid, *(p.pid for p in embedded_temporal_servers(data_dir))}
        assert len(restarted) == 2 and not restarted & {temporal.pid, worker.pid}
        log = output(tmp_path / "again", "stderr")
        assert f"temporal exited with code {-signal.SIGKILL}; starting it again." in log
        assert f"worker exited with code {-signal.SIGKILL}; starting it again." in log

        # The web server dying takes the server down, and serve says so with a failing status.
        children = psutil.Process(again.pid).children(recursive=True)
        [web] = children_running(again, "gunicorn")
        web.kill()
        assert again.wait(timeout=60) == 1
        assert f"web exited with code {-signal.SIGKILL}; the server stopped." in output(tmp_path / "again", "stderr")
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"children still running after serve stopped: {alive}"
        assert not (data_dir / "metrics" / str(again.pid)).exists()
    finally:
        for process in (first, second, third, again):
            if process is not None:
                kill_if_running(process)


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
