"""Persons behind distinct ids: property updates, identify/alias merges, and concurrent batches over real HTTP."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from events.models import Person, PersonDistinctId
from events.persons import person_uuid_for
from tests.events.helpers import make_event, minutes, store
from tests.support.tenants import Tenant


def person_of(tenant: Tenant, distinct_id: str) -> Person:
    return PersonDistinctId.objects.select_related("person").get(team=tenant.team, distinct_id=distinct_id).person


def ids_of(person: Person) -> set[str]:
    return set(person.distinct_ids.values_list("distinct_id", flat=True))


@pytest.mark.django_db
class TestProperties:
    def test_every_distinct_id_gets_one_person(self, tenant: Tenant) -> None:
        store(tenant.team, make_event(distinct_id="a"), make_event(distinct_id="b"), make_event(distinct_id="a"))
        assert person_of(tenant, "a").pk != person_of(tenant, "b").pk
        assert Person.objects.filter(team=tenant.team).count() == 2

    def test_a_new_persons_uuid_derives_from_its_project_and_distinct_id(self, tenant: Tenant, other_tenant: Tenant
                                                                        ) -> None:  # fmt: skip
        """So a batch retried after its transaction rolled back (another store kept its rows, stamped with the
        person) makes the same person again."""
        store(tenant.team, make_event(distinct_id="a"))
        store(other_tenant.team, make_event(distinct_id="a"))
        assert person_of(tenant, "a").uuid == person_uuid_for(tenant.team.id, "a")
        assert person_of(other_tenant, "a").uuid == person_uuid_for(other_tenant.team.id, "a")
        assert person_uuid_for(tenant.team.id, "a") != person_uuid_for(other_tenant.team.id, "a")

    def test_set_set_once_and_unset_in_event_order(self, tenant: Tenant) -> None:
        store(
            tenant.team,
            make_event(properties={"$set": {"plan": "free", "gone": 1}, "$set_once": {"first": "landing"}}),
            make_event(properties={"$set_once": {"first": "ignored", "referrer": "ad"}, "$set": {"plan": "pro"}}),
            make_event(properties={"$unset": ["gone"]}),
        )
        assert person_of(tenant, "user-1").properties == {"plan": "pro", "first": "landing", "referrer": "ad"}

    def test_set_once_never_overwrites_a_stored_value(self, tenant: Tenant) -> None:
        store(tenant.team, make_event(properties={"$set": {"plan": "free"}}))
        store(tenant.team, make_event(properties={"$set_once": {"plan": "pro", "new": True}}))
        assert person_of(tenant, "user-1").properties == {"plan": "free", "new": True}

    def test_personless_events_make_no_person(self, tenant: Tenant) -> None:
        store(
            tenant.team, make_event(distinct_id="bot", properties={"$process_person_profile": False, "$set": {"x": 1}})
        )
        assert not PersonDistinctId.objects.filter(team=tenant.team, distinct_id="bot").exists()

    def test_persons_are_per_project(self, tenant: Tenant, other_tenant: Tenant) -> None:
        store(tenant.team, make_event(distinct_id="same", properties={"$set": {"team": "mine"}}))
        store(other_tenant.team, make_event(distinct_id="same", properties={"$set": {"team": "theirs"}}))
        assert person_of(tenant, "same").properties == {"team": "mine"}
        assert person_of(other_tenant, "same").properties == {"team": "theirs"}


@pytest.mark.django_db
class TestMerges:
    def test_identify_merges_the_anonymous_person(self, tenant: Tenant) -> None:
        store(tenant.team, make_event(distinct_id="anon", properties={"$set": {"device": "phone", "plan": "free"}}))
        store(tenant.team, make_event(distinct_id="ann@x", properties={"$set": {"plan": "pro"}}))
        anonymous = person_of(tenant, "anon")
        store(tenant.team, make_event(event="$identify", distinct_id="ann@x", properties={"$anon_distinct_id": "anon"}))
        merged = person_of(tenant, "ann@x")
        assert person_of(tenant, "anon").pk == merged.pk
        assert ids_of(merged) == {"anon", "ann@x"}
        assert merged.properties == {"device": "phone", "plan": "pro"}  # the identified person's values win
        assert merged.is_identified is True
        assert not Person.objects.filter(pk=anonymous.pk).exists()

    def test_identify_links_a_new_anonymous_id(self, tenant: Tenant) -> None:
        store(tenant.team, make_event(event="$identify", distinct_id="bob", properties={"$anon_distinct_id": "fresh"}))
        assert ids_of(person_of(tenant, "bob")) == {"bob", "fresh"}
        assert Person.objects.filter(team=tenant.team).count() == 1

    def test_identify_never_merges_two_identified_persons(self, tenant: Tenant) -> None:
        store(tenant.team, make_event(event="$identify", distinct_id="first", properties={"$anon_distinct_id": "a1"}))
        store(tenant.team, make_event(event="$identify", distinct_id="second", properties={"$anon_distinct_id": "a2"}))
        store(
            tenant.team, make_event(event="$identify", distinct_id="second", properties={"$anon_distinct_id": "first"})
        )
        assert person_of(tenant, "first").pk != person_of(tenant, "second").pk

    def test_create_alias_merges(self, tenant: Tenant) -> None:
        store(tenant.team, make_event(distinct_id="old-id", properties={"$set": {"a": 1}}))
        store(tenant.team, make_event(distinct_id="new-id", properties={"$set": {"b": 2}}))
        store(tenant.team, make_event(event="$create_alias", distinct_id="new-id", properties={"alias": "old-id"}))
        person = person_of(tenant, "new-id")
        assert ids_of(person) == {"old-id", "new-id"}
        assert person.properties == {"a": 1, "b": 2}

    def test_merge_inside_one_batch(self, tenant: Tenant) -> None:
        store(
            tenant.team,
            make_event(distinct_id="anon-9", properties={"$set": {"seen": "before"}}, timestamp=minutes(1)),
            make_event(event="$identify", distinct_id="user-9", properties={"$anon_distinct_id": "anon-9"}),
            make_event(distinct_id="user-9", properties={"$set": {"after": True}}, timestamp=minutes(3)),
        )
        person = person_of(tenant, "user-9")
        assert ids_of(person) == {"anon-9", "user-9"}
        assert person.properties == {"seen": "before", "after": True}


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_http_map_each_id_to_exactly_one_person(live_server, tenant: Tenant) -> None:
    """Four clients send overlapping distinct ids (and identify calls between them) at once."""
    ids = [f"user-{n}" for n in range(40)]
    sent: set[str] = set()

    def client(worker: int) -> list[int]:
        rng = random.Random(worker)
        statuses = []
        with requests.Session() as session:  # closed, so the server's keep-alive thread ends with its connection
            for _ in range(8):
                batch = [{"event": "tick", "distinct_id": rng.choice(ids), "properties": {"$set": {"w": worker}}}
                         for _ in range(30)]  # fmt: skip
                left, right = rng.sample(ids, 2)
                batch.append({"event": "$identify", "distinct_id": left, "properties": {"$anon_distinct_id": right}})
                sent.update(event["distinct_id"] for event in batch)
                sent.add(right)
                body = {"api_key": tenant.team.api_token, "batch": batch}
                response = session.post(f"{live_server.url}/batch/", data=json.dumps(body), timeout=30,
                                        headers={"Content-Type": "application/json"})  # fmt: skip
                statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [status for result in pool.map(client, range(4)) for status in result]
    assert statuses == [200] * 32
    mapped = list(PersonDistinctId.objects.filter(team=tenant.team).values_list("distinct_id", flat=True))
    assert sorted(mapped) == sorted(sent)  # every id sent has exactly one person
    # No person is left without a distinct id (orphans from lost races are removed).
    assert not Person.objects.filter(team=tenant.team, distinct_ids__isnull=True).exists()
