"""Events on both stores: PostgreSQL (`events_event`, the default) and ClickHouse (CLICKHOUSE_URL), the same events
through the same API, each figure beside what its own database does with the same rows or the same question.

Everything runs in this one process, through Django's full stack in process (`django.test.Client` and DRF's
`APIClient`: middleware, authentication, views, serialisation; no socket, no gunicorn), because the only ClickHouse
here is chdb, ClickHouse's engine inside this process (it locks its data directory to one process). Both stores are
measured the same way; PostgreSQL is a server on the machine, chdb shares this process and its 2 cores. Switching
store is switching `settings.CLICKHOUSE_URL` ("" for PostgreSQL). One project per store, in one scratch database.

(a) Ingestion: N events (default 1,000,000: realistic properties, 20,000 distinct ids, `$set` on 1 in 50) POSTed to
    /batch/ in batches of 1,000, one request at a time; events/s over the requests' time (bodies are encoded before
    each group of requests is timed). Beside it, the same rows written by the database's own bulk path:
    PostgreSQL: one binary COPY into a table `LIKE events_event INCLUDING ALL`;
    ClickHouse: `INSERT … FORMAT JSONCompactEachRow` of the stored rows (persons stamped on, as the store writes
    them), in the same batches of 1,000, through the same client, into a table `AS` the events table.
(b) The events list (default page, a cursor page in the middle, `event=signed_up`, `$browser` exact) and an
    `icontains` filter matching nothing (a scan of the project's whole range): p50/p99 beside the statements the
    endpoint sent (PostgreSQL: captured from Django's connection; ClickHouse: captured at the store's client, and
    the persons lookup from PostgreSQL), replayed directly.
(c) HogQL over `POST …/query/`: `select event, count() from events group by event` and a `$browser` breakdown,
    beside hand-written SQL for the same result on the same store.
(d) ClickHouse's speed-up over PostgreSQL (PostgreSQL p50 / ClickHouse p50) for both aggregations and the scan.
Operations take turns across both stores (harness.sample), so every comparison sees the same machine. Before
reading, PostgreSQL is VACUUM ANALYZEd and ClickHouse's background merges are left to settle.
Peak RSS of this process is printed: with chdb in process it includes ClickHouse's memory.

    .venv/bin/python bench/events_backends.py [--events 1000000] [--quick | --full] [--runs 100]
                                              [--stores postgres,clickhouse]

`--quick` (what `./dev bench` runs) keeps 1,000,000 events and takes 40 samples per list case (about 10 minutes on
2 cores); `--full` is 10,000,000 events. `--events 50000` for development.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import harness

# bench/events.py's event generator (loaded by path: `events` is the Django app's name).
_spec = importlib.util.spec_from_file_location("bench_events", Path(__file__).with_name("events.py"))
assert _spec is not None and _spec.loader is not None
bench_events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_events)
make_bodies = bench_events.make_bodies

BENCHMARK = "Events: PostgreSQL vs ClickHouse"
HOST = "127.0.0.1"
BATCH = 1000
# Bodies are encoded (untimed) this many batches at a time, then sent (timed): memory stays flat at 10M.
CHUNK_BATCHES = 100
MILLISECONDS_PER_EVENT = 7  # make_bodies spaces events this far apart
AGGREGATIONS = {
    "select event, count()": "select event, count() from events group by event",
    "$browser breakdown": "select properties.$browser, count() from events group by properties.$browser",
}
PG_AGGREGATIONS = {
    "select event, count()": "SELECT event, count(*) FROM events_event WHERE team_id = %s GROUP BY event",
    "$browser breakdown": "SELECT properties ->> '$browser', count(*) FROM events_event WHERE team_id = %s GROUP BY 1",
}
CH_AGGREGATIONS = {
    "select event, count()": "SELECT event, count() FROM {table} WHERE team_id = {{team:Int64}} GROUP BY event",
    # `$browser` has its materialised column (CLICKHOUSE_MATERIALIZED_PROPERTIES): its reading, what a person writing
    # this by hand would read.
    "$browser breakdown": "SELECT `mat_$browser`, count() FROM {table} WHERE team_id = {{team:Int64}} GROUP BY 1",
}
SCAN = "icontains, no match"
SCAN_FILTER = [{"key": "$current_url", "value": "zzz-none", "operator": "icontains"}]
# ClickHouse's speed-up over PostgreSQL asked of each case (PostgreSQL p50 / ClickHouse p50).
SPEED_UP_TARGET = ">= 5"


@dataclass
class Store:
    name: str  # "PostgreSQL" or "ClickHouse"
    url: str  # the value of CLICKHOUSE_URL that selects it
    team_id: int
    token: str

    def use(self) -> None:
        from django.conf import settings

        settings.CLICKHOUSE_URL = self.url


def peak_rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


def body_chunks(token: str, total: int, first: datetime) -> Iterator[list[bytes]]:
    """The events as /batch/ bodies, CHUNK_BATCHES at a time; the same events (uuids, times, properties) for
    any token, each chunk following the last in time."""
    per_chunk = CHUNK_BATCHES * BATCH
    for index in range(math.ceil(total / per_chunk)):
        start = first + timedelta(milliseconds=MILLISECONDS_PER_EVENT * per_chunk * index)
        yield make_bodies(token, min(per_chunk, total - index * per_chunk), BATCH, index, start)


def ingest(store: Store, total: int, first: datetime) -> list[float]:
    """Seconds of each POST /batch/ for `total` events (encoding excluded)."""
    from django.test import Client

    store.use()
    client = Client()
    seconds = []
    with harness.progress(f"{store.name}: {total:,} events to /batch/", math.ceil(total / BATCH)) as advance:
        for bodies in body_chunks(store.token, total, first):
            for body in bodies:
                started = time.perf_counter()
                response = client.post("/batch/", data=body, content_type="application/json", HTTP_HOST=HOST)
                seconds.append(time.perf_counter() - started)
                if response.status_code != 200 or b"rejected" in response.content:
                    raise RuntimeError(f"ingestion failed: {response.status_code} {response.content[:300]!r}")
                advance(1)
    return seconds


# --- the databases' own bulk writes -------------------------------------------------------------------------------
def copy_baseline(sql: Any, team_id: int, workdir: Path) -> tuple[int, float]:
    """(rows, seconds) of one binary COPY of the project's stored rows into a table like events_event."""
    dump = workdir / "events.copy"
    with (
        dump.open("wb") as out,
        sql.cursor().copy(
            "COPY (SELECT * FROM events_event WHERE team_id = %s) TO STDOUT (FORMAT binary)", [team_id]
        ) as copy,
    ):
        for chunk in copy:
            out.write(chunk)
    sql.execute("CREATE TABLE bench_copy_baseline (LIKE events_event INCLUDING ALL)")
    try:
        with dump.open("rb") as data:
            started = time.perf_counter()
            with sql.cursor().copy("COPY bench_copy_baseline FROM STDIN (FORMAT binary)") as copy:
                while piece := data.read(1 << 20):
                    copy.write(piece)
            seconds = time.perf_counter() - started
        rows = sql.execute("SELECT count(*) FROM bench_copy_baseline").fetchone()[0]
    finally:
        sql.execute("DROP TABLE bench_copy_baseline")
        dump.unlink()
    return rows, seconds


