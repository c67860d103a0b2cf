"""HogQL statements run on the events store: parsed and printed by `query_languages`, executed read-only under a
statement timeout, limited as PostHog limits them, and every failure a domain error (never a bare 500)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings

from environments.models import Team
from events.records import Cursor
from events.stores import events_store, persons_store
from events.stores.base import EventsStore, window_conditions
from posthog_clone.errors import DomainError
from query_languages import (
    Context,
    Extra,
    HogQLError,
    PropertyGroup,
    compile_filters,
    constant_int,
    has_aggregate,
    hogql_ast,
    join,
    parse_column,
    parse_elements_chain,
    parse_expr,
    parse_order,
    parse_select,
    print_condition,
    print_select,
    team_timezone,
)

DEFAULT_ROWS = 100
MAX_ROWS = 50_000


@dataclass(frozen=True)
class HogQLResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    # Set when this server chose the limit (none given, or one above MAX_ROWS): whether rows were left out.
    has_more: bool | None
    limit: int | None
    offset: int | None


def hogql_error(error: HogQLError) -> DomainError:
    return DomainError(str(error), code=error.code)


def _context(team: Team, now: datetime) -> Context:
    return Context(team_id=team.id, timezone=team.timezone, tz=team_timezone(team.timezone), now=now)


def _seconds_left(started: float) -> float:
    """What QUERY_TIMEOUT_SECONDS leaves for the database once the query was parsed and printed: the timeout covers
    the whole query, not just its statement."""
    return settings.QUERY_TIMEOUT_SECONDS - (time.monotonic() - started)


def _store_for(table: str | None) -> EventsStore:
    """Events are wherever the events store keeps them; persons are always in PostgreSQL (and a SELECT without
    FROM runs where the events are)."""
    return persons_store() if (table or "").lower() == "persons" else events_store()


def hogql_select(*, team: Team, query: str, values: Mapping[str, Any] | None, now: datetime) -> HogQLResult:
    """Run one HogQL SELECT for `team`. Without a LIMIT it returns DEFAULT_ROWS rows and says whether there were
    more; a LIMIT above MAX_ROWS is capped, and the result says so."""
    started = time.monotonic()
    try:
        parsed = parse_select(query, values=values)
        asked = constant_int(parsed.limit, what="LIMIT")
        offset = constant_int(parsed.offset, what="OFFSET") or 0
        limit = DEFAULT_ROWS if asked is None else min(asked, MAX_ROWS)
        store = _store_for(parsed.table)
        printed = print_select(parsed, dialect=store.dialect, context=_context(team, now), text=query,
                               limit=limit + 1, offset=offset)  # fmt: skip
    except HogQLError as error:
        raise hogql_error(error) from None
    rows = store.run_query(printed.sql, seconds=_seconds_left(started))
    chosen_by_us = asked is None or asked > MAX_ROWS
    return HogQLResult(
        columns=[column.name for column in printed.columns],
        types=[column.type for column in printed.columns],
        rows=rows[:limit],
        sql=printed.sql.text,
        has_more=len(rows) > limit if chosen_by_us else None,
        limit=limit if chosen_by_us else None,
        offset=offset if chosen_by_us else None,
    )


# --- EventsQuery: select/where lists over events, as the events list's `select` and PostHog's EventsQuery --------
STAR_FIELDS = ("uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain", "created_at")
PERSON_FIELDS = (("person", "id"), ("person", "created_at"), ("person", "properties"), ("distinct_id",))


def _star_type(timezone: str) -> str:
    moment = f"DateTime64(6, '{timezone}')"
    return f"Tuple(UUID, String, String, {moment}, Int64, String, String, {moment}, String)"


# Events stamped up to this far past the query's start still show: a client whose clock runs a little ahead.
BEFORE_DEFAULT = timedelta(seconds=5)


@dataclass(frozen=True)
class EventsQuery:
    """An EventsQuery, however it was asked for: `/query/` (kind EventsQuery) and the events list with `select`
    both read their parameters into one and run it through `events_query`."""

    select: list[str]
    where: list[str]
    order_by: list[str]  # HogQL, each with an optional ASC / DESC
    properties: PropertyGroup
    events: list[str] | None  # event names, or None for all
    distinct_ids: list[str] | None
    before: datetime | None  # exclusive; None: BEFORE_DEFAULT past now, as PostHog
    after: datetime | None  # exclusive; None: no lower bound (an endpoint may choose its own default)
    limit: int
    offset: int


@dataclass(frozen=True)
class EventsQueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    has_more: bool
    hogql: str


@dataclass(frozen=True)
class _Group:
    """One requested column and the printed columns it is made of."""

    name: str
    kind: str  # "expr", "star" or "person"
    width: int


def events_query(*, team: Team, query: EventsQuery, now: datetime) -> EventsQueryResult:
    """`select` expressions over the project's events matching `where` and the query's filters: non-aggregates are
    grouped when any column aggregates, aggregate `where` items filter groups, and the default order is PostHog's
    (`count()` or the first aggregate descending, else newest first when the time is selected, else the first
    column). `*` is the event and `person` its person, each as one object."""
    started = time.monotonic()
    select, where, limit, offset = query.select, query.where, query.limit, query.offset
    extra = events_filters(team=team, properties=query.properties, events=query.events,
                           distinct_ids=query.distinct_ids, before=query.before or now + BEFORE_DEFAULT,
                           after=query.after, now=now)  # fmt: skip
    try:
        groups, columns = _columns(select)
        conditions, having = [], []
        for text in where:
            parsed = parse_expr(text)
            (having if has_aggregate(parsed) else conditions).append(parsed)
        plain = [c.expr if isinstance(c, hogql_ast.Alias) else c for c in columns]
        aggregated = any(has_aggregate(c) for c in plain)
        group_by = tuple(c for c in plain if not has_aggregate(c)) if aggregated else ()
        orders = tuple(parse_order(text) for text in query.order_by) or _default_order(plain, select)
        query = hogql_ast.Select(columns=tuple(columns), table="events", where=_all(conditions),
                           group_by=group_by, having=_all(having), order_by=orders)  # fmt: skip
        store = events_store()
        names = iter(name for group in groups for name in [group.name] * group.width)
        printed = print_select(query, dialect=store.dialect, context=_context(team, now),
                               text=lambda node: next(names), limit=limit + 1, offset=offset, extra=extra)  # fmt: skip
    except HogQLError as error:
        raise hogql_error(error) from None
    rows = store.run_query(printed.sql, seconds=_seconds_left(started))
    types, position = [], 0
    for group in groups:
        moment = f"DateTime64(6, '{team.timezone}')"
        kind_types = {"star": _star_type(team.timezone), "person": f"Tuple(UUID, {moment}, String, String)"}
        types.append(kind_types.get(group.kind) or printed.columns[position].type)
        position += group.width
    hogql_text = f"SELECT {', '.join(select)} FROM events" + (f" WHERE {' AND '.join(where)}" if where else "")
    return EventsQueryResult(
        columns=[group.name for group in groups],
        types=types,
        rows=[_compose(row, groups, team.id) for row in rows[:limit]],
        has_more=len(rows) > limit,
        hogql=hogql_text,
    )


def _columns(select: list[str]) -> tuple[list[_Group], list[hogql_ast.Expr | hogql_ast.Alias]]:
    groups: list[_Group] = []
    columns: list[hogql_ast.Expr | hogql_ast.Alias] = []
    for text in select:
        bare = text.split("--")[0].strip()
        if bare == "*":
            columns += [hogql_ast.Field((name,)) for name in STAR_FIELDS]
            groups.append(_Group(text, "star", len(STAR_FIELDS)))
        elif bare == "person":
            columns += [hogql_ast.Field(chain) for chain in PERSON_FIELDS]
            groups.append(_Group(text, "person", len(PERSON_FIELDS)))
        else:
            column = parse_column(text)
            columns.append(column)
            groups.append(_Group(column.alias if isinstance(column, hogql_ast.Alias) else text, "expr", 1))
    if not columns:
        raise HogQLError("select needs at least one column.")
    return groups, columns


def _default_order(columns: list[hogql_ast.Expr], select: list[str]) -> tuple[hogql_ast.OrderBy, ...]:
    count = hogql_ast.Call("count", ())
    if count in columns:
        return (hogql_ast.OrderBy(count, descending=True),)
    aggregate = next((c for c in columns if has_aggregate(c)), None)
    if aggregate is not None:
        return (hogql_ast.OrderBy(aggregate, descending=True),)
    timestamp = hogql_ast.Field(("timestamp",))
    if timestamp in columns:
        return (hogql_ast.OrderBy(timestamp, descending=True),)
    return (hogql_ast.OrderBy(columns[0], descending=False),)


def _all(exprs: list[hogql_ast.Expr]) -> hogql_ast.Expr | None:
    if not exprs:
        return None
    return exprs[0] if len(exprs) == 1 else hogql_ast.And(tuple(exprs))


def _compose(row: tuple[Any, ...], groups: list[_Group], team_id: int) -> list[Any]:
    out: list[Any] = []
    position = 0
    for group in groups:
        cells = row[position : position + group.width]
        position += group.width
        if group.kind == "star":
            event_uuid, event, properties, timestamp, distinct_id, chain, created_at = cells
            shown = {"uuid": event_uuid, "event": event, "properties": orjson.loads(properties),
                     "timestamp": timestamp, "team_id": team_id, "distinct_id": distinct_id,
                     "elements_chain": chain, "created_at": created_at, "person_mode": "full"}  # fmt: skip
            if chain:
                shown["elements"] = parse_elements_chain(chain)
            out.append(shown)
        elif group.kind == "person":
            person_uuid, created_at, properties, distinct_id = cells
            if person_uuid is None:
                out.append({"distinct_id": distinct_id})
            else:
                out.append({"uuid": person_uuid, "created_at": created_at, "properties": orjson.loads(properties),
                            "distinct_id": distinct_id})  # fmt: skip
        else:
            out.append(cells[0])
    return out


def events_filters(
    *,
    team: Team,
    properties: PropertyGroup,
    events: list[str] | None,
    distinct_ids: list[str] | None,
    before: datetime,
    after: datetime | None,
    now: datetime,
) -> Extra:
    """The filters of an events query outside its HogQL: property filters, event names, distinct ids and the
    time window (`before` exclusive, `after` exclusive or None for no lower bound)."""
    store = events_store()
    compiled = compile_filters(properties, tz=team_timezone(team.timezone), now=now, dialect=store.dialect)
    window = window_conditions(store, events=events, distinct_ids=distinct_ids, before=Cursor(before),
                               after=Cursor(after) if after is not None else None)  # fmt: skip
    return Extra(join(" AND ", [compiled.where, *window]), needs_person=compiled.needs_person)


def events_where(*, team: Team, expressions: list[str], now: datetime) -> Extra:
    """HogQL `where` expressions (ANDed) as a filter on the events list; aggregates are refused."""
    store = events_store()
    context = _context(team, now)
    try:
        printed = [print_condition(parse_expr(text), dialect=store.dialect, context=context) for text in expressions]
    except HogQLError as error:
        raise hogql_error(error) from None
    return Extra(join(" AND ", [p.condition for p in printed]), needs_person=any(p.needs_person for p in printed))
