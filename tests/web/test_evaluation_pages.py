"""The evaluation pages in a real browser (Debian's Chromium through Playwright) against a real server: gunicorn on
127.0.0.1 over a migrated PostgreSQL database, results seeded as production records them. The user logs in through
the form, opens the list and each kind of evaluation; the chart must hold the seeded points, the tables the seeded
runs, the console no error; the page also works without JavaScript, bar the chart."""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.plugins.browser import screenshot_path
from tests.support.evaluation_results import CATEGORICAL_CONFIG, NUMERIC_CONFIG, RESULTS, noon

pytestmark = pytest.mark.xdist_group("web_browser")

# Whether a seeded value passes, by the seeded evaluations' passing rules (None: not judged).
PASSES = {
    "boolean": lambda value: value,
    "numeric": lambda value: value >= NUMERIC_CONFIG["passing_rule"]["threshold"],
    "categorical": lambda value: value in CATEGORICAL_CONFIG["passing_rule"]["categories"],
}
EMAIL, PASSWORD = "faults@example.com", "fault-tolerant"  # what tests.faults.processes.bootstrap creates


@dataclass
class Site:
    base_url: str
    project_id: int
    evaluations: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_database_module: str) -> Iterator[Site]:
    from tests.faults.processes import WebServer, bootstrap, manage, server_env

    tmp_path = tmp_path_factory.mktemp("web-pages")
    env = server_env(tmp_path, DATABASE_URL=migrated_database_module, RATE_LIMIT_ENABLED="false")
    project_id = int(bootstrap(env)["project_id"])
    try:
        seeded = manage(env, "shell", "-c", f"from tests.support.evaluation_results import main; main({project_id})")
    except subprocess.CalledProcessError as error:
        pytest.fail(f"seeding the server's database failed:\n{error.stderr}", pytrace=False)
    server = WebServer(env, workers=1, threads=4, log=tmp_path / "server.log")
    try:
        yield Site(server.base_url, project_id, json.loads(seeded.strip().splitlines()[-1]))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(browser_context: Any, site: Site) -> Iterator[Any]:
    """One tab, logged in through the form; console errors and uncaught exceptions are collected on `page.errors`."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.errors = errors
    tab.goto(f"{site.base_url}/evaluations/")
    assert tab.url == f"{site.base_url}/login/?next=/evaluations/"
    tab.fill("input[name=email]", EMAIL)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{site.base_url}/evaluations/")
    yield tab
    tab.close()


def day_of(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def seeded_days(output_type: str) -> dict[str, list[Any]]:
    days: dict[str, list[Any]] = defaultdict(list)
    for result in RESULTS[output_type]:
        days[noon(result.days_ago).date().isoformat()].append(result.value)
    return days


def drawn_chart(page: Any) -> dict[str, Any]:
    """What the chart drew: uPlot's own data arrays and series labels, for the one chart on the page."""
    page.wait_for_selector("#results-chart[data-state=ready], #results-chart[data-state=error]")
    assert page.get_attribute("#results-chart", "data-state") == "ready", page.inner_text("#results-chart")
    assert page.locator("#results-chart canvas").count() >= 1
    return page.evaluate("""() => {
        const chart = window.evaluationCharts[window.evaluationCharts.length - 1];
        return {outputType: chart.outputType, data: chart.plot.data,
                labels: chart.plot.series.map((series) => series.label)};
    }""")