def insert_baseline(client: Any, team_id: int, workdir: Path) -> tuple[int, list[float]]:
    """(rows, seconds of each insert) of ClickHouse's own insert of the project's stored rows, as the store sends them
    (JSONCompactEachRow, same columns and settings), in batches of BATCH in the order they were sent."""
    from events.stores.clickhouse import INSERT_COLUMNS, INSERT_SETTINGS

    source = f"{client.database}.events"
    target = f"{client.database}.bench_insert_baseline"
    dump = workdir / "events.jsonl"
    client.command(f"SELECT {', '.join(INSERT_COLUMNS)} FROM {source} WHERE team_id = {{team:Int64}} "
                   f"ORDER BY timestamp, uuid INTO OUTFILE '{dump}' FORMAT JSONCompactEachRow",
                   {"team": team_id})  # fmt: skip
    client.command(f"CREATE TABLE {target} AS {source}")
    total = client.query(f"SELECT count() FROM {source} WHERE team_id = {{team:Int64}}", {"team": team_id}).rows
    rows, seconds = 0, []
    try:
        with dump.open("rb") as lines, harness.progress("ClickHouse: its own insert, same rows",
                                                        math.ceil(total[0][0] / BATCH)) as advance:  # fmt: skip
            while True:
                group = [line for _, line in zip(range(CHUNK_BATCHES * BATCH), lines, strict=False)]
                if not group:
                    break
                bodies = [b"".join(group[n : n + BATCH]).rstrip(b"\n") for n in range(0, len(group), BATCH)]
                for body in bodies:
                    started = time.perf_counter()
                    client.insert(target, INSERT_COLUMNS, body, INSERT_SETTINGS)
                    seconds.append(time.perf_counter() - started)
                    advance(1)
                rows += len(group)
        stored = client.query(f"SELECT count() FROM {target}").rows[0][0]
        if stored != rows:
            raise RuntimeError(f"the baseline insert stored {stored:,} of {rows:,} rows")
    finally:
        client.command(f"DROP TABLE IF EXISTS {target}")
        dump.unlink(missing_ok=True)
    return rows, seconds


