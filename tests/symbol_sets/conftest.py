from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _local_storage_by_default(local_storage: Path) -> Path:
    """Symbol set tests use the local store (in a temporary directory) unless they ask for S3."""
    return local_storage
