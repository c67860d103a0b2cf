"""Databases of their own on the server the tests use, for the processes tests start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from django.conf import settings as django_settings


def database_url(name: str) -> str:
    """A URL for database `name` on the server the tests use (for processes the tests start)."""
    db = django_settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{name}"


@contextmanager
def temporary_database(template: str | None = None) -> Iterator[str]:
    """A database of its own (a copy of `template` when one is named), dropped afterwards; yields its URL."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    admin_url = database_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
