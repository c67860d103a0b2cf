"""`0005_status_and_model_configuration` on evaluations saved before it: enabled ones become active, the rest
paused, with no reason and no model configuration."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.support.migrations import migrate_to, stepped_back_to
from tests.support.tenants import Tenant

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("evaluations", "0004_typed_results")]
AFTER = [("evaluations", "0005_status_and_model_configuration")]


@pytest.fixture
def before_status() -> Iterator[None]:
    with stepped_back_to(BEFORE, app="evaluations"):
        yield


def insert_evaluation(tenant: Tenant, *, enabled: bool) -> uuid.UUID:
    evaluation_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO evaluations_evaluation (id, team_id, name, description, enabled, evaluation_type, "
            "evaluation_config, output_type, output_config, conditions, created_at, updated_at, deleted) VALUES "
            "(%s, %s, 'Old', '', %s, 'llm_judge', '{}', 'boolean', '{}', '[]', now(), now(), false)",
            [evaluation_id, tenant.team.id, enabled],
        )
    return evaluation_id


@pytest.mark.usefixtures("before_status")
def test_status_is_filled_from_enabled(tenant: Tenant) -> None:
    on, off = insert_evaluation(tenant, enabled=True), insert_evaluation(tenant, enabled=False)
    migrate_to(AFTER)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, status_reason, status_reason_detail, judge_provider, provider_key_id "
            "FROM evaluations_evaluation WHERE id IN (%s, %s)",
            [on, off],
        )
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    assert rows == {on: ("active", None, None, "", None), off: ("paused", None, None, "", None)}
