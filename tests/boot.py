"""Loaded before pytest-django reads the settings (`-p tests.boot` in pyproject's addopts): the test run is an entry
point like manage.py. It sets SECRET_KEY and, unless DATABASE_URL is set, points the settings at the embedded
PostgreSQL, which the first test to run starts: collecting tests starts no database, and neither does xdist's
controlling process (only its workers run tests)."""

from __future__ import annotations

import os
from urllib.parse import unquote

import environ
import pytest

from posthog_clone import embedded

# What the settings read until the embedded server runs: a port nothing listens on, so a premature use fails fast.
EMBEDDED_NOT_STARTED = "postgres://embedded@127.0.0.1:1/embedded_not_started"

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = embedded.persistent_secret_key()
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = EMBEDDED_NOT_STARTED


@pytest.fixture(scope="session", autouse=True)
def embedded_database() -> None:
    """Start (or join) the embedded PostgreSQL before the first test, when DATABASE_URL was not set, and point the
    settings and the environment (which the processes tests start inherit) at it."""
    if os.environ["DATABASE_URL"] != EMBEDDED_NOT_STARTED:
        return
    from django.conf import settings

    url = embedded.ensure_embedded_postgres()
    os.environ["DATABASE_URL"] = url
    parsed = environ.Env.db_url_config(url)
    # The same dict is the connection's settings_dict, so no connection has been made with the placeholder.
    database = settings.DATABASES["default"]
    database.update({key: parsed[key] for key in ("NAME", "USER", "PASSWORD", "PORT") if key in parsed})
    database["HOST"] = unquote(parsed.get("HOST", ""))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(embedded_database: None, django_db_modify_db_settings_parallel_suffix: None) -> None:
    """pytest-django's hook for changing the database settings before the test databases are made: after the
    embedded server started, and keeping xdist's per-worker database names."""
