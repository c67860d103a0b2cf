"""Persons as a batch of events changes them: every distinct id mapped to a person, ids linked by `$identify` /
`$create_alias` (merging two persons when both exist), and person property changes applied, in the capture's
transaction (`events.services.events_capture`). Statements touch rows in sorted order, so concurrent batches over the
same distinct ids wait for each other instead of deadlocking."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg

from events.records import EventInput, PersonStamp

# Person rows are locked in id order, so concurrent batches should only ever wait for each other; if PostgreSQL
# still reports a deadlock (a merge moved ids while this batch waited), the whole batch is simply run again.
DEADLOCK_RETRIES = 3
PERSON_CREATE_ATTEMPTS = 3
# A person's id and its `PersonStamp`.
STAMP_COLUMNS = "p.id, p.uuid::text, p.properties::text, to_json(p.created_at)::text"
PERSON_UUID_NAMESPACE = uuid.UUID("6f0c4b5e-3d0a-4c59-9a53-2f1d8f7c1e42")


def person_uuid_for(team_id: int, distinct_id: str) -> uuid.UUID:
    """The uuid of the person first made for a distinct id, derived from it: a batch that rolled back after
    ClickHouse kept its events (stamped with their person) and the retry of that batch make the same person."""
    return uuid.uuid5(PERSON_UUID_NAMESPACE, f"{team_id}:{distinct_id}")


def _text(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


@dataclass
class _PersonChanges:
    to_set: dict[str, Any] = field(default_factory=dict)
    to_set_once: dict[str, Any] = field(default_factory=dict)
    to_unset: set[str] = field(default_factory=set)
    identified: bool = False

    def apply(self, properties: dict[str, Any], event: str) -> None:
        """Fold one event's `$set` / `$set_once` / `$unset` in, in event order."""
        unset = properties.get("$unset")
        for raw_key in unset if isinstance(unset, list) else []:
            key = str(raw_key)
            self.to_set.pop(key, None)
            self.to_set_once.pop(key, None)
            self.to_unset.add(key)
        set_once = properties.get("$set_once")
        if isinstance(set_once, dict):
            for key, value in set_once.items():
                if key not in self.to_set and key not in self.to_unset:
                    self.to_set_once.setdefault(key, value)
        to_set = properties.get("$set")
        if isinstance(to_set, dict):
            self.to_set.update(to_set)
            self.to_unset.difference_update(to_set)
        if event == "$identify":
            self.identified = True

    def __bool__(self) -> bool:
        return bool(self.to_set or self.to_set_once or self.to_unset or self.identified)


