"""A Python client generated from `/api/schema/` by openapi-python-client (the most used generator) imports and
works: evaluations list/create/retrieve/update and the events list, against a live server."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.events.helpers import make_event, store
from tests.support.tenants import Tenant

PACKAGE = "generated_posthog_clone_client"


@pytest.fixture
def generated(tmp_path: Path) -> Any:
    schema = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    subprocess.run(
        [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(schema),
         "--meta", "none", "--output-path", str(tmp_path / PACKAGE)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_evaluations_and_events_through_the_generated_client(
    generated: Any, live_server: Any, tenant: Tenant, make_key: Any
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    # Closed at the end, so no keep-alive connection outlives the test (and holds the live server's database).
    with generated.AuthenticatedClient(base_url=live_server.url, token=make_key("*")) as client:
        exercise(client, models, tenant)


def operation(tag: str, name: str) -> Any:
    """A generated operation module: the generator groups them by the schema's tags."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def exercise(client: Any, models: Any, tenant: Tenant) -> None:
    project = str(tenant.team.id)
    evaluations = {name: operation("evaluations", f"environments_evaluations_{name}")
                   for name in ("create", "list", "retrieve", "partial_update")}  # fmt: skip

    created = evaluations["create"].sync(project, client=client, body=models.EvaluationRequest(
        name="Generated", evaluation_type=models.EvaluationTypeEnum.LLM_JUDGE,
        output_type=models.OutputTypeEnum.BOOLEAN,
        evaluation_config=models.EvaluationRequestLLMJudgeConfig(prompt="Is it right?"),
    ))  # fmt: skip
    assert isinstance(created, models.Evaluation), created
    assert created.name == "Generated"
    assert created.output_config.to_dict() == {"allows_na": False}

    listed = evaluations["list"].sync(project, client=client)
    assert [row.id for row in listed.results] == [created.id]
    assert evaluations["retrieve"].sync(project, created.id, client=client).name == "Generated"
    renamed = evaluations["partial_update"].sync(
        project, created.id, client=client, body=models.PatchedEvaluationRequest(name="Renamed")
    )
    assert renamed.name == "Renamed"

    [event] = store(tenant.team, make_event(event="generated", properties={"n": 1}))
    events_list = operation("events", "environments_events_list")
    page = events_list.sync(project, client=client)
    assert isinstance(page, models.EventList), page
    assert [(row.id, row.event) for row in page.results] == [(str(event.uuid), "generated")]

    refused = evaluations["retrieve"].sync(project, uuid.UUID(int=1), client=client)
    assert isinstance(refused, models.ErrorResponse)
    assert refused.code == "not_found"
