"""The OpenAPI document, fuzzed (schemathesis) against a live server: every operation, with a key that may do
everything and, for the writes, with a read-only key. No 5xx, every status code and body as documented, every 4xx
in PostHog's error shape. The seed is fixed, so a failure here reproduces."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.faults.processes import WebServer
from tests.support.servers import SharedWebServer

# Fixed for CI; FUZZ_SEED and FUZZ_EXAMPLES explore further by hand. No example database either: what an earlier
# run found must not make this run differ from a fresh clone's.
SEED = os.environ.get("FUZZ_SEED", "20261201")
# One worker: with several threads schemathesis itself crashed now and then here ("AST constructor recursion depth
# mismatch" from CPython 3.11's compile()), and one worker also makes the fixed seed replay exactly.
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "12")
CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"
HOOKS = CONFIG.parent / "schemathesis_hooks.py"  # a check of our own: error answers echo no internals
# Login needs real credentials and key management a session: their hostile inputs are tested by hand.
EXCLUDED = r"^/api/(login|logout|personal_api_keys)"


pytestmark = pytest.mark.xdist_group("shared_web_server")


@pytest.fixture
def fuzzed(shared_web_server: SharedWebServer) -> tuple[WebServer, dict[str, str]]:
    shared = shared_web_server
    return shared.server, {"personal_api_key": shared.personal_api_key, "read_only_key": shared.read_only_key}


def schemathesis(server: WebServer, key: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "st"), "--config-file", str(CONFIG), "run",
         f"{server.base_url}/api/schema/?format=json",
         "--header", f"Authorization: Bearer {key}", "--seed", SEED, "--generation-database", "none",
         "--workers", "1", "--request-timeout", "30",
         "--generation-allow-x00", "false", "--exclude-path-regex", EXCLUDED, "--warnings", "off", *options],
        capture_output=True, text=True, timeout=900, env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )  # fmt: skip


def test_every_operation_behaves_as_documented(fuzzed: Any) -> None:
    server, bootstrapped = fuzzed
    result = schemathesis(server, bootstrapped["personal_api_key"], "--checks", "all", "--max-examples", EXAMPLES)
    assert result.returncode == 0, result.stdout[-12000:]


def test_a_read_only_key_can_write_nothing(fuzzed: Any) -> None:
    server, bootstrapped = fuzzed
    result = schemathesis(
        server, bootstrapped["read_only_key"], "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "5", "--include-method-regex", "^(POST|PUT|PATCH|DELETE)$",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-12000:]