class PersonUpdater:
    """Maps every distinct id of a batch to a person, links ids from `$identify` / `$create_alias` (merging two
    persons when both exist), then applies the batch's person property changes. With `stamps`, `apply` also
    answers each distinct id's person as it is then, for a store that keeps persons on events: read with the
    mapping, and read again only for the persons the batch made or changed."""

    def __init__(self, cursor: psycopg.Cursor[Any], team_id: int, *, stamps: bool = False) -> None:
        self.cursor = cursor
        self.team_id = team_id
        self.stamps = stamps
        self.person_of: dict[str, int] = {}
        self.stamp_of: dict[int, PersonStamp] = {}

    def apply(self, events: Sequence[EventInput]) -> dict[str, PersonStamp]:
        personful = [e for e in events if e.properties.get("$process_person_profile") is not False]
        if personful:
            self._resolve(personful)
        if not self.stamps:
            return {}
        # An event without a person profile is still stamped with the person its id already has.
        if unknown := sorted({e.distinct_id for e in events} - self.person_of.keys()):
            self._select_persons(unknown)
        # Persons made here (and merged or updated ones, dropped by `_change`) are read once more, by id.
        self._read_stamps(set(self.person_of.values()) - self.stamp_of.keys())
        # (A person merged away by a concurrent batch since it was mapped has no stamp: its events have none.)
        return {d: stamp for d, person in self.person_of.items() if (stamp := self.stamp_of.get(person)) is not None}

    def _resolve(self, personful: list[EventInput]) -> None:
        links = []
        for event in personful:
            other = None
            if event.event == "$identify":
                other = _text(event.properties.get("$anon_distinct_id"))
            elif event.event in ("$create_alias", "$merge_dangerously"):
                other = _text(event.properties.get("alias"))
            if other and other[:400] != event.distinct_id:
                links.append((event.distinct_id, other[:400], event.event != "$identify"))
        distinct_ids = sorted({e.distinct_id for e in personful} | {other for _, other, _ in links})
        self._ensure_persons(distinct_ids)
        changing = {other for _, other, _ in links} | {distinct_id for distinct_id, _, _ in links}
        changing.update(
            e.distinct_id
            for e in personful
            if e.event == "$identify"
            or "$set" in e.properties
            or "$set_once" in e.properties
            or "$unset" in e.properties
        )
        if changing:
            self._change(personful, links, changing)

    def _change(self, personful: list[EventInput], links: list[tuple[str, str, bool]], changing: set[str]) -> None:
        self._lock_persons(sorted(changing))
        for distinct_id, other, force in links:
            self._link(distinct_id, other, force=force)
        changes: dict[int, _PersonChanges] = {}
        for event in personful:
            if event.distinct_id not in changing:
                continue
            changes.setdefault(self.person_of[event.distinct_id], _PersonChanges()).apply(event.properties, event.event)
        self._update_properties({pid: change for pid, change in changes.items() if change})
        for distinct_id in changing:
            self.stamp_of.pop(self.person_of[distinct_id], None)

    def _select_persons(self, distinct_ids: list[str]) -> None:
        if not self.stamps:
            self.cursor.execute(
                "SELECT distinct_id, person_id FROM events_persondistinctid "
                "WHERE team_id = %b AND distinct_id = ANY(%b)",
                (self.team_id, distinct_ids),
            )
            self.person_of.update(self.cursor.fetchall())
            return
        self.cursor.execute(
            f"SELECT pdi.distinct_id, {STAMP_COLUMNS} FROM events_persondistinctid AS pdi "
            "JOIN events_person AS p ON p.id = pdi.person_id WHERE pdi.team_id = %b AND pdi.distinct_id = ANY(%b)",
            (self.team_id, distinct_ids),
        )
        for distinct_id, person, *stamp in self.cursor.fetchall():
            self.person_of[distinct_id] = person
            self.stamp_of[person] = PersonStamp(*stamp)

    def _read_stamps(self, persons: set[int]) -> None:
        if persons:
            self.cursor.execute(
                f"SELECT {STAMP_COLUMNS} FROM events_person AS p WHERE p.id = ANY(%b)", (sorted(persons),)
            )
            self.stamp_of.update((person, PersonStamp(*stamp)) for person, *stamp in self.cursor.fetchall())

    def _ensure_persons(self, distinct_ids: list[str]) -> None:
        """Create a person for each unknown id, with the uuid that id derives (`person_uuid_for`). A concurrent
        batch may create the same person first: its row wins (the insert waits for it, then finds it)."""
        self._select_persons(distinct_ids)
        for _ in range(PERSON_CREATE_ATTEMPTS):
            missing = [d for d in distinct_ids if d not in self.person_of]
            if not missing:
                return
            self._create_persons(missing)
        raise RuntimeError(f"persons for {len(missing)} distinct ids were merged away as fast as they were made")

    def _create_persons(self, missing: list[str]) -> None:
        uuids = [person_uuid_for(self.team_id, d) for d in missing]
        self.cursor.execute(
            "INSERT INTO events_person (uuid, team_id, properties, is_identified, created_at) "
            "SELECT u, %b, '{}'::jsonb, false, now() FROM unnest(%b::uuid[]) AS u "
            "ON CONFLICT (uuid) DO NOTHING RETURNING uuid, id",
            (self.team_id, uuids),
        )
        created = dict(self.cursor.fetchall())
        found = dict(created)
        if len(created) < len(uuids):  # made before (a concurrent batch, or one whose id mapping went away)
            self.cursor.execute("SELECT uuid, id FROM events_person WHERE team_id = %b AND uuid = ANY(%b)",
                                (self.team_id, [u for u in uuids if u not in created]))  # fmt: skip
            found.update(self.cursor.fetchall())
        # A person neither made here nor found was merged away in between: its id is tried again by the caller.
        pairs = [(d, found[u]) for d, u in zip(missing, uuids, strict=True) if u in found]
        if not pairs:
            return
        self.cursor.execute(
            "INSERT INTO events_persondistinctid (team_id, distinct_id, person_id) "
            "SELECT %b, d, p FROM unnest(%b::text[], %b::bigint[]) AS x(d, p) "
            "ON CONFLICT (team_id, distinct_id) DO NOTHING RETURNING distinct_id, person_id",
            (self.team_id, [d for d, _ in pairs], [p for _, p in pairs]),
        )
        self.person_of.update(self.cursor.fetchall())
        lost = [(d, p) for d, p in pairs if d not in self.person_of]
        if lost:
            made_here = set(created.values())
            orphans = [p for _, p in lost if p in made_here]
            self.cursor.execute("DELETE FROM events_person WHERE id = ANY(%b)", (orphans,))
            self._select_persons([d for d, _ in lost])

    def _lock_persons(self, distinct_ids: list[str]) -> None:
        """Lock the persons about to change, in id order, so that batches touching the same persons queue up
        instead of deadlocking. A merge committed while waiting can move ids to another person: re-read their
        mapping and lock the newcomers too."""
        locked: set[int] = set()
        for _ in range(DEADLOCK_RETRIES):
            wanted = sorted({self.person_of[d] for d in distinct_ids} - locked)
            if not wanted:
                return
            self.cursor.execute("SELECT id FROM events_person WHERE id = ANY(%b) ORDER BY id FOR UPDATE", (wanted,))
            locked.update(row[0] for row in self.cursor.fetchall())
            for distinct_id in distinct_ids:
                del self.person_of[distinct_id]
            self._select_persons(distinct_ids)

    def _link(self, distinct_id: str, other: str, *, force: bool) -> None:
        """Make `other` an id of `distinct_id`'s person. If `other` already has a person of its own, merge it in,
        unless that person is identified and this is an `$identify` (PostHog never merges two identified users
        on identify)."""
        keep = self.person_of[distinct_id]
        if other not in self.person_of:
            self._select_persons([other])
        if other not in self.person_of:
            self.cursor.execute(
                "INSERT INTO events_persondistinctid (team_id, distinct_id, person_id) VALUES (%b, %b, %b) "
                "ON CONFLICT (team_id, distinct_id) DO NOTHING RETURNING person_id",
                (self.team_id, other, keep),
            )
            if self.cursor.fetchone() is not None:
                self.person_of[other] = keep
                return
            self._select_persons([other])  # created concurrently: merge with it below
        absorb = self.person_of[other]
        if keep == absorb:
            return
        self.cursor.execute(
            "SELECT id, is_identified FROM events_person WHERE id = ANY(%b) ORDER BY id FOR UPDATE",
            ([keep, absorb],),
        )
        identified = dict(self.cursor.fetchall())
        if absorb not in identified or keep not in identified:
            return  # merged away by a concurrent batch; its result stands
        if identified[absorb] and not force:
            return
        self.cursor.execute(
            "UPDATE events_persondistinctid SET person_id = %b WHERE person_id = %b RETURNING distinct_id",
            (keep, absorb),
        )
        for (moved,) in self.cursor.fetchall():
            self.person_of[moved] = keep
        self.cursor.execute(
            "UPDATE events_person AS p SET properties = o.properties || p.properties, "
            "is_identified = p.is_identified OR o.is_identified "
            "FROM events_person AS o WHERE p.id = %b AND o.id = %b",
            (keep, absorb),
        )
        self.cursor.execute("DELETE FROM events_person WHERE id = %b", (absorb,))

    def _update_properties(self, changes: dict[int, _PersonChanges]) -> None:
        if not changes:
            return
        ids = sorted(changes)
        self.cursor.execute(
            "UPDATE events_person AS p SET properties = "
            "((v.set_once::jsonb || p.properties) - ARRAY(SELECT jsonb_array_elements_text(v.unset::jsonb))) "
            "|| v.set::jsonb, "
            "is_identified = p.is_identified OR v.identified "
            "FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::bool[]) "
            "AS v(id, set, set_once, unset, identified) WHERE p.id = v.id",
            (
                ids,
                [orjson.dumps(changes[i].to_set).decode() for i in ids],
                [orjson.dumps(changes[i].to_set_once).decode() for i in ids],
                [orjson.dumps(sorted(changes[i].to_unset)).decode() for i in ids],
                [changes[i].identified for i in ids],
            ),
        )
