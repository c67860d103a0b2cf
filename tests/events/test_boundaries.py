"""The events stores' layering: `events/stores/base.py` (the interface and shared SQL) names no implementation, the
implementations import it and never the write path's services (a store answers; the service decides what runs
around a write)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.posthog_clone.test_boundaries import imported_modules

STORES = Path(settings.BASE_DIR) / "events" / "stores"
IMPLEMENTATIONS = {"events.stores.postgres", "events.stores.clickhouse", "events.stores.clickhouse_client",
                   "events.stores.clickhouse_schema"}  # fmt: skip


def test_the_interface_imports_no_implementation() -> None:
    # (`imported_modules` reads imports inside functions too: a lazy one would count.)
    assert imported_modules(STORES / "base.py") & (IMPLEMENTATIONS | {"events.stores"}) == set()


def test_no_store_module_imports_the_services() -> None:
    offenders = {
        path.name: sorted(
            m for m in imported_modules(path) if m == "events.services" or m.startswith("events.services.")
        )
        for path in sorted(STORES.glob("*.py"))
    }
    assert {name: modules for name, modules in offenders.items() if modules} == {}
