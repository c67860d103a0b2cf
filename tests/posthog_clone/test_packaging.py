"""The package as the Docker image and `pip install` deliver it: the build context (.dockerignore applied, as the
Docker client computes it) builds a wheel that holds every file the apps read, and that wheel, installed
non-editable into a fresh virtual environment, serves the API from outside the checkout. docker-compose.yml is
checked against the image and the settings by reading it (no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

from posthog_clone import embedded

REPO = Path(settings.BASE_DIR)
APPS = ["posthog_clone", "environments", "evaluations", "events", "symbol_sets", "query_languages", "pages"]


def docker_build_context() -> set[str]:
    """The files `docker build .` sends, by the Docker SDK's own reading of .dockerignore."""
    from docker.utils.build import exclude_paths

    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {path for path in exclude_paths(str(REPO), patterns) if (REPO / path).is_file()}


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [path for path in listed.splitlines() if (REPO / path).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built as the Dockerfile builds it: from a copy of the build context only."""
    context = tmp_path_factory.mktemp("context")
    for path in docker_build_context():
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, context / path)
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(context)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = wheels.glob("posthog_clone-*.whl")
    return built


def test_build_context_holds_the_project_and_nothing_local() -> None:
    context = docker_build_context()
    assert {"pyproject.toml", "README.md"} <= context
    for app in APPS:
        assert f"{app}/__init__.py" in context
    local = [path for path in context if path.split("/")[0] in {".venv", ".data", ".git", "tests", "bench"}]
    assert local == []
    assert not [path for path in context if "__pycache__" in path or path.endswith(".pyc")]


def test_wheel_holds_every_tracked_file_of_the_apps(wheel: Path) -> None:
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    app_files = {path for path in tracked_files() if path.split("/")[0] in APPS}
    assert "query_languages/hogql/grammar.lark" in app_files
    assert sorted(app_files - in_wheel) == []
    outside = [name for name in in_wheel if name.split("/")[0] not in APPS and ".dist-info/" not in name]
    assert outside == []
    entry_points = next(name for name in in_wheel if name.endswith(".dist-info/entry_points.txt"))
    assert "posthog-clone = posthog_clone.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A fresh virtual environment holding the wheel (non-editable) and, through a path file, this environment's
    dependencies only: a path added by a .pth file is not a site directory, so this checkout's editable-install
    hook is not loaded there. Yields (its python, a working directory outside the checkout)."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    venv_site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(venv_site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    outside = root / "elsewhere"
    outside.mkdir()
    yield python, outside


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "TEMPORAL_ADDRESS"}}
    return {**env, "PYTHONSAFEPATH": "1", **extra}


def test_installed_package_imports_every_app_and_parses_hogql(installed: tuple[Path, Path]) -> None:
    python, outside = installed
    script = (
        "import importlib, json\n"
        f"files = {{app: importlib.import_module(app).__file__ for app in {APPS!r}}}\n"
        "from query_languages import hogql\n"
        "hogql.parse_select('select event, count() from events group by event')\n"
        "print(json.dumps(files))\n"
    )
    result = subprocess.run([python, "-c", script], cwd=outside, env=clean_env(), capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)
    venv = python.parent.parent
    for app, file in files.items():
        assert Path(file).is_relative_to(venv), f"{app} imported from {file}, not the installed package"


def test_installed_package_serves_the_schema_the_pages_and_runs_a_hogql_query(
    installed: tuple[Path, Path], scratch_database: str
) -> None:
    python, outside = installed
    env = clean_env(DATABASE_URL=scratch_database, POSTHOG_CLONE_DATA_DIR=str(outside / "data"))
    script = python.parent / "posthog-clone"
    subprocess.run([script, "migrate", "--no-input"], cwd=outside, env=env, check=True, capture_output=True,
                   timeout=180)  # fmt: skip
    bootstrapped = json.loads(subprocess.run(
        [script, "bootstrap", "--email", "pkg@example.com", "--password", "pw-pkg-12345", "--organization", "Pkg",
         "--project", "Wheel", "--scopes", "*", "--json"],
        cwd=outside, env=env, check=True, capture_output=True, timeout=120,
    ).stdout)  # fmt: skip
    port = embedded.free_port()
    web = subprocess.Popen(
        [python, "-m", "gunicorn", "--config", "python:posthog_clone.gunicorn_conf", "posthog_clone.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
        cwd=outside, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        embedded.wait_for_port("127.0.0.1", port, timeout=60, process=web)
        base = f"http://127.0.0.1:{port}"
        schema = requests.get(f"{base}/api/schema/?format=json", timeout=30)
        assert schema.status_code == 200
        assert schema.json()["openapi"].startswith("3.")
        project = bootstrapped["project_id"]
        sent = requests.post(f"{base}/batch/", timeout=30, json={"api_key": bootstrapped["project_api_token"], "batch": [
            {"event": "signed_up", "distinct_id": "u1"}, {"event": "signed_up", "distinct_id": "u2"}]})  # fmt: skip
        assert sent.status_code == 200, sent.text
        answer = requests.post(
            f"{base}/api/projects/{project}/query/",
            json={"query": {"kind": "HogQLQuery", "query": "select event, count() from events group by event"}},
            headers={"Authorization": f"Bearer {bootstrapped['personal_api_key']}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"] == [["signed_up", 2]]
        # The web pages' templates and vendored chart library come with the package, served by the server itself.
        assert "csrfmiddlewaretoken" in requests.get(f"{base}/login/", timeout=30).text
        chart = requests.get(f"{base}/static/pages/vendor/uplot/uPlot.iife.min.js", timeout=30)
        assert chart.status_code == 200
        assert chart.text.startswith("/*! https://github.com/leeoniya/uPlot")
    finally:
        web.terminate()
        web.wait(timeout=30)


# --- docker-compose.yml, read against the image and the settings ------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_builds_this_image_and_runs_commands_it_has(compose: dict) -> None:
    services = compose["services"]
    commands = set(get_commands())
    for name in ("web", "worker"):
        assert services[name]["build"] == "."
        command = " ".join(services[name]["command"]) if isinstance(services[name]["command"], list) else \
            services[name]["command"]  # fmt: skip
        used = re.findall(r"posthog-clone (\w+)", command)
        assert used, f"{name} runs no posthog-clone command"
        assert set(used) <= commands
        assert "manage.py" not in command  # the image holds the installed package, not the checkout
    web_command = services["web"]["command"]
    # web creates both schemas before serving: PostgreSQL's, then ClickHouse's when events go there
    assert web_command.index("posthog-clone migrate") < web_command.index("posthog-clone clickhouse_migrate") < \
        web_command.index("gunicorn")  # fmt: skip
    assert "posthog_clone.wsgi:application" in web_command
    health = " ".join(services["web"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/\S+?)'", health).group(1)
    assert resolve(path).url_name == "readyz"
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_wires_each_service_as_the_settings_read_it(compose: dict) -> None:
    app_env = compose["x-app-env"]
    services = compose["services"]
    source = "\n".join(path.read_text() for app in APPS for path in (REPO / app).rglob("*.py"))
    for variable in app_env:
        assert re.search(rf"[\"']{variable}[\"']", source), f"{variable} is set by compose but read by nothing"

    postgres = urlparse(app_env["DATABASE_URL"])
    pg_env = services["postgres"]["environment"]
    assert (postgres.hostname, postgres.username, postgres.password, postgres.path.strip("/")) == (
        "postgres", pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"])  # fmt: skip

    clickhouse = urlparse(re.search(r"-(http://[^}]+)}", app_env["CLICKHOUSE_URL"]).group(1))
    ch_env = services["clickhouse"]["environment"]
    assert (clickhouse.hostname, clickhouse.port, clickhouse.username, clickhouse.password) == (
        "clickhouse", 8123, ch_env["CLICKHOUSE_USER"], ch_env["CLICKHOUSE_PASSWORD"])  # fmt: skip
    assert clickhouse.path.strip("/") == ch_env["CLICKHOUSE_DB"]  # the database exists before clickhouse_migrate

    # No secret anyone can read in this file: unset, the key is generated into the data volume web and worker share.
    assert app_env["SECRET_KEY"] == "${SECRET_KEY:-}"
    for name in ("web", "worker"):
        assert "app-data:/data" in services[name]["volumes"]
    assert "POSTHOG_CLONE_DATA_DIR=/data" in (REPO / "Dockerfile").read_text()

    assert app_env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "7233:7233" in services["temporal"]["ports"]
    assert app_env["OBJECT_STORAGE_ENDPOINT"] == "http://minio:9000"
    assert f"local/{app_env['OBJECT_STORAGE_BUCKET']}" in services["minio-create-bucket"]["entrypoint"]
