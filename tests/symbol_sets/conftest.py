from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _local_storage_by_default(local_storage: Path) -> Path:
    """Symbol set tests use the local store (in a temporary directory) unless they ask for S3."""
    return local_storage


@pytest.fixture
def api(key_client: Any) -> APIClient:
    """A client with a key that may upload: what the PostHog CLI uses."""
    return key_client("error_tracking:write")
