"""Evaluation runs through faults: Temporal stopped and started again, and a worker killed while the judge is
answering. Each test starts and stops only the processes it owns."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from evaluations.contracts import online_workflow_id
from evaluations.models import EvaluationBackfill, EvaluationRun, RunStatus
from events.models import Event
from posthog_clone import embedded
from tests.evaluations.fake_llm import FakeLLM, Reply, verdict
from tests.evaluations.helpers import make_evaluation, recorded_runs, run_body, store_generation
from tests.evaluations.test_evaluation_runs_e2e import finished_run, start_run
from tests.evaluations.test_online_evaluation import condition, exact, generation, ingest
from tests.support.databases import database_url
from tests.support.evaluations import BackgroundWorker, wait_until
from tests.support.tenants import Tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("faults")]
REPO = Path(django_settings.BASE_DIR)


@pytest.fixture
def own_temporal(settings: Any) -> Iterator[list[embedded.TemporalDevServer]]:
    """A Temporal dev server of this test's own (a list, so the test can replace it after stopping it)."""
    servers = [embedded.start_temporal_dev_server(namespace="default", db_file=None, ui=False)]
    settings.TEMPORAL_ADDRESS = servers[0].address
    settings.TEMPORAL_TASK_QUEUE = f"test-{uuid.uuid4().hex}"
    settings.EVALUATION_DISPATCH_INTERVAL_SECONDS = 0.1
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_temporal_outage_refuses_manual_runs_and_delays_online_ones(
    own_temporal: list[embedded.TemporalDevServer], tenant: Tenant, key_client: Any, fake_llm: FakeLLM, settings: Any
) -> None:
    worker = BackgroundWorker().start()
    try:
        # Online runs only for events traced "online"; the ones stored for manual runs do not match.
        evaluation = make_evaluation(tenant, conditions=[condition(100, exact("$ai_trace_id", "online"))])
        before = start_run(key_client, tenant, evaluation)  # connects this process's client while Temporal is up
        assert finished_run(before).status == RunStatus.COMPLETED

        own_temporal[0].stop()
        began = time.monotonic()
        refused = key_client("evaluation:write").post(
            f"/api/environments/{tenant.team.id}/evaluation_runs/",
            run_body(evaluation, store_generation(tenant)),
            format="json",
        )
        assert refused.status_code == 503, refused.content
        assert refused.json()["code"] == "temporal_unavailable"
        assert time.monotonic() - began < settings.TEMPORAL_START_TIMEOUT_SECONDS + 1

        during = generation(**{"$ai_trace_id": "online"})
        ingest(tenant, during)  # ingestion does not need Temporal
        waiting_id = online_workflow_id(str(evaluation.id), during["uuid"])
        time.sleep(1)  # several dispatcher attempts fail meanwhile
        waiting = recorded_runs().get(id=waiting_id)
        assert (waiting.status, waiting.dispatched_at) == (RunStatus.PENDING, None)

        port = int(own_temporal[0].address.rsplit(":", 1)[1])
        own_temporal.append(embedded.start_temporal_dev_server(namespace="default", db_file=None, ui=False, port=port))
        run = finished_run(waiting_id, timeout=90)
        assert run.status == RunStatus.COMPLETED, run.error_message
        emitted = Event.objects.filter(team=tenant.team, event="$ai_evaluation")
        assert sorted(str(e.properties["$ai_target_event_id"]) for e in emitted) == sorted(
            [str(EvaluationRun.objects.get(id=before).target_event_id), during["uuid"]]
        )
        # The refused manual run left nothing behind.
        assert EvaluationRun.objects.filter(trigger="manual").count() == 1
    finally:
        worker.stop()