def settle_clickhouse(client: Any, *, limit_seconds: float = 600) -> int:
    """Wait (bounded) until ClickHouse's background merges of the events table stop; returns its active parts."""
    count = f"SELECT count() FROM system.parts WHERE database = '{client.database}' AND table = 'events' AND active"
    merging = f"SELECT count() FROM system.merges WHERE database = '{client.database}'"
    began, last, steady = time.monotonic(), -1, 0
    while time.monotonic() - began < limit_seconds:
        parts, merges = client.query(count).rows[0][0], client.query(merging).rows[0][0]
        steady = steady + 1 if parts == last and merges == 0 else 0
        if steady >= 3:
            break
        last = parts
        time.sleep(2)
    return last


# --- what the list endpoint sends, replayed -----------------------------------------------------------------------
class StatementRecorder:
    """Wraps the ClickHouse store's client `query` to keep what it is asked while recording (a benchmark's probe)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.original = client.query
        self.recorded: list[tuple[str, Any, Any]] | None = None
        client.query = self._query

    def _query(self, text: str, params: Any = None, settings: Any = None) -> Any:
        if self.recorded is not None:
            self.recorded.append((text, params, settings))
        return self.original(text, params, settings)

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, Any, Any]]]:
        self.recorded = []
        try:
            yield self.recorded
        finally:
            self.recorded = None


def api_client(key: str) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def captured_replay(store: Store, call: Callable[[], Any], sql: Any, recorder: StatementRecorder | None
                    ) -> Callable[[], None]:  # fmt: skip
    """Run `call` once on `store`, capturing the statements it sends to the events store (and PostgreSQL's persons
    lookup); returns a replay of them, straight to the databases."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    store.use()
    with CaptureQueriesContext(connection) as context:
        if recorder is not None:
            with recorder.recording() as clickhouse:
                call()
        else:
            clickhouse = []
            call()
    postgres = [q["sql"] for q in context.captured_queries if "events_event" in q["sql"] or "events_person" in q["sql"]]
    if recorder is not None and not clickhouse:
        raise RuntimeError("nothing was asked of ClickHouse")
    run_clickhouse = recorder.original if recorder is not None else None

    def replay() -> None:
        for statement in postgres:
            sql.execute(statement).fetchall()
        for text, params, settings in clickhouse:
            assert run_clickhouse is not None
            run_clickhouse(text, params, settings)

    return replay


