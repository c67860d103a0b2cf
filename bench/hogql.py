"""HogQL: what parsing and printing cost, and how queries over the events table compare with hand-written SQL.

(a) Parse + print (PostgreSQL) of typical expressions, in-process, microseconds each (median of many).
(b) Over HTTP (`POST …/query/`, gunicorn with 2 workers of 8 threads, a personal API key) on N events (default
    1,000,000, written straight into the table): `select event, count() from events group by event` and a
    property breakdown, each beside the hand-written SQL for the same result, replayed with psycopg.

    .venv/bin/python bench/hogql.py [--events 1000000] [--runs 20] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import harness

BENCHMARK = "HogQL"
EXPRESSIONS = [
    "event = '$pageview'",
    "properties.$browser = 'Chrome' and timestamp > now() - interval 7 day",
    "toFloat(properties.amount) * 2 > 10 or properties.plan in ('pro', 'enterprise')",
    "lower(concat(properties.$os, ' ', properties.$browser)) like '%mac%'",
    "person.properties.email ilike '%@example.com' and not (distinct_id = 'x')",
]


def parse_and_print_us(runs: int) -> list[tuple[str, float, float]]:
    """(expression, first parse + print µs, repeated parse + print µs): parsed trees are cached by text."""
    from events.sql_schema import postgres_dialect
    from query_languages import Context, parse_expr, print_condition
    from query_languages.hogql.parser import _parse_cached

    context = Context(team_id=1, timezone="UTC", tz=UTC, now=datetime.now(UTC))
    dialect = postgres_dialect()
    figures = []
    for text in EXPRESSIONS:
        cold, warm = [], []
        for _ in range(runs):
            _parse_cached.cache_clear()
            for timings in (cold, warm):
                started = time.perf_counter()
                print_condition(parse_expr(text), dialect=dialect, context=context)
                timings.append(time.perf_counter() - started)
        figures.append((text, statistics.median(cold) * 1e6, statistics.median(warm) * 1e6))
    return figures


def fill(database_url: str, team_id: int, count: int) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as sql:
        sql.execute(
            "INSERT INTO events_event (team_id, uuid, event, distinct_id, properties, timestamp, created_at, "
            "elements_chain) SELECT %s, gen_random_uuid(), "
            "(ARRAY['$pageview','$autocapture','signed_up','purchase','$pageleave'])[1 + i %% 5], "
            "'user-' || (i %% 20000), "
            "jsonb_build_object('$browser', (ARRAY['Chrome','Firefox','Safari','Edge'])[1 + i %% 4], "
            "'plan', (ARRAY['free','pro','enterprise'])[1 + i %% 3], 'amount', (i %% 1000) / 10.0), "
            "now() - (i || ' seconds')::interval, now(), '' FROM generate_series(1, %s) AS i",
            [team_id, count],
        )
        sql.execute("ANALYZE events_event")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="100,000 events, 10 runs")
    args = parser.parse_args()
    if args.quick:
        args.events, args.runs = 100_000, 10

    with harness.scratch_database("hogql") as database_url:
        import psycopg
        import requests

        print("\n(a) parse + print, median of 2,000 each: first time, then repeated (the tree is cached by text)")
        for text, cold, warm in parse_and_print_us(2000):
            print(f"  {cold:8.1f} µs  {warm:8.1f} µs  {text}")
            harness.record(BENCHMARK, f"parse + print: `{text}`", cold, "µs", "the same text again", warm,
                           target="value <= 200")  # fmt: skip

        from environments import services
        from environments.models import User

        user = User.objects.create_user(email="bench@example.com", password="bench-password")
        organization = services.organization_create(name="Bench", owner=user)
        team = services.project_create(organization=organization, name="HogQL", creator=user)
        _, key = services.personal_api_key_create(user=user, label="bench", scopes=["query:read"])
        fill(database_url, team.id, args.events)
        cases = {
            "event counts": (
                "select event, count() from events group by event",
                "SELECT event, count(*) FROM events_event WHERE team_id = %s GROUP BY event",
            ),
            "property breakdown": (
                "select properties.$browser, count() from events group by properties.$browser",
                "SELECT properties ->> '$browser', count(*) FROM events_event WHERE team_id = %s GROUP BY 1",
            ),
        }
        rows = []
        with harness.running_server() as base_url, psycopg.connect(database_url) as sql:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {key}"
            url = f"{base_url}/api/environments/{team.id}/query/"
            for name, (hogql_text, raw) in cases.items():

                def api_call(hogql_text: str = hogql_text) -> None:
                    body = {"query": {"kind": "HogQLQuery", "query": hogql_text}}
                    session.post(url, json=body, timeout=120).raise_for_status()

                def raw_sql(raw: str = raw) -> None:
                    sql.execute(raw, [team.id]).fetchall()

                timings = harness.sample(api_call, raw_sql, runs=args.runs, warmup=2, name=name)
                rows.append((f"{name}, {args.events:,} events", *timings))
        harness.report(f"(b) HogQL over HTTP vs hand-written SQL, {args.events:,} events", rows, baseline="SQL",
                       benchmark=BENCHMARK, target="<= 1.5")  # fmt: skip


if __name__ == "__main__":
    main()
