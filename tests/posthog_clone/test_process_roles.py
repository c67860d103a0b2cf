"""The HTTP server's database connections say so in `pg_stat_activity` (what backfills read to yield to requests);
everything else's do not."""

from __future__ import annotations

import psycopg
import pytest
import requests
from django.db import connection

from posthog_clone.process_roles import OTHER_APPLICATION_NAME, WEB_APPLICATION_NAME
from tests.support.servers import SharedWebServer

pytestmark = pytest.mark.xdist_group("shared_web_server")


def test_the_http_servers_connections_carry_the_web_name(shared_web_server: SharedWebServer) -> None:
    response = requests.get(f"{shared_web_server.server.base_url}/api/projects/", timeout=30,
                            headers={"Authorization": f"Bearer {shared_web_server.personal_api_key}"})  # fmt: skip
    assert response.status_code == 200
    with psycopg.connect(shared_web_server.database_url, autocommit=True) as observer:
        names = observer.execute(
            "SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    # The request's connection stays open (persistent connections), named as the server's.
    assert names == [(WEB_APPLICATION_NAME,)]


@pytest.mark.django_db
def test_other_processes_connections_do_not() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW application_name")
        assert cursor.fetchone() == (OTHER_APPLICATION_NAME,)
