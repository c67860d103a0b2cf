"""The output type registry and what the workflow passes between its steps: each output type reads the judge's
answer into a typed verdict and words its event properties; the payloads survive Temporal's default converter."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from pydantic import ValidationError
from temporalio.converter import DataConverter

from evaluations.contracts import EvaluationSnapshot, JudgeResult, RunResult, RunStart, Skip, Verdict
from evaluations.models import OutputType
from evaluations.output_types import OUTPUT_TYPES

BOOLEAN = OUTPUT_TYPES[OutputType.BOOLEAN]


def test_every_output_type_choice_has_an_output_type() -> None:
    assert set(OUTPUT_TYPES) == set(OutputType.values)


class TestBoolean:
    def test_reads_a_verdict(self) -> None:
        config = BOOLEAN.config({"allows_na": False})
        answer = BOOLEAN.read_answer(json.dumps({"reasoning": "Right.", "verdict": False}), config)
        assert (answer.reasoning, answer.outcome) == ("Right.", Verdict(False))
        assert BOOLEAN.passed(Verdict(False), config) is False
        assert BOOLEAN.event_properties(Verdict(False), config) == {"$ai_evaluation_result": False}

    def test_reads_not_applicable_when_allowed(self) -> None:
        config = BOOLEAN.config({"allows_na": True})
        text = json.dumps({"reasoning": "No code.", "applicable": False, "verdict": None})
        verdict = BOOLEAN.read_answer(text, config).outcome
        assert verdict == Verdict(None, applicable=False)
        assert isinstance(verdict, Verdict)
        assert BOOLEAN.passed(verdict, config) is None
        assert BOOLEAN.event_properties(verdict, config) == {"$ai_evaluation_applicable": False}
        applicable = Verdict(True, applicable=True)
        assert list(BOOLEAN.event_properties(applicable, config).items()) == [
            ("$ai_evaluation_result", True),
            ("$ai_evaluation_applicable", True),
        ]
        assert BOOLEAN.passed(applicable, config) is True

    @pytest.mark.parametrize(
        ("allows_na", "answer"),
        [
            (False, {"reasoning": "Hm.", "verdict": None}),
            (False, {"reasoning": "Hm.", "verdict": "true"}),
            (True, {"reasoning": "Hm.", "applicable": True, "verdict": None}),
            (True, {"reasoning": "Hm.", "applicable": False, "verdict": True}),
        ],
    )
    def test_refuses_what_is_not_its_answer(self, allows_na: bool, answer: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            BOOLEAN.read_answer(json.dumps(answer), BOOLEAN.config({"allows_na": allows_na}))

    def test_asks_for_the_schema_matching_its_config(self) -> None:
        plain = BOOLEAN.response_schema(BOOLEAN.config({}))
        with_na = BOOLEAN.response_schema(BOOLEAN.config({"allows_na": True}))
        assert (plain.name, plain.schema["required"]) == ("boolean_eval_result", ["reasoning", "verdict"])
        assert (with_na.name, with_na.schema["required"]) == (
            "boolean_eval_result_with_na",
            ["reasoning", "applicable", "verdict"],
        )

    def test_normalises_its_config(self) -> None:
        assert BOOLEAN.validate_config({"extra": 1}) == {"allows_na": False}
        with pytest.raises(ValidationError):
            BOOLEAN.validate_config({"allows_na": "yes"})


def round_trip(value: Any, hint: Any) -> Any:
    converter = DataConverter.default.payload_converter
    [back] = converter.from_payloads(converter.to_payloads([value]), [hint])
    return back


@pytest.mark.parametrize(
    "outcome",
    [
        Verdict(True),
        Verdict(False, applicable=True),
        Verdict(None, applicable=False),
        Verdict(7.5),
        Verdict(["on_topic", "polite"], applicable=True),
        Verdict([]),
        Skip("score_out_of_bounds", "The score 11 is above the maximum 10."),
    ],
)
def test_judge_results_survive_temporals_default_converter(outcome: Verdict | Skip) -> None:
    judged = JudgeResult(outcome, "Because.", "judge-model", "openai", 42, None)
    back = round_trip(judged, JudgeResult)
    assert back == judged
    assert type(back.outcome) is type(outcome)
    if isinstance(outcome, Verdict):
        # `True == 1.0`: equality alone would not notice a boolean read back as a number.
        assert isinstance(back.outcome, Verdict)
        assert type(back.outcome.value) is type(outcome.value)


def test_run_starts_survive_temporals_default_converter() -> None:
    evaluation = EvaluationSnapshot("e1", "Accuracy", 1, "llm_judge", {"prompt": "Right?"}, "boolean", {})
    for result in (None, RunResult("e1", verdict=True, reasoning="Yes."), RunResult("e1", skip=Skip("a", "b"))):
        start = RunStart(evaluation, result)
        assert round_trip(start, RunStart) == start


def test_the_workflow_result_keeps_posthogs_shape() -> None:
    assert json.dumps(RunResult("e1", verdict=None, reasoning="N/A.").workflow_result()) == (
        '{"verdict": null, "reasoning": "N/A.", "evaluation_id": "e1"}'
    )
    assert json.dumps(RunResult("e1", skip=Skip("evaluation_deleted", "Gone")).workflow_result()) == (
        '{"verdict": null, "skipped": true, "skip_reason": "evaluation_deleted", "message": "Gone", '
        '"evaluation_id": "e1"}'
    )


def test_only_the_registry_names_an_output_type() -> None:
    """What runs an evaluation asks the registry: adding an output type touches no workflow, activity or service."""
    root = Path(settings.BASE_DIR) / "evaluations"
    naming = {}
    for path in root.rglob("*.py"):
        if path.parent.name == "output_types":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evaluations.output_types."):
                naming[str(path.relative_to(root))] = node.module
    assert naming == {}
