"""The output type registry and what the workflow passes between its steps: each output type reads the judge's
answer into a typed verdict and words its event properties; the payloads survive Temporal's default converter."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from pydantic import ValidationError
from temporalio.converter import DataConverter

from evaluations.contracts import EvaluationSnapshot, JudgeResult, RunResult, RunStart, Skip, Verdict
from evaluations.models import OutputType
from evaluations.output_types import OUTPUT_TYPES, ReturnTypeError

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


NUMERIC = OUTPUT_TYPES[OutputType.NUMERIC]
CATEGORICAL = OUTPUT_TYPES[OutputType.CATEGORICAL]
GRADED = {"min": 0, "max": 10, "step": 0.5, "passing_rule": {"operator": "gte", "threshold": 7}}


class TestNumeric:
    def test_reads_a_score_and_grades_it(self) -> None:
        config = NUMERIC.config(GRADED)
        answer = NUMERIC.read_answer(json.dumps({"reasoning": "Good.", "score": 8}), config)
        assert (answer.reasoning, answer.outcome) == ("Good.", Verdict(8.0))
        assert isinstance(answer.outcome, Verdict) and type(answer.outcome.value) is float
        assert NUMERIC.passed(Verdict(8.0), config) is True
        assert NUMERIC.passed(Verdict(7.0), config) is True
        assert NUMERIC.passed(Verdict(6.5), config) is False
        lte = NUMERIC.config({**GRADED, "passing_rule": {"operator": "lte", "threshold": 3}})
        assert (NUMERIC.passed(Verdict(3.0), lte), NUMERIC.passed(Verdict(3.5), lte)) == (True, False)
        assert NUMERIC.passed(Verdict(0.0), NUMERIC.config({})) is None  # ungraded

    def test_event_properties(self) -> None:
        config = NUMERIC.config(GRADED)
        assert list(NUMERIC.event_properties(Verdict(0.0), config).items()) == [
            ("$ai_evaluation_numeric_result", 0.0),
            ("$ai_evaluation_numeric_result_min", 0),
            ("$ai_evaluation_numeric_result_max", 10),
            ("$ai_evaluation_passed", False),
        ]
        assert NUMERIC.event_properties(Verdict(2.5), NUMERIC.config({})) == {
            "$ai_evaluation_numeric_result": 2.5,
        }
        with_na = NUMERIC.config({**GRADED, "allows_na": True})
        assert NUMERIC.event_properties(Verdict(None, applicable=False), with_na) == {
            "$ai_evaluation_numeric_result_min": 0,
            "$ai_evaluation_numeric_result_max": 10,
            "$ai_evaluation_applicable": False,
        }

    def test_not_applicable_only_when_allowed(self) -> None:
        text = json.dumps({"reasoning": "No code.", "score": None})
        with_na = NUMERIC.config({"allows_na": True})
        assert NUMERIC.read_answer(text, with_na).outcome == Verdict(None, applicable=False)
        assert NUMERIC.read_answer(json.dumps({"reasoning": "Ok.", "score": 1.5}), with_na).outcome == Verdict(
            1.5, applicable=True
        )
        assert NUMERIC.passed(Verdict(None, applicable=False), NUMERIC.config({**GRADED, "allows_na": True})) is None
        skipped = NUMERIC.read_answer(text, NUMERIC.config({}))
        assert isinstance(skipped.outcome, Skip) and skipped.outcome.reason == "unparsable_response"

    @pytest.mark.parametrize(
        ("score", "outcome"),
        [
            (10, Verdict(10.0)),
            (0, Verdict(0.0)),
            (math.nextafter(10, math.inf), Verdict(10.0)),  # one float step over is the bound
            (math.nextafter(0, -math.inf), Verdict(0.0)),
            (10.5, Skip("score_out_of_bounds", "The score 10.5 is above the maximum 10.")),
            (-1, Skip("score_out_of_bounds", "The score -1.0 is below the minimum 0.")),
        ],
    )
    def test_bounds(self, score: float, outcome: Verdict | Skip) -> None:
        answer = NUMERIC.read_answer(json.dumps({"reasoning": "R.", "score": score}), NUMERIC.config(GRADED))
        assert answer.outcome == outcome

    @pytest.mark.parametrize(
        "text",
        [
            "I'd give it an 8.",
            json.dumps({"reasoning": "R.", "score": "8"}),
            json.dumps({"reasoning": "R.", "score": True}),
            json.dumps({"reasoning": "R."}),
            json.dumps({"score": 8}),
            '{"reasoning": "R.", "score": NaN}',
            '{"reasoning": "R.", "score": Infinity}',
            json.dumps([8]),
        ],
    )
    def test_an_answer_that_does_not_fit_is_skipped(self, text: str) -> None:
        outcome = NUMERIC.read_answer(text, NUMERIC.config(GRADED)).outcome
        assert isinstance(outcome, Skip)
        assert outcome.reason == "unparsable_response"
        assert outcome.message.startswith("The judge's answer does not fit the schema")

    def test_asks_for_a_bounded_score(self) -> None:
        config = NUMERIC.config(GRADED)
        assert NUMERIC.instructions(config) == (
            "Provide a brief reasoning (1 sentence) and a numeric score (a finite number). The score must be at "
            "least 0. The score must be at most 10. Suggested score increment: 0.5; do not round a score that falls "
            "between steps."
        )
        assert "score=null" in NUMERIC.instructions(NUMERIC.config({"allows_na": True}))
        schema = NUMERIC.response_schema(config)
        assert (schema.name, schema.schema["properties"]["score"]) == ("numeric_eval_result", {"type": "number"})
        assert schema.schema["required"] == ["reasoning", "score"]
        assert schema.schema["additionalProperties"] is False
        with_na = NUMERIC.response_schema(NUMERIC.config({"allows_na": True}))
        assert (with_na.name, with_na.schema["properties"]["score"]) == (
            "numeric_eval_result_with_na",
            {"type": ["number", "null"]},
        )

    @pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
    def test_refuses_non_finite_config_numbers(self, bad: float) -> None:
        for config in (
            {"min": bad},
            {"max": bad},
            {"step": bad},
            {"passing_rule": {"operator": "gte", "threshold": bad}},
        ):
            with pytest.raises(ValidationError, match="Enter a finite number"):
                NUMERIC.validate_config(config)


CATEGORIES = {
    "options": [{"key": "on_topic", "label": "On topic"}, {"key": "polite", "label": "Polite"},
                {"key": "rude", "label": "Rude"}],
    "selection_mode": "multiple",
    "passing_rule": {"categories": ["on_topic", "polite"]},
}  # fmt: skip


def categories_answer(categories: Any) -> str:
    return json.dumps({"reasoning": "Seen.", "categories": categories})


class TestCategorical:
    @pytest.mark.parametrize(
        ("categories", "passed"),
        [(["on_topic"], True), (["on_topic", "polite"], True), (["polite", "rude"], False), ([], False)],
    )
    def test_multiple_selection(self, categories: list[str], passed: bool) -> None:
        config = CATEGORICAL.config(CATEGORIES)
        outcome = CATEGORICAL.read_answer(categories_answer(categories), config).outcome
        assert outcome == Verdict(categories)
        assert isinstance(outcome, Verdict)
        assert CATEGORICAL.passed(outcome, config) is passed

    def test_an_empty_passing_rule_passes_only_no_categories(self) -> None:
        config = CATEGORICAL.config({**CATEGORIES, "passing_rule": {"categories": []}})
        assert CATEGORICAL.passed(Verdict([]), config) is True
        assert CATEGORICAL.passed(Verdict(["polite"]), config) is False
        assert CATEGORICAL.passed(Verdict(["polite"]), CATEGORICAL.config({**CATEGORIES, "passing_rule": None})) is None

    @pytest.mark.parametrize(
        ("categories", "message"),
        [
            (["friendly"], "Unknown categories: friendly (the categories are on_topic, polite, rude)."),
            (["Polite"], "Unknown categories: Polite (the categories are on_topic, polite, rude)."),
            (["polite", "polite"], "Categories repeated in the answer: polite, polite."),
        ],
    )
    def test_invalid_categories_skip_the_run(self, categories: list[str], message: str) -> None:
        outcome = CATEGORICAL.read_answer(categories_answer(categories), CATEGORICAL.config(CATEGORIES)).outcome
        assert outcome == Skip("parse_error", message)

    def test_single_selection_needs_exactly_one(self) -> None:
        config = CATEGORICAL.config({**CATEGORIES, "selection_mode": "single"})
        assert CATEGORICAL.read_answer(categories_answer(["rude"]), config).outcome == Verdict(["rude"])
        for wrong in ([], ["rude", "polite"]):
            outcome = CATEGORICAL.read_answer(categories_answer(wrong), config).outcome
            assert outcome == Skip("parse_error", f"Single selection needs exactly one category; the answer has "
                                                  f"{len(wrong)}.")  # fmt: skip

    @pytest.mark.parametrize(
        "text",
        ["rude", categories_answer("rude"), categories_answer(None), categories_answer([1]), json.dumps({"x": []})],
    )
    def test_an_answer_that_does_not_fit_is_skipped(self, text: str) -> None:
        outcome = CATEGORICAL.read_answer(text, CATEGORICAL.config(CATEGORIES)).outcome
        assert isinstance(outcome, Skip)
        assert outcome.reason == "unparsable_response"

    def test_not_applicable_and_event_properties(self) -> None:
        config = CATEGORICAL.config({**CATEGORIES, "allows_na": True})
        na = CATEGORICAL.read_answer(categories_answer(None), config).outcome
        assert na == Verdict(None, applicable=False)
        assert isinstance(na, Verdict)
        assert CATEGORICAL.passed(na, config) is None
        assert CATEGORICAL.event_properties(na, config) == {
            "$ai_evaluation_applicable": False,
        }
        applied = CATEGORICAL.read_answer(categories_answer(["polite"]), config).outcome
        assert applied == Verdict(["polite"], applicable=True)
        assert isinstance(applied, Verdict)
        assert list(CATEGORICAL.event_properties(applied, config).items()) == [
            ("$ai_evaluation_categorical_result", ["polite"]),
            ("$ai_evaluation_applicable", True),
            ("$ai_evaluation_passed", True),
        ]
        # Without N/A, categorical events still say the run applied.
        plain = CATEGORICAL.config(CATEGORIES)
        assert CATEGORICAL.event_properties(Verdict(["rude"]), plain)["$ai_evaluation_applicable"] is True

    def test_asks_for_keys(self) -> None:
        single = CATEGORICAL.config({**CATEGORIES, "selection_mode": "single", "allows_na": True})
        instructions = CATEGORICAL.instructions(single)
        assert instructions.startswith('Choose exactly one category key from these options: [{"key": "on_topic", '
                                       '"label": "On topic"}, ')  # fmt: skip
        assert "Return keys, not display labels." in instructions
        assert "categories=null" in instructions
        multiple = CATEGORICAL.instructions(CATEGORICAL.config(CATEGORIES))
        assert "zero or more distinct category keys" in multiple
        assert "An empty list means no categories apply." in multiple
        schema = CATEGORICAL.response_schema(CATEGORICAL.config(CATEGORIES))
        assert schema.name == "categorical_eval_result"
        assert schema.schema["properties"]["categories"] == {
            "type": "array",
            "items": {"type": "string", "enum": ["on_topic", "polite", "rude"]},
        }
        with_na = CATEGORICAL.response_schema(single).schema["properties"]["categories"]
        assert with_na["type"] == ["array", "null"]


@pytest.mark.parametrize("value", [0.0, 1.0, 7.0, -3.0])
def test_whole_scores_stay_numbers_through_temporal(value: float) -> None:
    judged = JudgeResult(Verdict(value), "Because.", "judge-model", "openai", 1, 2)
    back = round_trip(judged, JudgeResult)
    assert isinstance(back.outcome, Verdict)
    assert type(back.outcome.value) is float
    assert back.outcome.value == value
    result = round_trip(RunResult("e1", verdict=value), RunResult)
    assert type(result.verdict) is float


@pytest.mark.parametrize(
    ("output_type", "config", "expected"),
    [
        ("boolean", {}, {"$ai_evaluation_result": False}),  # PostHog's: readers exclude skipped runs by their flag
        ("boolean", {"allows_na": True}, {"$ai_evaluation_applicable": False}),
        ("numeric", {"min": 0, "max": 10}, {}),
        ("numeric", {"allows_na": True}, {"$ai_evaluation_applicable": False}),
        (
            "categorical",
            {"options": [{"key": "a", "label": "A"}], "selection_mode": "single"},
            {"$ai_evaluation_applicable": False},
        ),
    ],
)
def test_what_a_skipped_runs_event_says_in_place_of_a_verdict(output_type: str, config: dict[str, Any],
                                                               expected: dict[str, Any]) -> None:  # fmt: skip
    kind = OUTPUT_TYPES[output_type]
    assert kind.skipped_properties(kind.config(config)) == expected


# --- a code evaluator's return value ----------------------------------------------------------------------------

RETURNED_CATEGORIES = {"options": [{"key": "polite", "label": "Polite"}, {"key": "rude", "label": "Rude"}],
              "passing_rule": {"categories": ["polite"]}}  # fmt: skip


@pytest.mark.parametrize(
    ("output_type", "output_config", "value", "expected"),
    [
        ("boolean", {}, True, Verdict(True)),
        ("boolean", {"allows_na": True}, False, Verdict(False, applicable=True)),
        ("boolean", {"allows_na": True}, None, Verdict(None, applicable=False)),
        ("numeric", {"min": 0, "max": 10}, 7, Verdict(7.0)),
        ("numeric", {"min": 0, "max": 10}, 0, Verdict(0.0)),  # 0 is a real score
        ("numeric", {"allows_na": True}, None, Verdict(None, applicable=False)),
        ("categorical", {**RETURNED_CATEGORIES, "selection_mode": "single"}, "polite", Verdict(["polite"])),
        ("categorical", {**RETURNED_CATEGORIES, "selection_mode": "single"}, ["rude"], Verdict(["rude"])),
        (
            "categorical",
            {**RETURNED_CATEGORIES, "selection_mode": "multiple"},
            ["rude", "polite"],
            Verdict(["rude", "polite"]),
        ),
        ("categorical", {**RETURNED_CATEGORIES, "selection_mode": "multiple"}, [], Verdict([])),
    ],
)
def test_a_return_value_becomes_its_types_verdict(
    output_type: str, output_config: dict[str, Any], value: Any, expected: Verdict
) -> None:
    output = OUTPUT_TYPES[output_type]
    assert output.read_value(value, output.config(output.validate_config(output_config))) == expected


@pytest.mark.parametrize(
    ("output_type", "output_config", "value", "reason"),
    [
        ("numeric", {"min": 0, "max": 10}, 11, "score_out_of_bounds"),
        ("categorical", {**RETURNED_CATEGORIES, "selection_mode": "single"}, "grumpy", "parse_error"),
        ("categorical", {**RETURNED_CATEGORIES, "selection_mode": "multiple"}, ["rude", "rude"], "parse_error"),
        ("categorical", {**RETURNED_CATEGORIES, "selection_mode": "single"}, ["rude", "polite"], "parse_error"),
    ],
)
def test_a_return_value_outside_the_config_skips_the_run(
    output_type: str, output_config: dict[str, Any], value: Any, reason: str
) -> None:
    output = OUTPUT_TYPES[output_type]
    skipped = output.read_value(value, output.config(output.validate_config(output_config)))
    assert isinstance(skipped, Skip) and skipped.reason == reason


@pytest.mark.parametrize(
    ("output_type", "output_config", "value", "message"),
    [
        ("boolean", {}, "yes", "Must return boolean, got string: 'yes'"),
        ("boolean", {}, None, "Must return boolean, got null: null"),
        ("boolean", {"allows_na": True}, 1, "Must return boolean (or null if N/A is enabled), got integer: 1"),
        ("numeric", {}, True, "Must return a number, got boolean: True"),
        ("numeric", {}, "7", "Must return a number, got string: '7'"),
        ("numeric", {}, math.inf, "Must return a number, got float: inf"),
        (
            "categorical",
            {**RETURNED_CATEGORIES, "selection_mode": "multiple"},
            "polite",
            "Must return a list of category keys, got string: 'polite'",
        ),
        (
            "categorical",
            {**RETURNED_CATEGORIES, "selection_mode": "single"},
            [1],
            "Must return a category key or a list of category keys, got array: [1]",
        ),
    ],
)
def test_a_return_value_of_another_type_is_an_error_naming_it(
    output_type: str, output_config: dict[str, Any], value: Any, message: str
) -> None:
    output = OUTPUT_TYPES[output_type]
    with pytest.raises(ReturnTypeError) as raised:
        output.read_value(value, output.config(output.validate_config(output_config)))
    assert str(raised.value) == message
