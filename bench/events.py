"""Events: ingestion throughput through /batch/ and list latency, as the table grows.

The table grows through each size in turn (default 100k then 1M; `--full` adds 10M). At each size:
(a) the events added since the last size are sent to /batch/ from several client processes at once (bodies are
    encoded before the clock starts), then the same rows are COPYed into a table of the same definition that
    already holds the earlier sizes' rows; events/s for both, with the ratio;
(b) p50/p99 over HTTP of the default list, a cursor page deep in the data, an `event=` filter and a property
    `exact` filter (and, up to 1M, an `icontains` filter matching nothing), each beside the same SQL (captured
    from the endpoint, replayed with psycopg);
(c) the server's peak RSS per process.
At the end, the default list's p50 at the largest size beside its p50 at 1M.

    .venv/bin/python bench/events.py [--sizes 100000,1000000] [--quick | --full] [--clients 4] [--batch 1000]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import harness

BROWSERS = ["Chrome", "Firefox", "Safari", "Edge"]
EVENTS = ["$pageview", "$autocapture", "signed_up", "purchase", "$pageleave"]


def make_bodies(token: str, count: int, batch: int, seed: int, start: datetime) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for offset in range(0, count, batch):
        events = []
        for n in range(offset, min(offset + batch, count)):
            user = f"user-{rng.randrange(20_000)}"
            properties: dict[str, Any] = {
                "$browser": rng.choice(BROWSERS),
                "$os": rng.choice(["Mac OS X", "Windows", "Linux", "iOS"]),
                "$current_url": f"https://shop.example/p/{rng.randrange(5000)}?ref={rng.randrange(100)}",
                "$lib": "posthog-python",
                "$lib_version": "7.91.1",
                "plan": rng.choice(["free", "pro", "enterprise"]),
                "amount": round(rng.random() * 100, 2),
                "session": str(uuid.UUID(int=rng.getrandbits(128))),
            }
            if n % 50 == 0:
                properties["$set"] = {"email": f"{user}@example.com"}
            timestamp = start + timedelta(milliseconds=n * 7 + seed)
            event_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
            events.append({"event": rng.choice(EVENTS), "distinct_id": user, "properties": properties,
                           "timestamp": timestamp.isoformat(), "uuid": event_uuid})  # fmt: skip
        bodies.append(json.dumps({"api_key": token, "batch": events}).encode())
    return bodies


BENCHMARK = "Events"
# An `icontains` that matches nothing reads the project's whole range (PostgreSQL's cost, ratio ~1): too slow to
# sample at 10M, so it is measured up to this size.
SCAN_CASE_MAX_SIZE = 1_000_000


def copy_increment(sql: Any, since: datetime | None) -> tuple[int, float]:
    """COPY the rows ingested after `since` into bench_copy_baseline (the events table's definition and indexes,
    holding the earlier sizes' rows already); (rows, seconds of the COPY into it)."""
    buffer = io.BytesIO()
    where = "" if since is None else "WHERE created_at > %s"
    with sql.cursor().copy(f"COPY (SELECT * FROM events_event {where}) TO STDOUT (FORMAT binary)",
                           [since] if since else None) as copy:  # fmt: skip
        for chunk in copy:
            buffer.write(chunk)
    data = buffer.getvalue()
    started = time.perf_counter()
    with sql.cursor().copy("COPY bench_copy_baseline FROM STDIN (FORMAT binary)") as copy:
        for position in range(0, len(data), 1 << 20):
            copy.write(data[position : position + (1 << 20)])
    seconds = time.perf_counter() - started
    rows = sql.execute(f"SELECT count(*) FROM events_event {where}", [since] if since else None).fetchone()[0]
    return rows, seconds


def captured_sql(path: str, params: dict[str, str], key: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client_ = APIClient()
    client_.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    with CaptureQueriesContext(connection) as context:
        response = client_.get(path, params, HTTP_HOST="127.0.0.1")
    assert response.status_code == 200, response.content
    return [q["sql"] for q in context.captured_queries if "events_event" in q["sql"] or "events_person" in q["sql"]]


def list_cases(sql: Any, team_id: int, stored: int) -> dict[str, dict[str, str]]:
    deep_timestamp, deep_uuid = sql.execute(
        "SELECT timestamp, uuid FROM events_event WHERE team_id = %s ORDER BY timestamp DESC, uuid DESC "
        "OFFSET %s LIMIT 1",
        [team_id, stored // 2],
    ).fetchone()
    cases = {
        "default list (100)": {},
        "cursor page at the middle": {"before": deep_timestamp.isoformat(), "before_uuid": str(deep_uuid)},
        "event=signed_up": {"event": "signed_up"},
        "exact $browser=Safari": {"properties": json.dumps([{"key": "$browser", "value": "Safari"}])},
    }
    if stored <= SCAN_CASE_MAX_SIZE:
        nothing = [{"key": "$current_url", "value": "zzz-none", "operator": "icontains"}]
        cases["icontains matching nothing"] = {"properties": json.dumps(nothing)}
    return cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000", help="table sizes to grow through, comma-separated")
    parser.add_argument("--quick", action="store_true", help="100k only, 100 runs per case")
    parser.add_argument("--full", action="store_true", help="100k, 1M and 10M")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.quick:
        sizes, args.runs = [100_000], 100
    if args.full:
        sizes = [100_000, 1_000_000, 10_000_000]

    with harness.scratch_database("events") as database_url:
        import psycopg
        import requests

        from environments import services
        from environments.models import User

        user = User.objects.create_user(email="bench@example.com", password="bench-password")
        organization = services.organization_create(name="Bench", owner=user)
        team = services.project_create(organization=organization, name="Events", creator=user)
        _, key = services.personal_api_key_create(user=user, label="bench", scopes=["query:read"])
        path = f"/api/environments/{team.id}/events/"
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        first_timestamp = datetime.now(UTC) - timedelta(days=60)
        default_p50: dict[int, float] = {}

        with (
            harness.running_server(workers=args.workers, threads=args.threads) as base_url,
            psycopg.connect(database_url, autocommit=True) as sql,
        ):
            sql.execute("CREATE TABLE bench_copy_baseline (LIKE events_event INCLUDING ALL)")
            stored, copied_until = 0, None
            for step, size in enumerate(sizes):
                # Each size's events follow the earlier ones in time, with uuids of their own.
                def make(
                    token: str, count: int, batch: int, seed: int, start: datetime, step: int = step
                ) -> list[bytes]:
                    return make_bodies(token, count, batch, seed + 1000 * step, start)

                start = first_timestamp + timedelta(milliseconds=7 * stored // args.clients + 1000)
                seconds = harness.send_batches(base_url, team.api_token, size - stored, args.clients, args.batch,
                                               make=make, start=start)  # fmt: skip
                sql.execute("ANALYZE events_event")
                added = stored
                stored = sql.execute("SELECT count(*) FROM events_event").fetchone()[0]
                added = stored - added
                rows, copy_seconds = copy_increment(sql, copied_until)
                copied_until = sql.execute("SELECT max(created_at) FROM events_event").fetchone()[0]
                sql.execute("ANALYZE bench_copy_baseline")
                api_rate, copy_rate = added / seconds, rows / copy_seconds
                print(f"\nIngestion from {stored - added:,} to {stored:,} events via /batch/ "
                      f"({args.clients} clients, {args.batch} per batch)")  # fmt: skip
                print(f"  /batch/ : {seconds:8.1f} s  {api_rate:10,.0f} events/s")
                print(f"  raw COPY: {copy_seconds:8.1f} s  {copy_rate:10,.0f} events/s")
                print(f"  ratio   : {api_rate / copy_rate:.1%} of raw COPY")
                # The target is for a large table (10M): COPY into a small one is faster than any API can be.
                target = ">= 0.4" if stored >= 10_000_000 else ""
                harness.record(BENCHMARK, f"ingestion, {stored - added:,} → {stored:,} events", api_rate,
                               "events/s", "raw COPY", copy_rate, target=target)  # fmt: skip

                report_rows = []
                for name, params in list_cases(sql, team.id, stored).items():
                    statements = captured_sql(path, params, key)
                    runs = max(10, args.runs // 10) if "nothing" in name else args.runs

                    def api_call(params: dict[str, str] = params) -> None:
                        session.get(base_url + path, params=params, timeout=120).raise_for_status()

                    def raw_sql(statements: list[str] = statements) -> None:
                        for statement in statements:
                            sql.execute(statement).fetchall()

                    timings = harness.sample(api_call, raw_sql, runs=runs, warmup=3, name=name)
                    report_rows.append((f"{name} at {stored:,}", *timings))
                default_p50[size] = harness.percentile(report_rows[0][1], 0.5) * 1000
                harness.report(f"Events list on {stored:,} events, over HTTP vs the same SQL", report_rows,
                               baseline="SQL", benchmark=BENCHMARK, target="<= 2")  # fmt: skip
                peaks = harness.peak_rss_mib(base_url)
                print("Peak RSS: " + ", ".join(f"{role} {mib:.0f} MiB" for role, mib in peaks.items()))
                for role, mib in peaks.items():
                    harness.record(BENCHMARK, f"server peak RSS at {stored:,} events, {role}", mib, "MiB", "", None)
            sql.execute("DROP TABLE bench_copy_baseline")

        largest = max(default_p50)
        if largest > 1_000_000 and 1_000_000 in default_p50:
            growth = default_p50[largest] / default_p50[1_000_000]
            print(f"\nDefault list p50 at {largest:,}: {default_p50[largest]:.2f} ms, at 1,000,000: "
                  f"{default_p50[1_000_000]:.2f} ms ({growth:.2f}x)")  # fmt: skip
            harness.record(BENCHMARK, f"default list p50 at {largest:,} events", default_p50[largest], "ms",
                           "the same at 1,000,000", default_p50[1_000_000], target="<= 1.2")  # fmt: skip


if __name__ == "__main__":
    main()
