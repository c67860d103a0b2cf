"""`0004_typed_results` on runs recorded before it: every started run is a boolean one, and a completed run's
verdict becomes its result and its passing (true passes; not applicable is neither)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from tests.support.migrations import migrate_to, stepped_back_to
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("evaluations", "0003_provider_keys")]
AFTER = [("evaluations", "0004_typed_results")]


@pytest.fixture
def before_typed_results() -> Iterator[None]:
    with stepped_back_to(BEFORE, app="evaluations"):
        yield


def insert_run(tenant: Tenant, evaluation_id: uuid.UUID, status: str, verdict: bool | None, *,
               applicable: bool | None = None, started: bool = True) -> str:  # fmt: skip
    run_id = f"run-{uuid.uuid4()}"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO evaluations_evaluationrun (id, team_id, evaluation_id, target_event_id, event, timestamp, "
            "distinct_id, trigger, status, verdict, applicable, reasoning, model, error_code, error_message, "
            "created_at, started_at) VALUES (%s, %s, %s, %s, '$ai_generation', now(), 'u', 'manual', %s, %s, %s, "
            "'', '', '', '', now(), CASE WHEN %s THEN now() END)",
            [run_id, tenant.team.id, evaluation_id, uuid.uuid4(), status, verdict, applicable, started],
        )
    return run_id


def typed(run_id: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT result_type, result, passed FROM evaluations_evaluationrun WHERE id = %s", [run_id])
        row = cursor.fetchone()
    assert row is not None
    result_type, result, passed = row
    return result_type, result if result is None else json.loads(result), passed


@pytest.mark.usefixtures("before_typed_results")
def test_boolean_runs_are_filled(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        evaluation_id = uuid.uuid4()
        cursor.execute(
            "INSERT INTO evaluations_evaluation (id, team_id, name, description, enabled, evaluation_type, "
            "evaluation_config, output_type, output_config, conditions, created_at, updated_at, deleted) VALUES "
            "(%s, %s, 'Old', '', true, 'llm_judge', '{}', 'boolean', '{}', '[]', now(), now(), false)",
            [evaluation_id, tenant.team.id],
        )
    passed = insert_run(tenant, evaluation_id, "completed", True)
    failed = insert_run(tenant, evaluation_id, "completed", False, applicable=True)
    not_applicable = insert_run(tenant, evaluation_id, "completed", None, applicable=False)
    skipped = insert_run(tenant, evaluation_id, "skipped", None)
    pending = insert_run(tenant, evaluation_id, "pending", None, started=False)

    migrate_to(AFTER)

    assert typed(passed) == ("boolean", True, True)
    assert typed(failed) == ("boolean", False, False)
    assert typed(not_applicable) == ("boolean", None, None)
    assert typed(skipped) == ("boolean", None, None)
    assert typed(pending) == (None, None, None)
