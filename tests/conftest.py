"""The test run's fixtures live in plugin modules (`tests/plugins/`), its helpers in `tests/support/`: nothing is
imported from a conftest."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.plugins.accounts",
    "tests.plugins.services",
    "tests.plugins.evaluations",
    "tests.plugins.browser",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests in an `xdist_group` (modules sharing a server, or starting and killing processes of their own) first:
    each group is one long unit of work for one worker, and one started last would leave it running alone at the end
    of the run while the other workers idle."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