def middle_cursor(store: Store, sql: Any, clickhouse: Any, stored: int) -> dict[str, str]:
    if clickhouse is None:
        timestamp, event_uuid = sql.execute(
            "SELECT timestamp, uuid FROM events_event WHERE team_id = %s ORDER BY timestamp DESC, uuid DESC "
            "OFFSET %s LIMIT 1",
            [store.team_id, stored // 2],
        ).fetchone()
    else:
        timestamp, event_uuid = clickhouse.query(
            f"SELECT timestamp, uuid FROM {clickhouse.database}.events WHERE team_id = {{team:Int64}} "
            "ORDER BY timestamp DESC, uuid DESC LIMIT 1 OFFSET {offset:UInt64}",
            {"team": store.team_id, "offset": stored // 2},
        ).rows[0]
    return {"before": timestamp.isoformat(), "before_uuid": str(event_uuid)}


def list_cases(cursor: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "default list (100)": {},
        "cursor page, middle": cursor,
        "event=signed_up": {"event": "signed_up"},
        "exact $browser=Safari": {"properties": json.dumps([{"key": "$browser", "value": "Safari"}])},
    }


def normalised(rows: list[Any]) -> list[tuple[str, int]]:
    return sorted((str(key) if key not in (None, "") else "", int(count)) for key, count in rows)


# --- the run ------------------------------------------------------------------------------------------------------
Timings = tuple[list[float], list[float]]  # (through the API, the SQL beside it)


def tenths(seconds: list[float]) -> str:
    """Per-batch p50 over the first and the last tenth of the batches: how the cost grows with the table."""
    tenth = max(1, len(seconds) // 10)
    first, last = harness.percentile(seconds[:tenth], 0.5), harness.percentile(seconds[-tenth:], 0.5)
    return f"per batch p50 {first * 1000:.1f} ms in the first tenth, {last * 1000:.1f} ms in the last"


class Run:
    def __init__(self, args: argparse.Namespace, stores: list[Store], sql: Any, key: str, workdir: Path) -> None:
        self.args, self.stores, self.sql, self.workdir = args, stores, sql, workdir
        self.api = api_client(key)
        self.clickhouse: Any = None
        self.recorder: StatementRecorder | None = None
        self.rss_before_clickhouse = 0.0

    # (a)
    def ingestion(self) -> None:
        events, rates = self.args.events, {}
        first = datetime.now(UTC) - timedelta(days=60)
        for store in self.stores:  # one after the other: PostgreSQL's background work settles in between
            print(f"\n(a) Ingestion into {store.name}: {events:,} events via /batch/, {BATCH} per batch, "
                  "in process, one request at a time")  # fmt: skip
            if store.url:
                from events.stores.clickhouse_client import client_for_url
                from events.stores.clickhouse_schema import migrate

                self.rss_before_clickhouse = peak_rss_mib()
                self.clickhouse = client_for_url(store.url)
                migrate(self.clickhouse)
                # ClickHouse would otherwise remember which granules a repeated filter matched and skip the scan
                # this benchmark measures (chdb's session keeps the setting for every later query).
                self.clickhouse.command("SET use_query_condition_cache = 0")
            requests = ingest(store, events, first)
            if store.url:
                settle_clickhouse(self.clickhouse)
                rows, inserts = insert_baseline(self.clickhouse, store.team_id, self.workdir)
                base_seconds, baseline, target = sum(inserts), f"its own insert ({BATCH} per batch)", ">= 0.4"
            else:
                self.sql.execute("VACUUM ANALYZE events_event")
                rows, base_seconds = copy_baseline(self.sql, store.team_id, self.workdir)
                inserts, baseline, target = [], "raw COPY (binary)", ""
                # The next store starts with PostgreSQL's writes of this one on disk, not being flushed beside it.
                self.sql.execute("CHECKPOINT")
            if rows != events:
                raise RuntimeError(f"{store.name} holds {rows:,} events, not {events:,}")
            rate, base_rate = events / sum(requests), rows / base_seconds
            rates[store.name] = rate
            print(f"  {'/batch/':<32}: {sum(requests):8.1f} s {rate:10,.0f} events/s   ({tenths(requests)})")
            print(f"  {baseline:<32}: {base_seconds:8.1f} s {base_rate:10,.0f} events/s"
                  + (f"   ({tenths(inserts)})" if inserts else ""))  # fmt: skip
            print(f"  {'ratio':<32}: {rate / base_rate:.1%}")
            harness.record(BENCHMARK, f"{store.name}: ingestion via /batch/, {events:,} events", rate, "events/s",
                           f"{store.name}: {baseline}", base_rate, target=target)  # fmt: skip
        if len(rates) == 2:
            print(f"\nClickHouse /batch/ vs PostgreSQL /batch/: {rates['ClickHouse'] / rates['PostgreSQL']:.2f}x")
            harness.record(BENCHMARK, f"ClickHouse vs PostgreSQL: ingestion via /batch/, {events:,} events",
                           rates["ClickHouse"], "events/s", "PostgreSQL: the same", rates["PostgreSQL"])  # fmt: skip

    def settle(self) -> None:
        self.sql.execute("VACUUM ANALYZE events_event")
        if self.clickhouse is not None:
            from events.stores.clickhouse import clickhouse_store

            parts = settle_clickhouse(self.clickhouse)
            print(f"\nClickHouse's background merges settled: {parts} active parts in the events table")
            store = next(s for s in self.stores if s.url)
            self.recorder = StatementRecorder(clickhouse_store(store.url).client)
            if self.recorder.client is not self.clickhouse:
                raise RuntimeError("the store's ClickHouse client is not the benchmark's")

    # (b)
    def list_call(self, store: Store, params: dict[str, str]) -> Callable[[], None]:
        path = f"/api/environments/{store.team_id}/events/"

        def call() -> None:
            store.use()
            response = self.api.get(path, params, HTTP_HOST=HOST)
            if response.status_code != 200:
                raise RuntimeError(f"{path} {params}: {response.status_code} {response.content[:300]!r}")

        return call

    def sample_lists(self, cases: dict[str, dict[str, dict[str, str]]], runs: int, warmup: int
                     ) -> dict[str, dict[str, Timings]]:  # fmt: skip
        """{case: {store: timings}} for list requests ({store: {case: params}}), every store taking turns."""
        found = {}
        for case in cases[self.stores[0].name]:
            operations = []
            for store in self.stores:
                call = self.list_call(store, cases[store.name][case])
                operations += [call, captured_replay(store, call, self.sql, self.recorder if store.url else None)]
            timings = harness.sample(*operations, runs=runs, warmup=warmup, name=case)
            found[case] = {store.name: (timings[2 * n], timings[2 * n + 1]) for n, store in enumerate(self.stores)}
        return found

    def lists(self) -> dict[str, Timings]:
        """Samples and reports the list cases; returns the scan's timings by store."""
        events, runs = self.args.events, self.args.runs
        cases = {store.name: list_cases(middle_cursor(store, self.sql, self.clickhouse if store.url else None, events))
                 for store in self.stores}  # fmt: skip
        listed = self.sample_lists(cases, runs, warmup=5)
        scan = {store.name: {SCAN: {"properties": json.dumps(SCAN_FILTER)}} for store in self.stores}
        scanned = self.sample_lists(scan, max(5, runs // 10), warmup=1)[SCAN]
        for store in self.stores:
            rows = [(f"{store.name}: {case}", *listed[case][store.name]) for case in listed]
            rows.append((f"{store.name}: {SCAN}", *scanned[store.name]))
            harness.report(f"(b) {store.name}: events list on {events:,} events, in-process API vs its statements",
                           rows, baseline="SQL", benchmark=BENCHMARK, target="<= 2")  # fmt: skip
        return scanned

    # (c)
    def hogql_call(self, store: Store, text: str) -> Callable[[], list[Any]]:
        path = f"/api/environments/{store.team_id}/query/"

        def call() -> list[Any]:
            store.use()
            response = self.api.post(path, {"query": {"kind": "HogQLQuery", "query": text}}, format="json",
                                     HTTP_HOST=HOST)  # fmt: skip
            if response.status_code != 200:
                raise RuntimeError(f"{text}: {response.status_code} {response.content[:300]!r}")
            return response.json()["results"]

        return call

    def raw_call(self, store: Store, case: str) -> Callable[[], list[Any]]:
        if store.url:
            text = CH_AGGREGATIONS[case].format(table=f"{self.clickhouse.database}.events")
            return lambda: self.clickhouse.query(text, {"team": store.team_id}).rows
        return lambda: self.sql.execute(PG_AGGREGATIONS[case], [store.team_id]).fetchall()

    def aggregations(self) -> dict[str, dict[str, Timings]]:
        found = {}
        runs = max(5, self.args.runs // 5)
        for case, text in AGGREGATIONS.items():
            operations = []
            for store in self.stores:
                api_call, raw = self.hogql_call(store, text), self.raw_call(store, case)
                if normalised(api_call()) != normalised(raw()):
                    raise RuntimeError(f"{store.name}: `{text}` and its SQL disagree: {api_call()} vs {raw()}")
                operations += [api_call, raw]
            timings = harness.sample(*operations, runs=runs, warmup=2, name=case)
            found[case] = {store.name: (timings[2 * n], timings[2 * n + 1]) for n, store in enumerate(self.stores)}
        for store in self.stores:
            harness.report(f"(c) {store.name}: HogQL through the in-process API vs hand-written SQL, "
                           f"{self.args.events:,} events",
                           [(f"{store.name}: {case}", *found[case][store.name]) for case in found],
                           baseline="SQL", benchmark=BENCHMARK)  # fmt: skip
        return found

    # (d)
    def speed_ups(self, compared: dict[str, dict[str, Timings]]) -> None:
        print(f"\n(d) ClickHouse's speed-up over PostgreSQL, {self.args.events:,} events (p50 through the API)")
        header = f"{'case':<34} {'PostgreSQL ms':>14} {'ClickHouse ms':>14} {'speed-up':>9}"
        print(header + "\n" + "-" * len(header))
        for case, by_store in compared.items():
            postgres = harness.percentile(by_store["PostgreSQL"][0], 0.5) * 1000
            clickhouse = harness.percentile(by_store["ClickHouse"][0], 0.5) * 1000
            print(f"{case:<34} {postgres:>14.2f} {clickhouse:>14.2f} {postgres / clickhouse:>8.1f}x")
            harness.record(BENCHMARK, f"{case}: PostgreSQL p50 (ratio: ClickHouse's speed-up)", postgres, "ms",
                           "ClickHouse p50", clickhouse, target=SPEED_UP_TARGET)  # fmt: skip

    def memory(self) -> None:
        peak = peak_rss_mib()
        before = self.rss_before_clickhouse
        print(f"\nPeak RSS of this process (Django, the benchmark's own data, and chdb's ClickHouse in process): "
              f"{peak:,.0f} MiB" + (f"; before chdb was loaded: {before:,.0f} MiB" if before else ""))  # fmt: skip
        harness.record(BENCHMARK, "peak RSS of this process (chdb in process)", peak, "MiB",
                       "the same before chdb was loaded" if before else "", before or None)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000, help="events per store")
    parser.add_argument("--quick", action="store_true", help="1,000,000 events, fewer samples")
    parser.add_argument("--full", action="store_true", help="10,000,000 events")
    parser.add_argument("--runs", type=int, default=100, help="samples per list case (aggregations: a fifth)")
    parser.add_argument("--stores", default="postgres,clickhouse", help="which stores, comma-separated")
    args = parser.parse_args()
    if args.full:
        args.events = 10_000_000
    if args.quick:
        args.runs = 40
    chosen = {name.strip() for name in args.stores.split(",") if name.strip()}

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    with (
        harness.scratch_database("events_backends") as database_url,
        tempfile.TemporaryDirectory(prefix="bench_events_backends_") as scratch,
    ):
        import psycopg
        from django.conf import settings

        from environments import services
        from environments.models import User

        settings.RATE_LIMIT_ENABLED = False  # throughput far past what one client is allowed
        user = User.objects.create_user(email="bench@example.com", password="bench-password")
        organization = services.organization_create(name="Bench", owner=user)
        _, key = services.personal_api_key_create(user=user, label="bench", scopes=["query:read"])
        stores = []
        for name, label, url in (
            ("postgres", "PostgreSQL", ""),
            ("clickhouse", "ClickHouse", f"chdb://{scratch}/chdb"),
        ):
            if name in chosen:
                team = services.project_create(organization=organization, name=label, creator=user)
                stores.append(Store(label, url, team.id, team.api_token))

        with psycopg.connect(database_url, autocommit=True) as sql:
            run = Run(args, stores, sql, key, Path(scratch))
            run.ingestion()
            run.settle()
            scanned = run.lists()
            aggregated = run.aggregations()
            if len(stores) == 2:
                run.speed_ups({**aggregated, SCAN: scanned})
        run.memory()


if __name__ == "__main__":
    main()
