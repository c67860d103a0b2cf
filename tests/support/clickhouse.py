"""ClickHouse in the tests: the HTTP interface's handle and what the stores have in common."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

CLICKHOUSE_HTTP_DATABASE = "posthog_wire"


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


def is_clickhouse(events_backend: str) -> bool:
    """Whether the store is ClickHouse (in process or over HTTP): they answer alike."""
    return events_backend.startswith("clickhouse")
