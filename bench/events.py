"""Events: ingestion throughput through /batch/ and list latency on the ingested data.

(a) Sends N events (default 1,000,000) to /batch/ from several client processes at once (bodies are encoded
    before the clock starts), then COPYs the same rows into a table of the same definition, and prints
    events/s for both with the ratio.
(b) On those events, p50/p99 over HTTP of the default list, a cursor page deep in the data, an `event=` filter,
    a property `exact` filter and an `icontains` filter matching nothing, each beside the same SQL (captured from
    the endpoint, replayed with psycopg).

    .venv/bin/python bench/events.py [--events 1000000] [--clients 4] [--batch 1000] [--runs 200]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
import uuid
from datetime import datetime, timedelta
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


def copy_baseline(database_url: str) -> tuple[int, float]:
    """COPY the ingested rows into a table with the events table's definition and indexes; (rows, seconds)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        buffer = io.BytesIO()
        with connection.cursor().copy("COPY events_event TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                buffer.write(chunk)
        connection.execute("DROP TABLE IF EXISTS bench_copy_baseline")
        connection.execute("CREATE TABLE bench_copy_baseline (LIKE events_event INCLUDING ALL)")
        data = buffer.getvalue()
        started = time.perf_counter()
        with connection.cursor().copy("COPY bench_copy_baseline FROM STDIN (FORMAT binary)") as copy:
            for position in range(0, len(data), 1 << 20):
                copy.write(data[position : position + (1 << 20)])
        seconds = time.perf_counter() - started
        rows = connection.execute("SELECT count(*) FROM bench_copy_baseline").fetchone()[0]
        connection.execute("DROP TABLE bench_copy_baseline")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    with harness.scratch_database("events") as database_url:
        import psycopg
        import requests
        from django.db import connection

        from environments import services
        from environments.models import User

        user = User.objects.create_user(email="bench@example.com", password="bench-password")
        organization = services.organization_create(name="Bench", owner=user)
        team = services.project_create(organization=organization, name="Events", creator=user)
        _, key = services.personal_api_key_create(user=user, label="bench", scopes=["query:read"])

        with harness.running_server(workers=args.workers, threads=args.threads) as base_url:
            seconds = harness.send_batches(
                base_url, team.api_token, args.events, args.clients, args.batch, make=make_bodies
            )
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE events_event")
                cursor.execute("SELECT count(*) FROM events_event")
                stored = cursor.fetchone()[0]
            rows, copy_seconds = copy_baseline(database_url)
            api_rate, copy_rate = stored / seconds, rows / copy_seconds
            print(f"\nIngestion of {stored:,} events via /batch/ ({args.clients} clients, {args.batch} per batch)")
            print(f"  /batch/ : {seconds:8.1f} s  {api_rate:10,.0f} events/s")
            print(f"  raw COPY: {copy_seconds:8.1f} s  {copy_rate:10,.0f} events/s")
            print(f"  ratio   : {api_rate / copy_rate:.1%} of raw COPY")

            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT timestamp, uuid FROM events_event WHERE team_id = %s ORDER BY timestamp DESC, uuid DESC "
                    "OFFSET %s LIMIT 1",
                    [team.id, stored // 2],
                )
                deep_timestamp, deep_uuid = cursor.fetchone()
            path = f"/api/environments/{team.id}/events/"
            cases = {
                "default list (100)": {},
                "cursor page at the middle": {"before": deep_timestamp.isoformat(), "before_uuid": str(deep_uuid)},
                "event=signed_up": {"event": "signed_up"},
                "exact $browser=Safari": {"properties": json.dumps([{"key": "$browser", "value": "Safari"}])},
                "icontains matching nothing": {
                    "properties": json.dumps([{"key": "$current_url", "value": "zzz-none", "operator": "icontains"}])
                },
            }
            report_rows = []
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {key}"
            with psycopg.connect(database_url) as sql:
                for name, params in cases.items():
                    statements = captured_sql(path, params, key)
                    runs = max(10, args.runs // 10) if "nothing" in name else args.runs

                    def api_call(params: dict[str, str] = params) -> None:
                        session.get(base_url + path, params=params, timeout=120).raise_for_status()

                    def raw_sql(statements: list[str] = statements) -> None:
                        for statement in statements:
                            sql.execute(statement).fetchall()

                    report_rows.append((name, *harness.sample(api_call, raw_sql, runs=runs, warmup=3)))
            harness.report(f"Events list on {stored:,} events, over HTTP vs the same SQL", report_rows, baseline="SQL")


if __name__ == "__main__":
    main()
