"""Servers the tests share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class SharedWebServer:
    """gunicorn serving a migrated database with a full key and a read-only one, for tests that only send requests."""

    server: Any  # tests.faults.processes.WebServer
    personal_api_key: str
    read_only_key: str
    project_id: str
    database_url: str
