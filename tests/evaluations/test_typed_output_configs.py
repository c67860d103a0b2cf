"""`numeric` and `categorical` output configs through the API: what is stored, and every invalid config a 400 in
PostHog's shape (`attr: "config"`) whose detail names the field."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from evaluations.models import Evaluation
from tests.evaluations.helpers import make_evaluation
from tests.support.errors import assert_error
from tests.support.tenants import Tenant

OPTIONS = [{"key": "on_topic", "label": "On topic"}, {"key": "off-topic", "label": "Off topic"}]


def payload(output_type: str, output_config: Any) -> dict[str, Any]:
    return {
        "name": "Typed",
        "evaluation_type": "llm_judge",
        "evaluation_config": {"prompt": "Judge it."},
        "output_type": output_type,
        "output_config": output_config,
    }


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:write")


@pytest.fixture
def url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team.id}/evaluations/"


NUMERIC_PREFIX = "Invalid config for llm_judge/numeric: output_config."
CATEGORICAL_PREFIX = "Invalid config for llm_judge/categorical: output_config."


@pytest.mark.parametrize(
    ("output_config", "detail"),
    [
        ({"min": 10, "max": 0}, "max: Minimum must be less than or equal to maximum (10 > 0)."),
        ({"min": True}, "min: Enter a finite number"),
        ({"max": "10"}, "max: Enter a finite number"),
        ({"step": [1]}, "step: Enter a finite number"),
        ({"step": 0}, "step: Step must be greater than zero."),
        ({"step": -0.5}, "step: Step must be greater than zero."),
        ({"allows_na": "no"}, "allows_na: Input should be a valid boolean"),
        ({"passing_rule": {"operator": "gt", "threshold": 1}}, "passing_rule.operator: Input should be 'gte' or 'lte'"),
        ({"passing_rule": {"threshold": 1}}, "passing_rule.operator is required"),
        ({"passing_rule": {"operator": "gte"}}, "passing_rule.threshold is required"),
        ({"passing_rule": {"operator": "gte", "threshold": None}}, "passing_rule.threshold: Enter a finite number"),
        ({"passing_rule": {"operator": "gte", "threshold": False}}, "passing_rule.threshold: Enter a finite number"),
        (
            {"passing_rule": {"operator": "lte", "threshold": 1, "x": 1}},
            "passing_rule.x: Extra inputs are not permitted",
        ),
        ({"passing_rule": "gte 7"}, "passing_rule: Input should be a valid dictionary or instance of PassingRule"),
        (
            {"min": 0, "max": 10, "passing_rule": {"operator": "gte", "threshold": 11}},
            "passing_rule: Set the passing threshold within the score bounds (11 is outside [0, 10]).",
        ),
        (
            {"min": 0, "passing_rule": {"operator": "lte", "threshold": -1}},
            "passing_rule: Set the passing threshold within the score bounds (-1 is outside [0, unbounded]).",
        ),
        ({"scale": 10}, "scale: Extra inputs are not permitted"),
    ],
)
def test_invalid_numeric_configs(api: APIClient, url: str, output_config: dict[str, Any], detail: str) -> None:
    response = api.post(url, payload("numeric", output_config), format="json")
    assert_error(response, type="validation_error", code="invalid_input", attr="config",
                 detail=NUMERIC_PREFIX + detail)  # fmt: skip
    assert not Evaluation.objects.exists()


def categorical(**overrides: Any) -> dict[str, Any]:
    return {"options": OPTIONS, "selection_mode": "single", **overrides}


@pytest.mark.parametrize(
    ("output_config", "detail"),
    [
        ({"selection_mode": "single"}, "options is required"),
        (categorical(options=[]), "options: Add at least one category."),
        (
            categorical(options=[{"key": f"k{n}", "label": "K"} for n in range(101)]),
            "options: At most 100 categories are allowed; got 101.",
        ),
        (
            categorical(options=[{"key": "Polite", "label": "Polite"}]),
            "options.0.key: Give each category a key using lowercase letters, numbers, underscores, or hyphens "
            "(at most 128 characters; got 'Polite')",
        ),
        (
            categorical(options=[{"key": "a b", "label": "A"}]),
            "options.0.key: Give each category a key using lowercase letters, numbers, underscores, or hyphens "
            "(at most 128 characters; got 'a b')",
        ),
        (
            categorical(options=[*OPTIONS, {"key": "on_topic", "label": "Again"}]),
            "options: Use a different key for each category (repeated: on_topic).",
        ),
        (
            categorical(options=[{"key": "a", "label": "  "}]),
            "options.0.label: Give each category a label (at most 256 characters).",
        ),
        (categorical(options=[{"key": "a"}]), "options.0.label is required"),
        (
            categorical(options=[{"key": "a", "label": "A", "color": "red"}]),
            "options.0.color: Extra inputs are not permitted",
        ),
        ({"options": OPTIONS}, "selection_mode is required"),
        (categorical(selection_mode="any"), "selection_mode: Input should be 'single' or 'multiple'"),
        (
            categorical(passing_rule={"categories": ["polite"]}),
            "passing_rule: Choose passing categories from the configured categories (not among them: polite).",
        ),
        (
            categorical(passing_rule={"categories": ["on_topic", "on_topic"]}),
            "passing_rule: Name each passing category once.",
        ),
        (
            categorical(passing_rule={"categories": []}),
            "passing_rule: Choose at least one passing category for single selection.",
        ),
        (categorical(passing_rule={}), "passing_rule.categories is required"),
        (categorical(min_selections=1), "min_selections: Extra inputs are not permitted"),
    ],
)
def test_invalid_categorical_configs(api: APIClient, url: str, output_config: dict[str, Any], detail: str) -> None:
    response = api.post(url, payload("categorical", output_config), format="json")
    assert_error(response, type="validation_error", code="invalid_input", attr="config",
                 detail=CATEGORICAL_PREFIX + detail)  # fmt: skip
    assert not Evaluation.objects.exists()


def test_categorical_needs_a_config(api: APIClient, url: str) -> None:
    body = payload("categorical", None)
    del body["output_config"]
    assert_error(api.post(url, body, format="json"), attr="config", detail=CATEGORICAL_PREFIX + "options is required")


def test_unknown_output_type(api: APIClient, url: str) -> None:
    assert_error(api.post(url, payload("score", {}), format="json"), attr="output_type", code="invalid_choice")


@pytest.mark.parametrize(
    ("output_type", "output_config", "stored"),
    [
        (
            "numeric",
            {"min": 0, "max": 10, "passing_rule": {"operator": "gte", "threshold": 7}},
            {"min": 0, "max": 10, "allows_na": False, "passing_rule": {"operator": "gte", "threshold": 7}},
        ),
        ("numeric", {}, {"allows_na": False}),
        ("numeric", {"min": None, "step": 0.5, "passing_rule": None}, {"step": 0.5, "allows_na": False}),
        ("numeric", {"min": -1.5, "max": -1.5, "allows_na": True}, {"min": -1.5, "max": -1.5, "allows_na": True}),
        (
            "categorical",
            categorical(passing_rule={"categories": ["on_topic"]}),
            {
                "options": OPTIONS,
                "selection_mode": "single",
                "allows_na": False,
                "passing_rule": {"categories": ["on_topic"]},
            },
        ),
        (
            "categorical",
            categorical(selection_mode="multiple", passing_rule={"categories": []}, allows_na=None),
            {"options": OPTIONS, "selection_mode": "multiple", "allows_na": False, "passing_rule": {"categories": []}},
        ),
    ],
)
def test_valid_configs_are_stored_normalised(
    api: APIClient, url: str, output_type: str, output_config: dict[str, Any], stored: dict[str, Any]
) -> None:
    response = api.post(url, payload(output_type, output_config), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["output_config"] == stored
    assert Evaluation.objects.get().output_config == stored


def test_changing_the_output_type_checks_the_stored_config(api: APIClient, url: str, tenant: Tenant) -> None:
    evaluation = make_evaluation(tenant)
    response = api.patch(f"{url}{evaluation.id}/", {"output_type": "categorical"}, format="json")
    assert_error(response, attr="config", detail=CATEGORICAL_PREFIX + "options is required")
    response = api.patch(f"{url}{evaluation.id}/", {"output_type": "numeric"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["output_config"] == {"allows_na": False}
    response = api.patch(f"{url}{evaluation.id}/", {"output_config": {"min": 3, "max": 1}}, format="json")
    assert_error(response, attr="config", detail=NUMERIC_PREFIX + "max: Minimum must be less than or equal to "
                                                                   "maximum (3 > 1).")  # fmt: skip


def test_the_schema_documents_every_output_config(client: APIClient, db: None) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    evaluation = schema["components"]["schemas"]["Evaluation"]["properties"]
    assert set(evaluation["output_type"].get("enum") or schema["components"]["schemas"]["OutputTypeEnum"]["enum"]) == {
        "boolean", "numeric", "categorical"}  # fmt: skip
    shapes = {option["title"]: option for option in evaluation["output_config"]["anyOf"]}
    assert set(shapes) == {"BooleanOutputConfig", "NumericOutputConfig", "CategoricalOutputConfig"}
    numeric = shapes["NumericOutputConfig"]
    assert numeric["additionalProperties"] is False
    assert numeric["properties"]["passing_rule"]["properties"]["operator"]["enum"] == ["gte", "lte"]
    assert numeric["properties"]["min"] == {"title": "Min", "type": "number", "nullable": True}
    options = shapes["CategoricalOutputConfig"]["properties"]["options"]
    assert (options["minItems"], options["maxItems"]) == (1, 100)
    assert options["items"]["properties"]["key"]["pattern"] == r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"
    assert "$ref" not in str(shapes) and "$defs" not in str(shapes)


def test_the_schema_documents_typed_run_results(client: APIClient, db: None) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()
    run = schema["components"]["schemas"]["EvaluationRun"]
    properties = run["properties"]
    assert properties["result"]["nullable"] is True
    assert properties["result"]["oneOf"] == [
        {"type": "boolean"},
        {"type": "number"},
        {"type": "array", "items": {"type": "string"}},
    ]
    assert properties["passed"]["nullable"] is True
    assert properties["verdict"]["nullable"] is True
    assert properties["result_type"]["nullable"] is True
    assert {"result_type", "result", "passed"} <= set(run.get("required", []))
