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
    return {"team": big.id, "key": key, "ids": random.sample(ids, 50)}


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
