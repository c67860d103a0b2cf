"""`GET evaluations/{id}/stats/`: an evaluation's results over 30 days by day, counted from N `$ai_evaluation` events
(default 1,000,000), on PostgreSQL and on ClickHouse, each beside the same question written by hand in its SQL.

Everything runs in this one process, through Django's full stack in process (DRF's `APIClient`: middleware,
authentication, the view, serialisation; no socket), because the only ClickHouse here is chdb, ClickHouse's engine
inside this process (as bench/events_backends.py). Switching store is switching `settings.CLICKHOUSE_URL`.

The events are written straight into each store's table by one INSERT … SELECT (the same rows on both, spread evenly
over the last 30 days): 4 in 5 are results of the evaluation asked about (the rest another's), across 4 judge models,
with passes, failures, N/A, skips and errors mixed. Before reading, PostgreSQL is VACUUM ANALYZEd and ClickHouse's
background merges are left to settle. The answers of the API and of the hand-written SQL are checked to agree first.

(a) p50/p99 of `stats/?date_from=-30d&interval=day` beside the hand-written SQL, on each store (target: <= 1.5x).
(b) The same with `breakdown=$ai_model` (the top values need a second pass over the rows), beside its SQL.
(c) ClickHouse's speed-up over PostgreSQL (PostgreSQL p50 / ClickHouse p50) through the API (target: >= 5x).

    .venv/bin/python bench/evaluation_stats.py [--events 1000000] [--runs 20] [--stores postgres,clickhouse]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import harness

BENCHMARK = "Evaluation stats"
HOST = "127.0.0.1"
DAYS = 30
SPEED_UP_TARGET = ">= 5"
ERRORED = "('hog_error', 'auth_error', 'key_invalid', 'key_not_found', 'permission_error', 'quota_error', " \
          "'model_not_found')"  # fmt: skip


def properties_text(n: str, text: Callable[[str], str], evaluation: str, other: str, *, mod: str = "%") -> str:
    """The JSON text of event `n`'s properties, as SQL (`text` writes an integer as text in the store's dialect, `mod`
    is its modulo operator as the driver wants it written): the same properties on both stores."""
    return (
        f"'{{\"$ai_evaluation_id\":\"' || CASE WHEN {n} {mod} 5 = 0 THEN '{other}' ELSE '{evaluation}' END"
        f' || \'","$ai_model":"model-\' || {text(f"{n} {mod} 4")} || \'","$ai_evaluation_trigger":"online",\' || '
        f'CASE WHEN {n} {mod} 50 = 1 THEN \'"$ai_evaluation_skipped":true,"$ai_evaluation_skip_reason":'
        '"unparsable_response","$ai_evaluation_result":false\' '
        f'WHEN {n} {mod} 50 = 2 THEN \'"$ai_evaluation_skipped":true,"$ai_evaluation_skip_reason":"hog_error"\' '
        f"WHEN {n} {mod} 20 = 3 THEN '\"$ai_evaluation_applicable\":false' "
        f"WHEN {n} {mod} 3 = 0 THEN '\"$ai_evaluation_result\":false' ELSE '\"$ai_evaluation_result\":true' END || '}}'"
    )


# What a person would write by hand for the same answer: the counts per local day (and per model).
PG_SQL = """
SELECT day, {group} count(*), count(*) FILTER (WHERE outcome = 'passed'), count(*) FILTER (WHERE outcome = 'failed'),
       count(*) FILTER (WHERE outcome = 'na'), count(*) FILTER (WHERE outcome = 'skipped'),
       count(*) FILTER (WHERE outcome = 'errored')
