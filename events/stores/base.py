"""The one interface to wherever events are stored (`EventsStore`), and the SQL both stores share. The
implementations (`events.stores.postgres`, `events.stores.clickhouse`) import this module, never the other way;
`events.stores.events_store` chooses one.

A store answers in plain records (`events.records`) and takes conditions already printed for its `dialect`, so
the filters' meaning is decided once, in `query_languages`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
import psycopg

from events.records import Cursor, EventInput, EventRow, Order, PersonStamp
from query_languages import Dialect, Sql, join, sql

# What both SQL stores select for an `EventRow` (`event_row` reads it back).
ROW_COLUMNS = "e.uuid, e.event, e.distinct_id, e.properties, e.timestamp, e.elements_chain"


@dataclass(frozen=True)
class StagedCapture:
    """What a batch will store, told before the store writes it (`PendingCapture.stage`)."""

    stored: int  # how many events the batch stores (a uuid already stored, or repeated, is stored once)
    # The uuids the caller's after-insert hooks must see, when `report_new` was asked (else empty): the ones the
    # batch stores; a second store (which cannot tell an earlier attempt that committed from one that rolled back
    # after writing there) names the ones it already held too, so what the hooks record must be idempotent per event.
    new: set[uuid.UUID]


class PendingCapture(Protocol):
    """A batch a store has begun to write (`EventsStore.begin_capture`), in two phases: `stage` tells what is new,
    the caller runs its after-insert hooks, then `write`. Nothing is stored if the transaction rolls back, except
    what a second store already holds, which a retry recognises."""

    needs_persons: bool  # whether `stage` wants each distinct id's person (PersonUpdater's stamps)

    def stage(self, *, created_at: datetime, persons: Mapping[str, PersonStamp]) -> StagedCapture:
        """Settle which of the batch's events are new; PostgreSQL's rows are written here, inside the transaction
        (its unique index is what tells, and no one else sees them before the commit)."""

    def write(self) -> None:
        """Write what the store keeps outside the PostgreSQL transaction (ClickHouse's rows): after the hooks, so that
        a hook that fails leaves nothing there."""


class EventsStore(Protocol):
    name: str
    dialect: Dialect

    def regex_problem(self, pattern: str) -> str | None:
        """Why this store cannot run `pattern` as a regular expression, or None."""

    def begin_capture(self, cursor: psycopg.Cursor[Any], *, team_id: int, events: Sequence[EventInput],
                      report_new: bool) -> PendingCapture:  # fmt: skip
        """Start storing `events` (sorted by uuid; a uuid already stored, or repeated, is stored once) as part of the
        PostgreSQL transaction `cursor` is in; the caller resolves the batch's persons, then calls `stage`. A store
        may take locks and start work of its own here, so that it overlaps the persons step."""

    def one_of(self, column: str, values: list[str]) -> Sql:
        """`column` (text) is one of `values`."""

    def page(self, *, team_id: int, conditions: list[Sql], needs_person: bool, order: Order, limit: int,
             offset: int, user_written: bool) -> list[EventRow]:  # fmt: skip
        """Events matching `conditions`, newest (or oldest) first, ties by uuid. `user_written`: the conditions
        hold HogQL a user wrote, which the database may still refuse (a DomainError, never a 500)."""

    def by_uuid(self, *, team_id: int, uuids: Collection[uuid.UUID]) -> list[tuple[EventRow, datetime]]:
        """Events by uuid, each with the time it was stored."""

    def event_names(self, *, team_id: int, limit: int) -> list[str]:
        """Distinct event names, in name order."""

    def recent_values(self, *, team_id: int, key: str, since: datetime, event_names: list[str] | None,
                      scan_limit: int) -> list[Any]:  # fmt: skip
        """The distinct JSON values of property `key` (list items one by one, nulls left out) over the newest
        `scan_limit` events since `since` that have it."""

    def evaluation_stats(self, query: EvaluationStatsQuery) -> EvaluationStats:
        """Runs of evaluations counted from their `$ai_evaluation` events (see `evaluation_stats_statements`)."""

    def run_query(self, statement: Sql, *, seconds: float) -> list[tuple[Any, ...]]:
        """A printed HogQL statement, read-only and stopped after `seconds` (what QUERY_TIMEOUT_SECONDS leaves once
        the query was parsed and printed): Timeout / DomainError."""


def event_row(values: tuple[Any, ...]) -> EventRow:
    """An `EventRow` from the ROW_COLUMNS of a row (properties as JSON text)."""
    event_uuid, event, distinct_id, properties, timestamp, chain = values
    return EventRow(event_uuid, event, distinct_id, orjson.loads(properties), timestamp, chain)


def window_conditions(store: EventsStore, *, events: list[str] | None, distinct_ids: list[str] | None,
                      before: Cursor | None, after: Cursor | None) -> list[Sql]:  # fmt: skip
    """Conditions on `e` for event names, distinct ids and exclusive bounds (a uuid breaks timestamp ties)."""
    conditions = []
    if events is not None:
        conditions.append(store.one_of("e.event", events))
    if distinct_ids is not None:
        conditions.append(store.one_of("e.distinct_id", distinct_ids))
    for bound, comparison in ((before, "<"), (after, ">")):
        if bound is None:
            continue
        if bound.uuid is None:
            conditions.append(sql(f"e.timestamp {comparison} {{}}", bound.timestamp))
        else:
            conditions.append(sql(f"(e.timestamp, e.uuid) {comparison} ({{}}, {{}})", bound.timestamp, bound.uuid))
    return conditions


def page_statement(*, source: str, team_id: int, conditions: list[Sql], order: Order, limit: int,
                   offset: int) -> Sql:  # fmt: skip
    """One page of events from `source` (a FROM clause reading the events as `e`), newest or oldest first, ties
    broken by uuid in the same direction."""
    direction = "DESC" if order == "DESC" else "ASC"
    return sql(
        f"SELECT {ROW_COLUMNS} FROM {source} WHERE {{}} "
        f"ORDER BY e.timestamp {direction}, e.uuid {direction} LIMIT {{}} OFFSET {{}}",
        join(" AND ", [sql("e.team_id = {}", team_id), *conditions]),
        limit,
        offset,
    )


# --- results of evaluations (`$ai_evaluation` events) --------------------------------------------------------

EVALUATION_EVENT = "$ai_evaluation"
OTHER_GROUP = "$other"
# Skip reasons that mean the evaluator itself failed (its program, or the project's provider key or model), not
# that a judge's answer did not fit the output type: such runs count as `errored`, the other skips as `skipped`.
ERRORED_SKIP_REASONS = ("hog_error", "auth_error", "key_invalid", "key_not_found", "permission_error",
                        "quota_error", "model_not_found")  # fmt: skip
OUTCOMES = ("passed", "failed", "na", "skipped", "errored")
# The properties the statistics read of every `$ai_evaluation` event: listed in CLICKHOUSE_MATERIALIZED_PROPERTIES,
# ClickHouse reads them from their columns instead of parsing each event's JSON.
EVALUATION_PROPERTIES = ("$ai_evaluation_id", "$ai_evaluation_skipped", "$ai_evaluation_applicable",
                         "$ai_evaluation_passed", "$ai_evaluation_result", "$ai_evaluation_numeric_result",
                         "$ai_evaluation_categorical_result")  # fmt: skip


@dataclass(frozen=True)
class EvaluationStatsQuery:
    """Runs of evaluations counted per interval of local time and per group. `group`: a text expression on `e` (a
    breakdown, already printed for the store's dialect), folded to its `top` values by runs plus OTHER_GROUP; or,
    with `by_evaluation`, the evaluation's id (never folded). Neither: one group, None."""

    team_id: int
    evaluation_ids: list[str]
    since: datetime  # inclusive
    until: datetime  # exclusive
    interval: str  # hour, day, week (from Sunday) or month
    timezone: str
    group: Sql | None = None
    group_reads_person: bool = False  # PostgreSQL joins the person then (ClickHouse's events carry it)
    by_evaluation: bool = False
    top: int | None = None
    trigger: str | None = None
    numbers: bool = False  # mean, percentiles, min and max of `$ai_evaluation_numeric_result`
    categories: bool = False  # counts of each key of `$ai_evaluation_categorical_result`


@dataclass(frozen=True)
class StatsRow:
    bucket: int  # the interval's start, in unix seconds
    group: str | None
    runs: int
    passed: int
    failed: int
    na: int
    skipped: int
    errored: int
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class CategoryCount:
    bucket: int
    group: str | None
    key: str
    count: int


@dataclass(frozen=True)
class EvaluationStats:
    rows: list[StatsRow]
    categories: list[CategoryCount]


class StatsSql(Protocol):
    """What the evaluation statistics' statement needs written differently on each store; property keys arrive as
    parameters, never in the text."""

    def is_json(self, key: str, literal: str) -> Sql: ...  # the property is JSON `literal` (true or false)
    def text(self, key: str) -> Sql: ...  # a string property's value
    def has(self, key: str) -> Sql: ...
    def number(self, key: str) -> Sql: ...  # a JSON number as a float, else NULL
    def strings(self, key: str) -> Sql: ...  # a JSON array of strings, as the store's array
    def null_text(self) -> Sql: ...
    def in_list(self, value: Sql, values: list[str]) -> Sql: ...
    def bucket(self, unit: str, timezone: str) -> Sql: ...  # the unix seconds of the start of e.timestamp's interval
    def count_if(self, condition: Sql) -> Sql: ...
    def quantile(self, level: float, value: Sql) -> Sql: ...
    def text_order(self, value: Sql) -> Sql: ...  # byte order, on both stores
    def unnest(self, relation: str, array: str, alias: str) -> Sql: ...  # FROM `relation` with a row per item


def trigger_of(w: StatsSql) -> Sql:
    """How a run was started. Events carry `$ai_evaluation_trigger` since it was added; older ones say backfill by
    their `$ai_evaluation_backfill_id` and are online otherwise (manual runs were not told apart then)."""
    return sql("CASE WHEN {} THEN {} WHEN {} THEN 'backfill' ELSE 'online' END", w.has("$ai_evaluation_trigger"),
               w.text("$ai_evaluation_trigger"), w.has("$ai_evaluation_backfill_id"))  # fmt: skip


def outcome_of(w: StatsSql) -> Sql:
    """One of OUTCOMES, or 'other' (a numeric or categorical run without a passing rule). Boolean events carry the
    verdict in `$ai_evaluation_result`, the others in `$ai_evaluation_passed`; a skipped boolean run without N/A still
    says false (PostHog's), so the skip flag is read first."""

    def verdict(key: str) -> Sql:
        return sql("CASE WHEN {} THEN 'passed' WHEN {} THEN 'failed' ELSE 'other' END", w.is_json(key, "true"),
                   w.is_json(key, "false"))  # fmt: skip

    # The skip reason is read of skipped runs only (ClickHouse's multiIf stops at the first true condition too).
    return sql(
        "CASE WHEN {} THEN CASE WHEN {} THEN 'errored' ELSE 'skipped' END WHEN {} THEN 'na' "
        "WHEN {} THEN {} ELSE {} END",
        w.is_json("$ai_evaluation_skipped", "true"),
        w.in_list(w.text("$ai_evaluation_skip_reason"), list(ERRORED_SKIP_REASONS)),
        w.is_json("$ai_evaluation_applicable", "false"),
        w.has("$ai_evaluation_passed"),
        verdict("$ai_evaluation_passed"),
        verdict("$ai_evaluation_result"),
    )


def evaluation_stats_statements(w: StatsSql, *, source: str, query: EvaluationStatsQuery) -> tuple[Sql, Sql | None]:
    """The counts per (interval, group), and the category counts per (interval, group, key) when asked: both stores
    run these statements, written through `w`, so they count the same way. `source`: the FROM clause (events as `e`)."""
    if query.by_evaluation:
        group = w.text("$ai_evaluation_id")
    else:
        group = query.group if query.group is not None else w.null_text()
    columns = [
        sql("{} AS bucket", w.bucket(query.interval, query.timezone)),
        sql("{} AS grp", group),
        sql("{} AS outcome", outcome_of(w)),
    ]
    if query.numbers:
        columns.append(sql("{} AS score", w.number("$ai_evaluation_numeric_result")))
    if query.categories:
        columns.append(sql("{} AS cats", w.strings("$ai_evaluation_categorical_result")))
    conditions = [
        sql("e.team_id = {}", query.team_id),
        sql("e.event = {}", EVALUATION_EVENT),
        w.in_list(w.text("$ai_evaluation_id"), query.evaluation_ids),
        sql("e.timestamp >= {}", query.since),
        sql("e.timestamp < {}", query.until),
    ]
    if query.trigger is not None:
        conditions.append(sql("{} = {}", trigger_of(w), query.trigger))
    ctes = [sql("ev AS (SELECT {} FROM {} WHERE {})", join(", ", columns), Sql(source),
                join(" AND ", conditions))]  # fmt: skip
    carried = "".join(f", {name}" for name, wanted in (("score", query.numbers), ("cats", query.categories)) if wanted)
    folded = query.group is not None and query.top is not None and not query.by_evaluation
    if folded:
        ctes.append(sql("top AS (SELECT grp FROM ev WHERE grp IS NOT NULL GROUP BY grp ORDER BY count(*) DESC, {} "
                        "LIMIT {})", w.text_order(Sql("grp")), query.top))  # fmt: skip
        ctes.append(sql(f"labelled AS (SELECT bucket, CASE WHEN grp IS NULL THEN {{}} WHEN grp IN (SELECT grp FROM "
                        f"top) THEN grp ELSE {{}} END AS label, outcome{carried} FROM ev)", w.null_text(),
                        OTHER_GROUP))  # fmt: skip
    else:
        ctes.append(Sql(f"labelled AS (SELECT bucket, grp AS label, outcome{carried} FROM ev)"))
    counts = [sql("count(*)")] + [w.count_if(sql("outcome = {}", outcome)) for outcome in OUTCOMES]
    if query.numbers:
        counts += [Sql("avg(score)"), w.quantile(0.5, Sql("score")), w.quantile(0.9, Sql("score")), Sql("min(score)"),
                   Sql("max(score)")]  # fmt: skip
    prefix = sql("WITH {} ", join(", ", ctes))
    main = sql("{}SELECT bucket, label, {} FROM labelled GROUP BY bucket, label", prefix, join(", ", counts))
    if folded and not query.numbers:
        main = _folded_counts(w, ev=ctes[0], counts=counts, top=query.top or 0)
    if not query.categories:
        return main, None
    categories = sql("{}SELECT bucket, label, key, count(*) FROM {} GROUP BY bucket, label, key", prefix,
                     w.unnest("labelled", "cats", "key"))  # fmt: skip
    return main, categories


def _folded_counts(w: StatsSql, *, ev: Sql, counts: list[Sql], top: int) -> Sql:
    """The counts per (interval, group) with the groups beyond the `top` by runs folded into OTHER_GROUP, reading the
    events once: counted per group first, then ranked and summed (counts add up; percentiles do not, so numeric
    evaluations fold their events through `top` instead). ClickHouse would otherwise read them twice: it does not
    share a CTE between two references."""
    names = ["runs", *OUTCOMES]
    grouped = ", ".join(f"{{}} AS {name}" for name in names)
    ranked_order = join(", ", [Sql("(grp IS NULL)"), Sql("total DESC"), w.text_order(Sql("grp"))])
    return sql(
        f"WITH {{}}, grouped AS (SELECT bucket, grp, {grouped} FROM ev GROUP BY bucket, grp), "
        "totals AS (SELECT grouped.*, sum(runs) OVER (PARTITION BY grp) AS total FROM grouped), "
        "ranked AS (SELECT totals.*, dense_rank() OVER (ORDER BY {}) AS position FROM totals) "
        "SELECT bucket, CASE WHEN grp IS NULL THEN {} WHEN position <= {} THEN grp ELSE {} END AS label, "
        + ", ".join(f"sum({name})" for name in names)
        + " FROM ranked GROUP BY bucket, label",
        ev,
        *counts,
        ranked_order,
        w.null_text(),
        top,
        OTHER_GROUP,
    )


def _number(value: Any) -> float | None:
    """NaN (ClickHouse's average of nothing) reads as None, as PostgreSQL's NULL does."""
    if value is None:
        return None
    number = float(value)
    return None if number != number else number


def evaluation_stats_rows(main: list[tuple[Any, ...]], categories: list[tuple[Any, ...]] | None) -> EvaluationStats:
    rows = [StatsRow(int(r[0]), r[1], *(int(n) for n in r[2:8]), *(_number(n) for n in r[8:13])) for r in main]
    counts = [CategoryCount(int(r[0]), r[1], str(r[2]), int(r[3])) for r in categories or ()]
    return EvaluationStats(rows, counts)
