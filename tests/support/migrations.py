"""Testing a data migration: the schema stepped back to just before it, rows written as they were then, and the
migration applied to them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

Targets = list[tuple[str, str]]


@contextmanager
def stepped_back_to(targets: Targets, *, app: str) -> Iterator[None]:
    """The database migrated back to `targets` for the block; `app` is migrated forward to its latest afterwards."""
    MigrationExecutor(connection).migrate(targets)
    try:
        yield
    finally:
        migrate_to(MigrationExecutor(connection).loader.graph.leaf_nodes(app))


def migrate_to(targets: Targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()  # the graph as it is now, after a step back
    executor.migrate(targets)
