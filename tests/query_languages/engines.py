"""The three engines that must agree, over the same events: PostgreSQL (the SQL printed for it, over the Django
tables), ClickHouse (chdb, in this process) and the Python interpreter of filters. Events are written to both
databases directly, so each holds exactly the same rows and persons."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.db import DatabaseError, connection, transaction

from environments.models import Team
from events.models import Event, Person, PersonDistinctId
from events.sql_schema import clickhouse_dialect, postgres_dialect
from events.stores.clickhouse_client import ClickHouseClient, ClickHouseError
from query_languages import (
    Context,
    EventView,
    HogQLError,
    PostgresDialect,
    PropertyGroup,
    Sql,
    clickhouse_bind,
    compile_filters,
    matches,
    parse_select,
    print_select,
    sql,
)
from tests.support.tenants import make_tenant

NOW = datetime(2026, 11, 20, tzinfo=UTC)
BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DATABASE = "query_languages_tests"  # a database of these tests' own: other tests empty the shared one
COLUMNS = ["team_id", "uuid", "event", "distinct_id", "properties", "timestamp", "created_at", "elements_chain",
           "person_id", "person_properties", "person_created_at"]  # fmt: skip


class Refused(Exception):
    """The engine refused the statement (a 400 for the caller)."""


@dataclass(frozen=True)
class Stored:
    distinct_id: str
    properties: Mapping[str, Any]
    event: str = "$pageview"
    timestamp: datetime = BASE_TIME
    elements_chain: str = ""
    person: Mapping[str, Any] | None = None  # the person's properties; None: no person


@dataclass
class InDatabase:
    """The shared chdb session, addressed in another database (for `migrate`)."""

    client: ClickHouseClient
    database: str

    def query(self, text: str, params: Mapping[str, Any] | None = None, settings: Any = None) -> Any:
        return self.client.query(text, params, settings)

    def command(self, text: str, params: Mapping[str, Any] | None = None) -> None:
        self.client.command(text, params)

    def insert(self, table: str, columns: list[str], body: bytes, settings: Any = None) -> None:
        self.client.insert(table, columns, body, settings)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Engines:
    team: Team
    clickhouse: ClickHouseClient
    events: list[Stored] = field(default_factory=list)
    views: list[EventView] = field(default_factory=list)
    timezone: str = "UTC"  # the project's

    @property
    def context(self) -> Context:
        return Context(team_id=self.team.id, timezone=self.timezone, tz=ZoneInfo(self.timezone), now=NOW)

    def store(self, events: list[Stored]) -> None:
        rows = []
        for number, stored in enumerate(events, start=len(self.events)):
            # Ids and times fixed by the project and the event's place, so that every run reads the same data (a
            # generated condition over `uuid`, `person_id` or `person.created_at` must not pass one run and not the
            # next).
            event_uuid = uuid.UUID(int=(self.team.id << 64) | (2 * number))
            Event.objects.create(team=self.team, uuid=event_uuid, event=stored.event, distinct_id=stored.distinct_id,
                                 properties=stored.properties, timestamp=stored.timestamp, created_at=stored.timestamp,
                                 elements_chain=stored.elements_chain)  # fmt: skip
            person = None
            if stored.person is not None:
                person = Person.objects.create(
                    team=self.team,
                    properties=stored.person,
                    uuid=uuid.UUID(int=(self.team.id << 64) | (2 * number + 1)),
                )
                Person.objects.filter(pk=person.pk).update(created_at=stored.timestamp)
                person.refresh_from_db()
                PersonDistinctId.objects.create(team=self.team, person=person, distinct_id=stored.distinct_id)
            rows.append(orjson.dumps([
                self.team.id, str(event_uuid), stored.event, stored.distinct_id,
                orjson.dumps(stored.properties).decode(), _moment(stored.timestamp), _moment(stored.timestamp),
                stored.elements_chain, str(person.uuid) if person else None,
                orjson.dumps(stored.person or {}).decode(), _moment(person.created_at) if person else None,
            ]))  # fmt: skip
            self.views.append(EventView(properties=stored.properties, event=stored.event,
                                        distinct_id=stored.distinct_id, uuid=str(event_uuid),
                                        timestamp=stored.timestamp, elements_chain=stored.elements_chain,
                                        person_properties=stored.person))  # fmt: skip
        self.clickhouse.insert(f"{DATABASE}.events", COLUMNS, b"\n".join(rows))
        self.events.extend(events)

    # --- running SQL -------------------------------------------------------------------------------------------
    def run_postgres(self, statement: Sql) -> list[tuple[Any, ...]]:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement.text, statement.params)
                return [tuple(row) for row in cursor.fetchall()]
        except DatabaseError as error:
            raise Refused(str(error).split("\n")[0]) from None

    def run_clickhouse(self, statement: Sql) -> list[tuple[Any, ...]]:
        text, params = clickhouse_bind(statement)
        # What the SQL text may hold: `%s` placeholders only, and no braces (bound parameters are written in them).
        assert "%" not in statement.text.replace("%s", "") and "{" not in statement.text, statement.text
        return self.clickhouse.query(text, params).rows

    def select(self, query: str, dialect: Any) -> list[tuple[Any, ...]]:
        printed = print_select(parse_select(query), dialect=dialect, context=self.context, text=query)
        if isinstance(dialect, PostgresDialect):
            return self.run_postgres(printed.sql)
        return self.run_clickhouse(printed.sql)

    def matching(self, tree: PropertyGroup, dialect: Any) -> set[str]:
        """The distinct ids of the events `tree` matches, in that database."""
        compiled = compile_filters(tree, tz=UTC, now=NOW, dialect=dialect)
        join = dialect.person_join() if compiled.needs_person else None
        statement = sql("SELECT e.distinct_id FROM {}{} WHERE {} AND {}", dialect.table("events"),
                        sql(" {}", join) if join is not None else Sql(""), dialect.team_filter("e", self.team.id),
                        compiled.where)  # fmt: skip
        run = self.run_postgres if isinstance(dialect, PostgresDialect) else self.run_clickhouse
        return {row[0] for row in run(statement)}

    def matching_in_python(self, tree: PropertyGroup) -> set[str]:
        return {view.distinct_id for view in self.views if matches(tree, view, tz=UTC, now=NOW)}


def postgres_regex_problem(pattern: str) -> str | None:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [pattern])
    except DatabaseError as error:
        return str(error).split("\n")[0]
    return None


def dialects() -> Iterator[tuple[str, Any]]:
    # As the callers make them: PostgreSQL's regular expressions are checked by PostgreSQL itself too.
    yield "postgres", postgres_dialect(regex_check=postgres_regex_problem)
    yield "clickhouse", clickhouse_dialect(DATABASE)


def same(left: Any, right: Any) -> bool:
    """One value as both databases give it: numbers of any type by value (floats to the last few bits: sums and
    averages run in different orders), date-times as instants."""
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    numbers = (int, float, Decimal)
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True  # 0 / 0 in both
    if isinstance(left, numbers) and isinstance(right, numbers) and left != right:
        return math.isclose(float(left), float(right), rel_tol=1e-12, abs_tol=1e-300)
    return bool(left == right)


def select_both(engines: Engines, query: str) -> tuple[list[Any] | str, list[Any] | str]:
    """`query`'s rows in PostgreSQL and in ClickHouse, or why each refused it."""
    results: list[list[Any] | str] = []
    for _name, dialect in dialects():
        try:
            results.append(engines.select(query, dialect))
        except HogQLError as error:
            results.append(f"HogQLError: {error}")
        except Refused as error:
            results.append(f"refused: {error}")
        except ClickHouseError as error:
            results.append(f"ClickHouse error: {error}")
    return results[0], results[1]


@contextmanager
def stored_once(django_db_blocker: Any, clickhouse: Any, events: list[Stored]) -> Iterator[Engines]:
    """`events` stored in both databases for a module whose tests only read them (several hundred tests, one
    write), in a project of their own that is removed afterwards. Each test takes `dataclasses.replace` of it, so
    one may read it in another time zone without the next one seeing that."""
    with django_db_blocker.unblock():
        owner = make_tenant(f"corpus-{uuid.uuid4().hex[:8]}@example.com")
        stored = Engines(owner.team, clickhouse)
        stored.store(events)
    try:
        yield stored
    finally:
        with django_db_blocker.unblock():
            owner.organization.delete()  # its project, events and persons with it
            owner.user.delete()
