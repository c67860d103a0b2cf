"""What only the ClickHouse events store has to get right: its schema migrations, persons stamped on events at
ingestion, a failure of either store leaving nothing half-written (and a retry storing each event once), and reads
counting a uuid once before ClickHouse merges repeated rows."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from events import hogql
from events.models import Person, PersonDistinctId
from events.services import events_capture
from events.stores.clickhouse import INSERT_COLUMNS, INSERT_SETTINGS, clickhouse_store
from events.stores.clickhouse_client import client_for_url
from events.stores.clickhouse_schema import MATERIALIZED_COLUMNS, MIGRATIONS, migrate
from posthog_clone import embedded
from tests.evaluations.helpers import GENERATION_PROPERTIES, make_evaluation, recorded_runs
from tests.events.helpers import BASE_TIME, make_event, store, stored_events
from tests.support.tenants import Tenant


@pytest.fixture
def clickhouse(settings: Any, clickhouse_url: str) -> Any:
    """The events store set to ClickHouse (chdb) for this test (its events stay: see `events_backend`)."""
    settings.CLICKHOUSE_URL = clickhouse_url
    return client_for_url(clickhouse_url)


def batch(raw: Client, token: str, events: list[dict[str, Any]]) -> Any:
    return raw.post("/batch/", json.dumps({"api_key": token, "batch": events}), content_type="application/json")


class TestSchema:
    def test_migrations_apply_once_and_are_recorded(self, clickhouse: Any) -> None:
        assert migrate(clickhouse) == []  # the session fixture applied them already
        versions = clickhouse.query(f"SELECT version FROM {clickhouse.database}.schema_migrations FINAL").rows
        assert sorted(v for (v,) in versions) == [*(version for version, _ in MIGRATIONS), MATERIALIZED_COLUMNS]

    def test_the_events_table_is_sorted_as_posthogs(self, clickhouse: Any) -> None:
        [(sorting_key, engine)] = clickhouse.query(
            "SELECT sorting_key, engine FROM system.tables WHERE database = {db:String} AND name = 'events'",
            {"db": clickhouse.database},
        ).rows
        assert sorting_key == "team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid)"
        assert engine == "ReplacingMergeTree"

    def test_the_command_needs_a_url(self, settings: Any) -> None:
        settings.CLICKHOUSE_URL = ""
        with pytest.raises(CommandError, match="CLICKHOUSE_URL is not set"):
            call_command("clickhouse_migrate")

    def test_serve_refuses_chdb_which_one_process_owns(self, settings: Any, clickhouse_url: str) -> None:
        settings.CLICKHOUSE_URL = clickhouse_url
        with pytest.raises(CommandError, match="needs a ClickHouse server"):
            call_command("serve")


@pytest.mark.django_db
class TestPersonsOnEvents:
    def test_each_event_carries_its_person_as_ingested(self, clickhouse: Any, tenant: Tenant) -> None:
        store(tenant.team, make_event(distinct_id="ann", properties={"$set": {"email": "ann@example.com"}}),
              make_event(distinct_id="anon", properties={"$process_person_profile": False}))  # fmt: skip
        person = Person.objects.get(distinct_ids__distinct_id="ann")
        rows = clickhouse.query(
            f"SELECT distinct_id, person_id, person_properties, person_created_at FROM {clickhouse.database}.events "
            "WHERE team_id = {team:Int64} ORDER BY distinct_id",
            {"team": tenant.team.id},
        ).rows
        ann, anon = rows
        assert ann[:2] == ("ann", person.uuid)
        assert orjson.loads(ann[2]) == {"email": "ann@example.com"}
        assert abs((ann[3] - person.created_at).total_seconds()) < 1e-3
        assert anon == ("anon", None, "{}", None)

    def test_an_event_without_a_profile_carries_the_person_its_id_already_has(self, clickhouse: Any,
                                                                              tenant: Tenant) -> None:  # fmt: skip
        store(tenant.team, make_event(distinct_id="ann", properties={"$set": {"plan": "pro"}}))
        store(tenant.team, make_event(distinct_id="ann", properties={"$process_person_profile": False}))
        person = Person.objects.get(distinct_ids__distinct_id="ann")
        rows = clickhouse.query(f"SELECT person_id, person_properties FROM {clickhouse.database}.events "
                                "WHERE team_id = {team:Int64}", {"team": tenant.team.id}).rows  # fmt: skip
        assert [(person_id, orjson.loads(properties)) for person_id, properties in rows] == [
            (person.uuid, {"plan": "pro"})
        ] * 2

    def test_a_merge_in_the_batch_stamps_every_event_with_the_person_that_remains(self, clickhouse: Any,
                                                                                  tenant: Tenant) -> None:  # fmt: skip
        store(tenant.team, make_event(distinct_id="anon", properties={"$set": {"seen": "landing"}}),
              make_event(distinct_id="ann", properties={"$set": {"plan": "pro"}}))  # fmt: skip
        identify = make_event(event="$create_alias", distinct_id="ann", properties={"alias": "anon", "second": 1})
        store(tenant.team, make_event(distinct_id="anon", properties={"second": 1}), identify,
              make_event(distinct_id="ann", properties={"second": 1, "$set": {"email": "ann@example.com"}}))  # fmt: skip
        person = Person.objects.get(distinct_ids__distinct_id="ann")
        assert person.properties == {"seen": "landing", "plan": "pro", "email": "ann@example.com"}
        rows = clickhouse.query(
            f"SELECT distinct_id, person_id, person_properties FROM {clickhouse.database}.events "
            "WHERE team_id = {team:Int64} AND JSONHas(properties, 'second')",
            {"team": tenant.team.id},
        ).rows
        assert sorted((d, p, orjson.loads(props)) for d, p, props in rows) == [
            ("ann", person.uuid, person.properties),
            ("ann", person.uuid, person.properties),
            ("anon", person.uuid, person.properties),
        ]

    def test_hogql_reads_person_properties_without_postgresql(self, clickhouse: Any, tenant: Tenant) -> None:
        store(tenant.team, make_event(distinct_id="ann", properties={"$set": {"plan": "pro"}}))
        Person.objects.filter(team=tenant.team).update(properties={"plan": "changed later"})
        result = hogql.hogql_select(team=tenant.team, query="select person.properties.plan, count() from events "
                                    "group by person.properties.plan", values=None, now=timezone.now())  # fmt: skip
        # As in PostHog (persons on events): the person as the event was ingested.
        assert result.rows == [("pro", 1)]


@pytest.mark.django_db
class TestNothingLostNothingDoubled:
    def test_clickhouse_down_is_a_503_and_nothing_is_kept(self, settings: Any, tenant: Tenant,
                                                          clickhouse_url: str) -> None:  # fmt: skip
        make_evaluation(tenant, conditions=[{"id": str(uuid.uuid4()), "rollout_percentage": 100, "properties": []}])
        settings.CLICKHOUSE_URL = f"http://default:@127.0.0.1:{embedded.free_port()}/posthog"
        settings.CLICKHOUSE_TIMEOUT_SECONDS = 2
        event = {"event": "$ai_generation", "distinct_id": "new-user", "uuid": str(uuid.uuid4()),
                 "properties": {**GENERATION_PROPERTIES, "$set": {"plan": "pro"}}}  # fmt: skip
        raw = Client()
        response = batch(raw, tenant.team.api_token, [event])
        assert response.status_code == 503
        assert response["Retry-After"] == "1"
        assert response.json()["code"] == "clickhouse_unavailable"
        assert not PersonDistinctId.objects.filter(team=tenant.team).exists()  # the persons rolled back too
        assert recorded_runs().count() == 0

        settings.CLICKHOUSE_URL = clickhouse_url  # back up: the SDK's retry is stored once
        assert batch(raw, tenant.team.api_token, [event]).status_code == 200
        assert batch(raw, tenant.team.api_token, [event]).status_code == 200
        assert [str(e.uuid) for e in stored_events(tenant.team)] == [event["uuid"]]
        assert recorded_runs().count() == 1

    def test_a_batch_clickhouse_kept_when_postgresql_rolled_back_is_stored_once(
        self, clickhouse: Any, tenant: Tenant
    ) -> None:
        events = [make_event(distinct_id=f"user-{n}") for n in range(3)]
        with pytest.raises(RuntimeError), transaction.atomic():
            events_capture(team=tenant.team, events=events)
            raise RuntimeError("PostgreSQL failed after ClickHouse stored the batch")
        assert not PersonDistinctId.objects.filter(team=tenant.team).exists()
        result = events_capture(team=tenant.team, events=[*events, make_event(distinct_id="user-3")])
        assert (result.inserted, result.duplicates) == (1, 3)
        assert sorted(e.distinct_id for e in stored_events(tenant.team)) == [f"user-{n}" for n in range(4)]
        assert PersonDistinctId.objects.filter(team=tenant.team).count() == 4

    def test_an_insert_sent_twice_is_stored_once(self, clickhouse: Any, tenant: Tenant, key_client: Any) -> None:
        # What a transport that resends a request would do: the same block twice. ClickHouse drops the repeat on
        # insert, so the row is there once before any merge, and every read counts it once.
        event = make_event(event="twice")
        row = orjson.dumps([tenant.team.id, event.uuid, event.event, event.distinct_id, "{}", event.timestamp,
                            BASE_TIME, "", None, "{}", None])  # fmt: skip
        for _ in range(2):
            clickhouse.insert(f"{clickhouse.database}.events", INSERT_COLUMNS, row, INSERT_SETTINGS)
        rows = clickhouse.query(f"SELECT count() FROM {clickhouse.database}.events WHERE team_id = {{t:Int64}}",
                                {"t": tenant.team.id}).rows  # fmt: skip
        assert rows == [(1,)]
        assert [e.uuid for e in stored_events(tenant.team)] == [event.uuid]
        result = hogql.hogql_select(team=tenant.team, query="select count() from events", values=None,
                                    now=timezone.now())  # fmt: skip
        assert result.rows == [(1,)]
        api = key_client("query:read")
        listed = api.get(f"/api/environments/{tenant.team.id}/events/", {"before": "2100-01-01T00:00:00Z"}).json()
        assert [e["id"] for e in listed["results"]] == [str(event.uuid)]

    @pytest.mark.django_db(transaction=True)
    def test_concurrent_batches_of_the_same_uuids_store_each_once(self, clickhouse: Any, tenant: Tenant) -> None:
        """Writers with the same uuids at once: the advisory locks make each later one see the first's rows. (The
        persons exist already, so nothing else in PostgreSQL makes the writers wait for each other.)"""
        store(tenant.team, *[make_event(distinct_id=f"user-{n}") for n in range(7)])
        events = [make_event(distinct_id=f"user-{n % 7}", properties={"n": n}) for n in range(200)]
        barrier = threading.Barrier(4)

        def write() -> int:
            barrier.wait(timeout=10)
            try:
                return events_capture(team=tenant.team, events=events).inserted
            finally:
                connection.close()

        with ThreadPoolExecutor(4) as pool:
            inserted = list(pool.map(lambda _: write(), range(4)))
        assert sorted(inserted) == [0, 0, 0, 200]
        assert len(stored_events(tenant.team)) == 207


@pytest.mark.django_db
class TestReadiness:
    def test_readyz_names_clickhouse(self, clickhouse: Any, settings: Any, temporal_settings: Any,
                                     local_storage: Any) -> None:  # fmt: skip
        ready = Client().get("/_readyz")
        assert ready.status_code == 200, ready.content
        assert ready.json()["checks"]["clickhouse"]["status"] == "ok"
        settings.CLICKHOUSE_URL = f"http://default:@127.0.0.1:{embedded.free_port()}/posthog"
        response = Client().get("/_readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["clickhouse"]["status"] == "unavailable"

    def test_store_is_one_per_url(self, clickhouse_url: str) -> None:
        assert clickhouse_store(clickhouse_url) is clickhouse_store(clickhouse_url)
