"""Evaluations list latency: 10,000 evaluations in one project and 100 in another.

Measures p50/p99 over real HTTP (gunicorn, personal API key) of the default list, a search and `id__in` with
50 ids, each beside the same SQL the endpoint runs (captured from the endpoint, replayed with psycopg).

    .venv/bin/python bench/evaluations_list.py [--runs 300] [--quick]
"""

from __future__ import annotations

import argparse
import random
from datetime import timedelta
from typing import Any

import harness


def seed() -> dict[str, Any]:
    from django.utils import timezone

    from environments import services
    from environments.models import User
    from evaluations.models import Evaluation

    user = User.objects.create_user(email="bench@example.com", password="bench-password")
    organization = services.organization_create(name="Bench", owner=user)
    big = services.project_create(organization=organization, name="Big", creator=user)
    small = services.project_create(organization=organization, name="Small", creator=user)
    _, key = services.personal_api_key_create(user=user, label="bench", scopes=["evaluation:read"])
    now = timezone.now()
    words = ["accuracy", "tone", "safety", "relevance", "helpfulness", "toxicity", "grounding", "brevity"]
    rows = []
    for team, count in ((big, 10_000), (small, 100)):
        for index in range(count):
            word = random.choice(words)
            rows.append(
                Evaluation(
                    team=team,
                    name=f"{word} check {index}",
                    description=f"Judges {word} of the answer",
                    enabled=index % 3 == 0,
                    evaluation_type="llm_judge",
                    evaluation_config={"prompt": f"Is the answer good on {word}?"},
                    output_type="boolean",
                    output_config={"allows_na": False},
                    conditions=[{"id": "c1", "rollout_percentage": 100, "properties": []}],
                    created_by=user,
                    created_at=now - timedelta(seconds=index),
                )
            )
    Evaluation.objects.bulk_create(rows, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE evaluations_evaluation")
    ids = [str(pk) for pk in Evaluation.objects.filter(team=big).values_list("id", flat=True)[:5000]]
    empty = services.project_create(organization=organization, name="Empty", creator=user)
    return {"team": big.id, "key": key, "ids": random.sample(ids, 50), "empty_team": empty.id}


def wsgi_get(path: str, key: str | None = None) -> bytes:
    """A GET through Django's WSGI handler in this process, as gunicorn's worker calls it, without HTTP."""
    import io

    from django.core.handlers.wsgi import WSGIHandler

    if "handler" not in wsgi_get.__dict__:  # one handler, as one worker process has
        wsgi_get.__dict__["handler"] = WSGIHandler()
    handler = wsgi_get.__dict__["handler"]
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http"}  # fmt: skip
    if key:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    statuses: list[str] = []
    body = b"".join(handler(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses[0].startswith("200"), (statuses, body)
    return body


def fixed_cost(data: dict[str, Any], runs: int) -> None:
    """What every request pays: an authenticated list that returns nothing, in-process, beside `/_health` (the
    middleware alone) and beside the statements it runs (key and project in one, then the count). Rate limits are
    off, as for the server the other cases call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    with override_settings(RATE_LIMIT_ENABLED=False):
        _fixed_cost(data, runs, connection, CaptureQueriesContext)


def _fixed_cost(data: dict[str, Any], runs: int, connection: Any, capture: Any) -> None:

    path = f"/api/environments/{data['empty_team']}/evaluations/"
    assert wsgi_get(path, data["key"]) == b'{"count":0,"next":null,"previous":null,"results":[]}'
    with capture(connection) as context:
        wsgi_get(path, data["key"])
    statements = [(query["sql"],) for query in context.captured_queries]
    with connection.cursor() as cursor:

        def raw_sql() -> None:
            for (statement,) in statements:
                cursor.execute(statement)
                cursor.fetchall()

        listed, health, sql = harness.sample(lambda: wsgi_get(path, data["key"]), lambda: wsgi_get("/_health"),
                                             raw_sql, runs=runs * 10, name="empty list in-process")  # fmt: skip
    harness.report("Fixed cost: an authenticated empty list in-process (no HTTP)",
                   [("empty list vs /_health", listed, health), ("empty list vs its SQL", listed, sql)],
                   baseline="base", benchmark="Evaluations list, fixed cost")  # fmt: skip


def captured_sql(path: str, params: dict[str, str], key: str) -> list[tuple[str, Any]]:
    """The statements the list endpoint runs against the evaluations table (count + page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    with CaptureQueriesContext(connection) as context:
        response = client.get(path, params, HTTP_HOST="127.0.0.1")
    assert response.status_code == 200, response.content
    return [(query["sql"], None) for query in context.captured_queries if "evaluations_evaluation" in query["sql"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="100 runs per case")
    args = parser.parse_args()
    if args.quick:
        args.runs = 100

    with harness.scratch_database("evaluations") as database_url:
        import psycopg
        import requests

        data = seed()
        fixed_cost(data, args.runs)
        path = f"/api/environments/{data['team']}/evaluations/"
        cases = {
            "default list (100 of 10,000)": {},
            "search=safety": {"search": "safety"},
            "id__in with 50 ids": {"id__in": ",".join(data["ids"])},
        }
        rows = []
        with harness.running_server() as base_url, psycopg.connect(database_url) as sql:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {data['key']}"
            for name, params in cases.items():
                statements = captured_sql(path, params, data["key"])

                def api_call(params: dict[str, str] = params) -> None:
                    response = session.get(base_url + path, params=params, timeout=30)
                    response.raise_for_status()

                def raw_sql(statements: list[tuple[str, Any]] = statements) -> None:
                    for statement, _ in statements:
                        sql.execute(statement).fetchall()

                rows.append((name, *harness.sample(api_call, raw_sql, runs=args.runs, name=name)))
        harness.report("Evaluations list over HTTP vs the same SQL replayed directly", rows, baseline="SQL",
                       benchmark="Evaluations list, 10k rows", target="<= 2")  # fmt: skip


if __name__ == "__main__":
    main()