def layers(chart: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The stacked bars back as each layer's own count per day (they are drawn as running totals, tallest first)."""
    x, *columns = chart["data"]
    stacked = [(label, column) for label, column in zip(chart["labels"][1:], columns, strict=True)
               if label != "Pass rate"][::-1]  # fmt: skip
    result, below = {}, [0] * len(x)
    for label, column in stacked:
        result[label] = {day_of(t): total - under for t, total, under in zip(x, column, below, strict=True)}
        below = column
    return result


def open_evaluation(page: Any, site: Site, output_type: str) -> dict[str, Any]:
    page.goto(f"{site.base_url}/evaluations/?project={site.project_id}")
    page.click(f"text={output_type.capitalize()} check")
    page.wait_for_url(f"{site.base_url}/evaluations/{site.evaluations[output_type]}/")
    return drawn_chart(page)


def test_the_list_shows_each_evaluation_with_its_last_7_days(page: Any, site: Site) -> None:
    page.goto(f"{site.base_url}/evaluations/")
    for output_type, evaluation_id in site.evaluations.items():
        row = page.locator(f"tr[data-evaluation-id='{evaluation_id}']")
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == f"{output_type.capitalize()} check"
        assert cells[1] == "Active"
        assert cells[4] == str(len(RESULTS[output_type]))
        passed, failed = (sum(1 for result in RESULTS[output_type] if PASSES[output_type](result.value) is verdict)
                          for verdict in (True, False))  # fmt: skip
        assert cells[5] == f"{100 * passed / (passed + failed):.0f}%"
        assert row.locator("svg.spark polyline").count() == 1
    assert page.errors == []


def test_a_boolean_evaluations_chart_holds_the_seeded_verdicts(page: Any, site: Site) -> None:
    chart = open_evaluation(page, site, "boolean")
    drawn = layers(chart)
    assert set(drawn) == {"Passed", "Failed", "N/A"}
    seeded = seeded_days("boolean")
    for day in drawn["Passed"]:
        values = seeded.get(day, [])
        assert drawn["Passed"][day] == values.count(True), day
        assert drawn["Failed"][day] == values.count(False), day
        assert drawn["N/A"][day] == values.count(None), day
    assert set(seeded) <= set(drawn["Passed"])
    rates = dict(zip(map(day_of, chart["data"][0]), chart["data"][chart["labels"].index("Pass rate")], strict=True))
    for day, values in seeded.items():
        judged = values.count(True) + values.count(False)
        assert rates[day] == pytest.approx(100 * values.count(True) / judged, abs=1e-3), day

    breakdown = {row[0]: row for row in table(page, "table.breakdown")}
    models = Counter(result.model for result in RESULTS["boolean"])
    assert {model: int(row[1]) for model, row in breakdown.items()} == dict(models)
    runs = table(page, "table.runs")
    assert len(runs) == len(RESULTS["boolean"])
    assert Counter(row[2] for row in runs) == {"Pass": 5, "Fail": 3, "N/A": 1}
    assert any("The answer contradicts the source." in row[3] for row in runs)
    assert page.errors == []

    picture = page.screenshot(full_page=True)
    assert picture[:8] == b"\x89PNG\r\n\x1a\n"
    if (docs := screenshot_path()) is not None:
        docs.mkdir(exist_ok=True)
        (docs / "evaluation-page.png").write_bytes(picture)


def test_a_numeric_evaluations_chart_holds_the_seeded_scores(page: Any, site: Site) -> None:
    chart = open_evaluation(page, site, "numeric")
    x, *columns = chart["data"]
    drawn = {label: dict(zip(map(day_of, x), column, strict=True))
             for label, column in zip(chart["labels"][1:], columns, strict=True)}  # fmt: skip
    assert set(drawn) == {"Mean", "p50", "p90"}
    breakdown = {row[0]: row[1:4] for row in table(page, "table.breakdown")}
    by_model: dict[str, list[float]] = defaultdict(list)
    for result in RESULTS["numeric"]:
        by_model[result.model].append(result.value)
    assert breakdown == {model: [str(len(values)), str(sum(PASSES["numeric"](v) for v in values)),
                                 str(sum(not PASSES["numeric"](v) for v in values))]
                         for model, values in by_model.items()}  # fmt: skip
    for day, mean in drawn["Mean"].items():
        values = seeded_days("numeric").get(day)
        if not values:
            assert mean is None, day
            continue
        assert mean == pytest.approx(statistics.fmean(values)), day
        assert min(values) <= drawn["p50"][day] <= drawn["p90"][day] <= max(values), day
    assert page.errors == []


def test_a_categorical_evaluations_chart_stacks_each_key(page: Any, site: Site) -> None:
    drawn = layers(open_evaluation(page, site, "categorical"))
    assert set(drawn) == {"helpful", "neutral", "harmful"}
    seeded = seeded_days("categorical")
    for key, days in drawn.items():
        for day, count in days.items():
            assert count == seeded.get(day, []).count(key), (key, day)
    assert page.errors == []


def test_the_event_link_answers_the_target_event_as_json(page: Any, site: Site) -> None:
    open_evaluation(page, site, "boolean")
    link = page.locator("table.runs a").first.get_attribute("href")
    assert link.startswith(f"/api/projects/{site.project_id}/events/")
    page.goto(f"{site.base_url}{link}")  # the events API, with the page's session
    event = json.loads(page.inner_text("body"))
    assert event["event"] == "$ai_generation"
    assert link.rstrip("/").endswith(event["id"])


def test_the_pages_work_without_javascript_bar_the_chart(site: Site, browser_context: Any) -> None:
    session = {c["name"]: c["value"] for c in browser_context.cookies() if c["name"] == "sessionid"}
    response = requests.get(f"{site.base_url}/evaluations/{site.evaluations['boolean']}/", cookies=session, timeout=10)
    assert response.status_code == 200
    assert "<noscript>" in response.text
    assert "The answer contradicts the source." in response.text
    uplot = requests.get(f"{site.base_url}/static/pages/vendor/uplot/uPlot.iife.min.js", timeout=10)
    assert uplot.status_code == 200
    assert uplot.text.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")


def table(page: Any, selector: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in page.locator(f"{selector} tbody tr").all()]