FROM (SELECT date_trunc('day', timestamp, 'UTC') AS day, properties ->> '$ai_model' AS model,
             CASE WHEN properties -> '$ai_evaluation_skipped' = 'true' THEN
                    CASE WHEN properties ->> '$ai_evaluation_skip_reason' IN {errored} THEN 'errored' ELSE 'skipped' END
                  WHEN properties -> '$ai_evaluation_applicable' = 'false' THEN 'na'
                  WHEN properties -> '$ai_evaluation_result' = 'true' THEN 'passed'
                  WHEN properties -> '$ai_evaluation_result' = 'false' THEN 'failed' END AS outcome
      FROM events_event
      WHERE team_id = %(team)s AND event = '$ai_evaluation' AND properties ->> '$ai_evaluation_id' = %(evaluation)s
        AND timestamp >= %(since)s AND timestamp < %(until)s) AS results
GROUP BY day {by} ORDER BY day {by}
"""
CH_SQL = """
SELECT day, {{group}} count(), countIf(outcome = 'passed'), countIf(outcome = 'failed'), countIf(outcome = 'na'),
       countIf(outcome = 'skipped'), countIf(outcome = 'errored')
FROM (SELECT toStartOfDay(timestamp, 'UTC') AS day, `mat_$ai_model` AS model,
             multiIf({skipped} = 'true', if(JSONExtractString(properties, '$ai_evaluation_skip_reason')
                                            IN {{errored}}, 'errored', 'skipped'),
                     {applicable} = 'false', 'na', {result} = 'true', 'passed', {result} = 'false', 'failed',
                     '') AS outcome
      FROM {{table}}
      WHERE team_id = {{{{team:Int64}}}} AND event = '$ai_evaluation' AND {evaluation_id} = {{{{evaluation:String}}}}
        AND timestamp >= {{{{since:DateTime64(6, 'UTC')}}}} AND timestamp < {{{{until:DateTime64(6, 'UTC')}}}})