def worker_env(settings: Any, task_queue: str, fake_llm: FakeLLM, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker process of this test's own: its database, Temporal queue and judge."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=database_url(settings.DATABASES["default"]["NAME"]),
        TEMPORAL_ADDRESS=settings.TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE=task_queue,
        LLMA_EVAL_OPENAI_BASE_URL=fake_llm.base_url,
        LLMA_EVAL_OPENAI_API_KEY="sk-test-judge",
        LLMA_EVAL_MODEL="judge-test-model",
        EVALUATION_DISPATCH_INTERVAL_SECONDS="0.2",
        POSTHOG_CLONE_DATA_DIR=str(tmp_path),
        SECRET_KEY="test-secret",
        **extra,
    )
    return env


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as output:
        return subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "run_worker"],
            env=env,
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def test_worker_killed_while_the_judge_answers(
    tenant: Tenant, key_client: Any, fake_llm: FakeLLM, task_queue: str, settings: Any, tmp_path: Path
) -> None:
    answered = threading.Event()
    fake_llm.script(Reply(**vars(verdict(False, "From the killed worker.")) | {"gate": answered}))
    env = worker_env(settings, task_queue, fake_llm, tmp_path)
    workers = [spawn_worker(env, tmp_path / "worker.log")]
    try:
        workflow_id = start_run(key_client, tenant, make_evaluation(tenant))
        fake_llm.wait_for_requests(1, timeout=60)
        workers[0].kill()
        workers[0].wait(timeout=30)
        answered.set()  # too late: nobody reads this answer

        workers.append(spawn_worker(env, tmp_path / "worker.log"))
        run = finished_run(workflow_id, timeout=120)
        assert run.status == RunStatus.COMPLETED, (tmp_path / "worker.log").read_text()[-3000:]
        assert (run.verdict, run.reasoning) == (True, "The answer is correct.")
        assert len(fake_llm.requests) == 2
        assert EvaluationRun.objects.filter(team=tenant.team).count() == 1
        [event] = Event.objects.filter(team=tenant.team, event="$ai_evaluation")
        assert event.uuid == run.emitted_event_id
        assert event.properties["$ai_evaluation_result"] is True
    finally:
        for process in workers:
            embedded.stop_process(process, timeout=30)


def test_worker_killed_mid_backfill_resumes_without_judging_anything_twice(
    tenant: Tenant, key_client: Any, fake_llm: FakeLLM, task_queue: str, settings: Any, tmp_path: Path
) -> None:
    now = timezone.now()
    stored = [store_generation(tenant, timestamp=now - timedelta(seconds=index)) for index in range(40)]
    evaluation = make_evaluation(tenant, conditions=[condition(100)])
    env = worker_env(settings, task_queue, fake_llm, tmp_path, BACKFILL_PAGE_SIZE="4", BACKFILL_RUNS_IN_FLIGHT="3")
    workers = [spawn_worker(env, tmp_path / "worker.log")]
    try:
        body = {"window_start": (now - timedelta(hours=1)).isoformat(), "window_end": timezone.now().isoformat()}
        created = key_client("evaluation:write").post(
            f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/backfills/", body, format="json"
        )
        assert created.status_code == 201, created.content
        backfill_id = created.json()["id"]
        wait_until(lambda: EvaluationBackfill.objects.get(id=backfill_id).dispatched_count >= 9, timeout=60,
                   message="a few pages walked")  # fmt: skip
        workers[0].kill()  # mid-walk: SIGKILL, no goodbye
        workers[0].wait(timeout=30)

        workers.append(spawn_worker(env, tmp_path / "worker.log"))
        backfill = wait_until(
            lambda: EvaluationBackfill.objects.filter(id=backfill_id, status="completed").first(),
            timeout=120, message="the backfill completing after the restart",
        )  # fmt: skip
        assert (backfill.dispatched_count, backfill.skipped_count, backfill.total_count) == (40, 0, 40)
        runs = wait_until(
            lambda: (found := list(EvaluationRun.objects.filter(evaluation=evaluation, status=RunStatus.COMPLETED)))
            and len(found) == 40 and found,
            timeout=120, message="every backfilled run completing",
        )  # fmt: skip
        assert sorted(run.target_event_id for run in runs) == sorted(event.uuid for event in stored)
        emitted = Event.objects.filter(team=tenant.team, event="$ai_evaluation")
        targets = [event.properties["$ai_target_event_id"] for event in emitted]
        assert sorted(targets) == sorted(str(event.uuid) for event in stored)  # one verdict each, none twice
    finally:
        for process in workers:
            embedded.stop_process(process, timeout=30)
