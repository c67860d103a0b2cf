"""The README's five Hog evaluator templates, read from the README itself: each is created as its `hog_evaluation`
line would create it, tried on stored generations through `evaluations/test_hog/` with the verdicts it should give,
and accepted by PostHog's own parser (so it also runs on PostHog)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.evaluations.helpers import store_generation
from tests.support.posthog_parser import posthog_parse
from tests.support.tenants import Tenant

README = Path(__file__).resolve().parents[2] / "README.md"
TEMPLATE = re.compile(
    r"\*\*(?P<title>[^*]+)\*\* \(`(?P<file>\w+\.hog)`\).*?```hog\n(?P<source>.*?)\n```\n```sh\n(?P<create>[^\n]+)\n```",
    re.DOTALL,
)


@dataclass(frozen=True)
class Template:
    title: str
    source: str
    output_type: str
    output_config: dict[str, Any]


def readme_templates() -> dict[str, Template]:
    templates = {}
    for match in TEMPLATE.finditer(README.read_text()):
        command, title, output_type, file, *config = shlex.split(match["create"])
        assert (command, title, file) == ("hog_evaluation", match["title"], match["file"]), match["create"]
        templates[file] = Template(title, match["source"], output_type, json.loads(config[0]) if config else {})
    return templates


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


# file -> [(input, output, the verdict it should give)]
CASES: dict[str, list[tuple[Any, Any, Any]]] = {
    "valid_json.hog": [
        ("Give me JSON", messages('{"answer": 42}'), True),
        ("Give me JSON", messages("Sure! {answer: 42"), False),
        ("Give me JSON", '["a", 1]', True),
        ("Give me JSON", "plain words", False),
    ],
    "length_limit.hog": [("Explain", "x" * 1000, True), ("Explain", "x" * 1001, False)],
    "forbidden_words.hog": [("Price?", "We GUARANTEE the cheapest price", False), ("Price?", "It is 10 euros", True)],
    "personal_data.hog": [
        ("Contact?", "Write to ann.lee@example.com", False),
        ("Contact?", "Call +1 (555) 010-9999", False),
        ("Version?", "Version 1.2.3, released in 2024", True),
    ],
    "required_phrase.hog": [
        ("How do refunds work?", messages("See our Refund Policy: 30 days."), True),
        ("Can I get a refund?", messages("Please ask support."), False),
        ("Hello", messages("Hi!"), None),
    ],
}


def test_the_readme_has_the_five_templates() -> None:
    assert sorted(readme_templates()) == sorted(CASES)


@pytest.mark.parametrize("file", sorted(CASES))
def test_postHogs_parser_accepts_the_template(file: str) -> None:
    verdict = posthog_parse("program", readme_templates()[file].source)
    assert verdict.accepted, verdict.message


@pytest.mark.django_db
@pytest.mark.parametrize("file", sorted(CASES))
def test_the_template_is_created_and_gives_its_verdicts(file: str, tenant: Tenant, key_client: Any) -> None:
    template = readme_templates()[file]
    api: APIClient = key_client("evaluation:write")
    base = f"/api/environments/{tenant.team.id}/evaluations/"
    created = api.post(base, {"name": template.title, "evaluation_type": "hog", "output_type": template.output_type,
                              "output_config": template.output_config, "enabled": True,
                              "evaluation_config": {"source": template.source},
                              "conditions": [{"rollout_percentage": 100, "properties": []}]}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["evaluation_config"]["bytecode"]

    now = timezone.now()
    cases = CASES[file]
    stored = [
        store_generation(
            tenant,
            properties={"$ai_input": question, "$ai_output_choices": answer},
            timestamp=now - timedelta(minutes=index + 1),
        )
        for index, (question, answer, _) in enumerate(cases)
    ]
    tried = api.post(f"{base}test_hog/", {"source": template.source, "sample_count": len(cases),
                                          "allows_na": bool(template.output_config.get("allows_na"))}, format="json")  # fmt: skip
    assert tried.status_code == 200, tried.content
    results = {row["event_uuid"]: row for row in tried.json()["results"]}
    for event, (_, _, expected) in zip(stored, cases, strict=True):
        row = results[str(event.uuid)]
        assert (row["result"], row["error"]) == (expected, None), (event.properties, row)