GROUP BY day {{by}} ORDER BY day {{by}}
"""
# How each property is read by hand: parsed from the JSON, or from its materialised column.
CH_JSON = {"skipped": "JSONExtractRaw(properties, '$ai_evaluation_skipped')",
           "applicable": "JSONExtractRaw(properties, '$ai_evaluation_applicable')",
           "result": "JSONExtractRaw(properties, '$ai_evaluation_result')",
           "evaluation_id": "JSONExtractString(properties, '$ai_evaluation_id')"}  # fmt: skip
CH_COLUMNS = {"skipped": "`mat_$ai_evaluation_skipped`", "applicable": "`mat_$ai_evaluation_applicable`",
              "result": "`mat_$ai_evaluation_result`", "evaluation_id": "`mat_$ai_evaluation_id`"}  # fmt: skip


@dataclass
class Store:
    name: str  # "PostgreSQL" or "ClickHouse"
    url: str  # the value of CLICKHOUSE_URL that selects it
    team_id: int
    evaluation: str

    def use(self) -> None:
        from django.conf import settings

        settings.CLICKHOUSE_URL = self.url


def fill_postgres(sql: Any, store: Store, count: int, now: datetime) -> None:
    text = properties_text("i", lambda n: f"({n})::text", store.evaluation, str(uuid.uuid4()), mod="%%")
    step = DAYS * 86_400_000_000 // count  # microseconds between events
    with harness.progress(f"PostgreSQL: {count:,} $ai_evaluation events", 1) as advance:
        sql.execute(
            "INSERT INTO events_event (team_id, uuid, event, distinct_id, properties, timestamp, created_at, "
            "elements_chain) SELECT %s, gen_random_uuid(), '$ai_evaluation', 'user-' || (i %% 20000), "
            f"({text})::jsonb, "
            "%s - make_interval(secs => i::bigint * %s::bigint / 1e6), %s, '' FROM generate_series(1, %s) AS i",
            [store.team_id, now, step, now, count],
        )
        sql.execute("VACUUM ANALYZE events_event")
        advance(1)


def fill_clickhouse(client: Any, store: Store, count: int, now: datetime) -> None:
    text = properties_text("number", lambda n: f"toString({n})", store.evaluation, str(uuid.uuid4()))
    step = DAYS * 86_400_000_000 // count
    with harness.progress(f"ClickHouse: {count:,} $ai_evaluation events", 1) as advance:
        client.command(
            f"INSERT INTO {client.database}.events (team_id, uuid, event, distinct_id, properties, timestamp, "
            "created_at, elements_chain, person_id, person_properties, person_created_at) "
            "SELECT {team:Int64}, generateUUIDv4(), '$ai_evaluation', concat('user-', toString(number % 20000)), "
            f"{text}, {{now:DateTime64(6, 'UTC')}} - toIntervalMicrosecond(number * {{step:Int64}}), "
            "{now:DateTime64(6, 'UTC')}, '', NULL, '{}', NULL FROM numbers(1, {count:Int64})",
            {"team": store.team_id, "now": now, "step": step, "count": count},
        )
        settle = harness_settle(client)
        advance(1)
    print(f"  ClickHouse's background merges settled: {settle} active parts")


def harness_settle(client: Any, *, limit_seconds: float = 600) -> int:
    """Wait (bounded) until ClickHouse's background merges of the events table stop (as bench/events_backends.py
    does); returns its active parts."""
    parts = f"SELECT count() FROM system.parts WHERE database = '{client.database}' AND table = 'events' AND active"
    merging = f"SELECT count() FROM system.merges WHERE database = '{client.database}'"
    began = time.monotonic()
    while time.monotonic() - began < limit_seconds and client.query(merging).rows[0][0]:
        time.sleep(1)
    return client.query(parts).rows[0][0]


def normalised(rows: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(tuple(int(v) if isinstance(v, int) else v for v in row) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000, help="$ai_evaluation events per store")
    parser.add_argument("--runs", type=int, default=20, help="samples per case")
    parser.add_argument("--stores", default="postgres,clickhouse", help="which stores, comma-separated")
    parser.add_argument("--json", action="store_true", help="ClickHouse without materialised columns for the "
                        "evaluation's properties (the API and the SQL both parse each event's JSON)")  # fmt: skip
    args = parser.parse_args()
    chosen = {name.strip() for name in args.stores.split(",") if name.strip()}

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    with (
        harness.scratch_database("evaluation_stats") as database_url,
        tempfile.TemporaryDirectory(prefix="bench_evaluation_stats_") as scratch,
    ):
        import psycopg
        from django.conf import settings
        from rest_framework.test import APIClient

        from environments import services
        from environments.models import User
        from evaluations.models import Evaluation

        settings.RATE_LIMIT_ENABLED = False
        if not args.json:  # what README recommends for projects that chart evaluations on ClickHouse
            from events.stores.base import EVALUATION_PROPERTIES

            settings.CLICKHOUSE_MATERIALIZED_PROPERTIES = [*settings.CLICKHOUSE_MATERIALIZED_PROPERTIES,
                                                           *EVALUATION_PROPERTIES]  # fmt: skip
        user = User.objects.create_user(email="bench@example.com", password="bench-password")
        organization = services.organization_create(name="Bench", owner=user)
        _, key = services.personal_api_key_create(user=user, label="bench", scopes=["evaluation:read"])
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        now = datetime.now(UTC).replace(microsecond=0)
        stores = []
        for name, label, url in (
            ("postgres", "PostgreSQL", ""),
            ("clickhouse", "ClickHouse", f"chdb://{scratch}/chdb"),
        ):
            if name in chosen:
                team = services.project_create(organization=organization, name=label, creator=user)
                evaluation = Evaluation.objects.create(
                    team=team, name="Helpful", evaluation_type="llm_judge", output_type="boolean",
                    output_config={"allows_na": True}, evaluation_config={"prompt": "Is it helpful?"}, enabled=True,
                )  # fmt: skip
                stores.append(Store(label, url, team.id, str(evaluation.id)))

        clickhouse = None
        with psycopg.connect(database_url, autocommit=True) as sql:
            for store in stores:
                if store.url:
                    from events.stores.clickhouse import clickhouse_store
                    from events.stores.clickhouse_schema import migrate

                    clickhouse = clickhouse_store(store.url).client
                    migrate(clickhouse)
                    # Otherwise ClickHouse remembers which granules a repeated filter matched and skips the scan.
                    clickhouse.command("SET use_query_condition_cache = 0")
                    fill_clickhouse(clickhouse, store, args.events, now)
                else:
                    fill_postgres(sql, store, args.events, now)

            since = datetime.combine((now - timedelta(days=DAYS)).date(), datetime.min.time(), tzinfo=UTC)
            params = {"team": 0, "evaluation": "", "since": since, "until": now + timedelta(seconds=1)}

            def api_call(store: Store, breakdown: str | None) -> Callable[[], list[Any]]:
                path = f"/api/environments/{store.team_id}/evaluations/{store.evaluation}/stats/"
                query = {"date_from": f"-{DAYS}d", "date_to": (now + timedelta(seconds=1)).isoformat(),
                         "interval": "day", **({"breakdown": breakdown} if breakdown else {})}  # fmt: skip

                def call() -> list[Any]:
                    store.use()
                    response = api.get(path, query, HTTP_HOST=HOST)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: {response.status_code} {response.content[:300]!r}")
                    return response.json()["series"]

                return call

            def raw_call(store: Store, by_model: bool) -> Callable[[], list[Any]]:
                group, by = ("model, ", ", model") if by_model else ("", "")
                values = {**params, "team": store.team_id, "evaluation": store.evaluation}
                if store.url:
                    assert clickhouse is not None
                    reads = CH_JSON if args.json else CH_COLUMNS
                    text = CH_SQL.format(**reads).format(group=group, by=by, errored=ERRORED,
                                                         table=f"{clickhouse.database}.events")  # fmt: skip
                    return lambda: clickhouse.query(text, values).rows
                text = PG_SQL.format(group=group, by=by, errored=ERRORED)
                return lambda: sql.execute(text, values).fetchall()

            found: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
            for case, breakdown in (("30 days by day", None), ("30 days by day, by $ai_model", "$ai_model")):
                operations = []
                for store in stores:
                    through_api, by_hand = api_call(store, breakdown), raw_call(store, breakdown is not None)
                    counted = sorted((item["breakdown_value"] or "", item["runs"], item["passed"], item["failed"],
                                      item["na"], item["skipped"], item["errored"])
                                     for item in through_api() if item["runs"])  # fmt: skip
                    expected = sorted((row[1] if breakdown else "", *row[-6:]) for row in normalised(by_hand()))
                    if counted != expected:
                        raise RuntimeError(f"{store.name}: stats/ and its SQL disagree:\n{counted}\n{expected}")
                    operations += [through_api, by_hand]
                timings = harness.sample(*operations, runs=args.runs, warmup=2, name=case)
                found[case] = {store.name: (timings[2 * n], timings[2 * n + 1]) for n, store in enumerate(stores)}
            for store in stores:
                label = "(a)(b)"
                harness.report(f"{label} {store.name}: stats/ through the in-process API vs hand-written SQL, "
                               f"{args.events:,} events", [(f"{store.name}: {case}", *found[case][store.name])
                                                           for case in found],
                               baseline="SQL", benchmark=BENCHMARK, target="<= 1.5")  # fmt: skip
            if len(stores) == 2:
                print(f"\n(c) ClickHouse's speed-up over PostgreSQL, {args.events:,} events (p50 through the API)")
                header = f"{'case':<34} {'PostgreSQL ms':>14} {'ClickHouse ms':>14} {'speed-up':>9}"
                print(header + "\n" + "-" * len(header))
                for case, by_store in found.items():
                    postgres = harness.percentile(by_store["PostgreSQL"][0], 0.5) * 1000
                    clickhouse_ms = harness.percentile(by_store["ClickHouse"][0], 0.5) * 1000
                    print(f"{case:<34} {postgres:>14.2f} {clickhouse_ms:>14.2f} {postgres / clickhouse_ms:>8.1f}x")
                    harness.record(BENCHMARK, f"{case}: PostgreSQL p50 (ratio: ClickHouse's speed-up)", postgres,
                                   "ms", "ClickHouse p50", clickhouse_ms, target=SPEED_UP_TARGET)  # fmt: skip


if __name__ == "__main__":
    main()
