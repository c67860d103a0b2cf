"""`evaluations/{id}/stats/` and the list's `?include=stats_7d`: results counted from `$ai_evaluation` events, the
same numbers on every events store (each test runs on PostgreSQL, ClickHouse's engine in process, and ClickHouse
over HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from evaluations.models import Evaluation
from events.records import EventInput
from events.services import events_capture
from events.stores import events_store
from events.stores.base import EVALUATION_PROPERTIES
from events.stores.clickhouse_schema import materialize_properties
from posthog_clone.ids import uuid7
from tests.evaluations.helpers import make_evaluation
from tests.support.errors import assert_error
from tests.support.tenants import Tenant

pytestmark = pytest.mark.usefixtures("events_backend")

DAY_1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RANGE = {"date_from": "2026-11-02T00:00:00Z", "date_to": "2026-11-05T00:00:00Z"}
ZERO = {"runs": 0, "passed": 0, "failed": 0, "na": 0, "skipped": 0, "errored": 0, "pass_rate": None}


def result_event(evaluation: Evaluation, when: datetime, **properties: Any) -> EventInput:
    """An `$ai_evaluation` event as runs emit it (the verdict's properties given by the test)."""
    return EventInput(
        uuid=uuid7(),
        event="$ai_evaluation",
        distinct_id="user-1",
        properties={
            "$ai_evaluation_id": str(evaluation.id),
            "$ai_evaluation_name": evaluation.name,
            "$ai_evaluation_result_type": evaluation.output_type,
            "$ai_target_event_id": str(uuid.uuid4()),
            "$ai_evaluation_trigger": "online",
            **properties,
        },
        timestamp=when,
    )


def seed(tenant: Tenant, *events: EventInput) -> None:
    events_capture(team=tenant.team, events=list(events))


def skipped(reason: str, **properties: Any) -> dict[str, Any]:
    return {"$ai_evaluation_skipped": True, "$ai_evaluation_skip_reason": reason, **properties}


@pytest.fixture
def property_columns(request: pytest.FixtureRequest, events_backend: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """ClickHouse reads the evaluation's properties from its events' JSON, or from materialised columns when they are
    listed in CLICKHOUSE_MATERIALIZED_PROPERTIES: the same answers either way (PostgreSQL has JSON only)."""
    if request.param == "json":
        return "json"
    store = events_store()
    materialize_properties(store.client, EVALUATION_PROPERTIES)
    monkeypatch.setattr(store.dialect, "materialized", store.dialect.materialized | set(EVALUATION_PROPERTIES))
    return "materialized"


# Each store, and ClickHouse's both with and without the evaluation's properties in materialised columns.
READINGS = [("postgres", "json")] + [(store, columns) for store in ("clickhouse", "clickhouse-http")
                                     for columns in ("json", "materialized")]  # fmt: skip
EVERY_READING = pytest.mark.parametrize(("events_backend", "property_columns"), READINGS, indirect=True)


@pytest.fixture
def api(key_client: Any) -> APIClient:
    return key_client("evaluation:read")


def stats_url(tenant: Tenant, evaluation: Evaluation) -> str:
    return f"/api/environments/{tenant.team.id}/evaluations/{evaluation.id}/stats/"


def get_stats(api: APIClient, tenant: Tenant, evaluation: Evaluation, **params: str) -> dict[str, Any]:
    response = api.get(stats_url(tenant, evaluation), {**RANGE, **params})
    assert response.status_code == 200, response.content[:1000]
    return response.json()


def counts(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in ZERO}


@pytest.fixture
def boolean_evaluation(tenant: Tenant) -> Evaluation:
    """Day 1: 3 passed (2 by model a), 1 failed (model b), 1 N/A, 1 skipped, 1 errored; day 2 nothing; day 3: 1
    passed by hand, and 1 failed by a backfill whose event predates `$ai_evaluation_trigger`."""
    evaluation = make_evaluation(tenant, output_config={"allows_na": True})
    day_3 = DAY_1 + timedelta(days=2)
    seed(
        tenant,
        result_event(evaluation, DAY_1, **{"$ai_evaluation_result": True, "$ai_model": "a"}),
        result_event(evaluation, DAY_1 + timedelta(minutes=1), **{"$ai_evaluation_result": True, "$ai_model": "a"}),
        result_event(evaluation, DAY_1 + timedelta(minutes=2), **{"$ai_evaluation_result": True}),
        result_event(evaluation, DAY_1 + timedelta(minutes=3), **{"$ai_evaluation_result": False, "$ai_model": "b"}),
        result_event(
            evaluation, DAY_1 + timedelta(minutes=4), **{"$ai_evaluation_applicable": False, "$ai_model": "a"}
        ),
        # A skipped boolean run without N/A still says false: the skip flag decides.
        result_event(
            evaluation,
            DAY_1 + timedelta(minutes=5),
            **skipped("unparsable_response", **{"$ai_evaluation_result": False}),
        ),
        result_event(evaluation, DAY_1 + timedelta(minutes=6), **skipped("hog_error")),
        result_event(
            evaluation, day_3, **{"$ai_evaluation_result": True, "$ai_evaluation_trigger": "manual", "$ai_model": "b"}
        ),
        EventInput(
            uuid=uuid7(),
            event="$ai_evaluation",
            distinct_id="u",
            timestamp=day_3 + timedelta(hours=1),
            properties={
                "$ai_evaluation_id": str(evaluation.id),
                "$ai_evaluation_result": False,
                "$ai_evaluation_backfill_id": str(uuid.uuid4()),
            },
        ),
        # Not counted: another evaluation's result, another event, and a result outside the range.
        result_event(make_evaluation(tenant), DAY_1, **{"$ai_evaluation_result": True}),
        EventInput(
            uuid=uuid7(),
            event="$ai_generation",
            distinct_id="u",
            timestamp=DAY_1,
            properties={"$ai_evaluation_id": str(evaluation.id), "$ai_evaluation_result": True},
        ),
        result_event(evaluation, DAY_1 - timedelta(days=1), **{"$ai_evaluation_result": True}),
    )
    return evaluation


@EVERY_READING
@pytest.mark.usefixtures("property_columns")
class TestBoolean:
    def test_by_day_with_empty_days(self, api: APIClient, tenant: Tenant, boolean_evaluation: Evaluation) -> None:
        body = get_stats(api, tenant, boolean_evaluation)
        assert {key: value for key, value in body.items() if key != "series"} == {
            "evaluation_id": str(boolean_evaluation.id),
            "output_type": "boolean",
            "interval": "day",
            "date_from": "2026-11-02T00:00:00+00:00",
            "date_to": "2026-11-05T00:00:00+00:00",
            "timezone": "UTC",
            "breakdown": None,
        }
        assert body["series"] == [
            {"date": "2026-11-02T00:00:00+00:00", "breakdown_value": None, "runs": 7, "passed": 3, "failed": 1,
             "na": 1, "skipped": 1, "errored": 1, "pass_rate": 0.75},
            {"date": "2026-11-03T00:00:00+00:00", "breakdown_value": None, **ZERO},
            {"date": "2026-11-04T00:00:00+00:00", "breakdown_value": None, "runs": 2, "passed": 1, "failed": 1,
             "na": 0, "skipped": 0, "errored": 0, "pass_rate": 0.5},
        ]  # fmt: skip

    def test_by_property_breakdown(self, api: APIClient, tenant: Tenant, boolean_evaluation: Evaluation) -> None:
        body = get_stats(api, tenant, boolean_evaluation, breakdown="$ai_model", interval="week")
        assert body["breakdown"] == "$ai_model"
        # One week (from Sunday 1 November); values by runs, then the runs without one.
        assert [(item["date"], item["breakdown_value"]) for item in body["series"]] == [
            ("2026-11-01T00:00:00+00:00", "a"), ("2026-11-01T00:00:00+00:00", "b"),
            ("2026-11-01T00:00:00+00:00", None)]  # fmt: skip
        assert [counts(item) for item in body["series"]] == [
            {"runs": 3, "passed": 2, "failed": 0, "na": 1, "skipped": 0, "errored": 0, "pass_rate": 1.0},
            {"runs": 2, "passed": 1, "failed": 1, "na": 0, "skipped": 0, "errored": 0, "pass_rate": 0.5},
            # The week starts before date_from: the result of 1 November counts too.
            {"runs": 5, "passed": 2, "failed": 1, "na": 0, "skipped": 1, "errored": 1, "pass_rate": 0.666667},
        ]  # fmt: skip
        assert body["date_from"] == "2026-11-01T00:00:00+00:00"  # moved back to the start of its week

    def test_hogql_breakdown(self, api: APIClient, tenant: Tenant, boolean_evaluation: Evaluation) -> None:
        body = get_stats(api, tenant, boolean_evaluation, breakdown="concat('m-', coalesce(properties.$ai_model, '?'))",
                         date_from="2026-11-04T00:00:00Z")  # fmt: skip
        assert [(item["breakdown_value"], item["runs"]) for item in body["series"]] == [("m-?", 1), ("m-b", 1)]

    def test_top_values_and_other(self, api: APIClient, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        # v00 has 3 runs over two days, v01 2, then v02…v27 one each: v02…v24 by name complete the 25, the rest is
        # $other; runs without a value are their own group.
        runs = [("v00", 0), ("v00", 1), ("v00", 1), ("v01", 0), ("v01", 0), *((f"v{i:02}", 0) for i in range(2, 28))]
        seed(
            tenant,
            *(result_event(evaluation, DAY_1 + timedelta(days=day), **{"$ai_evaluation_result": n % 2 == 0,
                                                                       "$ai_evaluation_variant": value})
              for n, (value, day) in enumerate(runs)),
            result_event(evaluation, DAY_1, **{"$ai_evaluation_result": True}),
        )  # fmt: skip
        series = get_stats(api, tenant, evaluation, breakdown="$ai_evaluation_variant", date_to="2026-11-04")["series"]
        values = [*(f"v{i:02}" for i in range(25)), None, "$other"]
        assert [item["breakdown_value"] for item in series] == values * 2
        first_day, second_day = series[:27], series[27:]
        assert [item["runs"] for item in first_day] == [1, 2, *[1] * 23, 1, 3]
        assert [item["runs"] for item in second_day] == [2, *[0] * 26]
        assert (first_day[-1]["passed"], first_day[-1]["failed"]) == (2, 1)  # v25, v27 passed; v26 failed

    @pytest.mark.parametrize(("trigger", "runs"), [("online", 8), ("manual", 1), ("backfill", 1)])
    def test_trigger(self, api: APIClient, tenant: Tenant, boolean_evaluation: Evaluation, trigger: str,
                     runs: int) -> None:  # fmt: skip
        body = get_stats(api, tenant, boolean_evaluation, trigger=trigger, interval="month")
        assert [(item["date"], item["runs"]) for item in body["series"]] == [("2026-11-01T00:00:00+00:00", runs)]

    def test_intervals_in_the_projects_time_zone(self, api: APIClient, tenant: Tenant) -> None:
        tenant.team.timezone = "Asia/Kolkata"  # +05:30: hours and days start on the half hour in UTC
        tenant.team.save()
        evaluation = make_evaluation(tenant)
        seed(tenant, result_event(evaluation, datetime(2026, 11, 2, 18, 29, tzinfo=UTC), **{"$ai_evaluation_result": True}),
             result_event(evaluation, datetime(2026, 11, 2, 18, 31, tzinfo=UTC), **{"$ai_evaluation_result": False}))  # fmt: skip
        body = get_stats(api, tenant, evaluation, date_from="2026-11-02T00:00:00", date_to="2026-11-04T00:00:00")
        assert body["timezone"] == "Asia/Kolkata"
        assert [(item["date"], item["passed"], item["failed"]) for item in body["series"]] == [
            ("2026-11-02T00:00:00+05:30", 1, 0), ("2026-11-03T00:00:00+05:30", 0, 1)]  # fmt: skip
        hours = get_stats(api, tenant, evaluation, interval="hour", date_from="2026-11-02T23:00:00",
                          date_to="2026-11-03T01:00:00")["series"]  # fmt: skip
        assert [(item["date"], item["runs"]) for item in hours] == [
            ("2026-11-02T23:00:00+05:30", 1), ("2026-11-03T00:00:00+05:30", 1)]  # fmt: skip


@EVERY_READING
@pytest.mark.usefixtures("property_columns")
class TestNumeric:
    def test_numbers_and_top_values(self, api: APIClient, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, output_type="numeric", output_config={
            "min": 0, "max": 10, "allows_na": True, "passing_rule": {"operator": "gte", "threshold": 3}})  # fmt: skip
        scores = [1, 2, 3, 4, 10]
        seed(
            tenant,
            *(
                result_event(
                    evaluation,
                    DAY_1 + timedelta(minutes=i),
                    **{
                        "$ai_evaluation_numeric_result": score,
                        "$ai_evaluation_passed": score >= 3,
                        "$ai_evaluation_variant": f"v{i:02}",
                    },
                )
                for i, score in enumerate(scores)
            ),
            # 22 more values with one run each (26 in all, with the N/A's): the last by name is folded into $other.
            *(
                result_event(
                    evaluation,
                    DAY_1 + timedelta(hours=1),
                    **{
                        "$ai_evaluation_numeric_result": 5.5,
                        "$ai_evaluation_passed": True,
                        "$ai_evaluation_variant": f"v{i:02}",
                    },
                )
                for i in range(5, 26)
            ),
            result_event(evaluation, DAY_1, **{"$ai_evaluation_applicable": False, "$ai_evaluation_variant": "v00"}),
            result_event(evaluation, DAY_1, **skipped("score_out_of_bounds", **{"$ai_evaluation_variant": "v26"})),
        )
        body = get_stats(api, tenant, evaluation, date_to="2026-11-03T00:00:00Z")
        [day] = body["series"]
        assert {name: day[name] for name in ("runs", "passed", "failed", "na", "skipped", "errored", "pass_rate")} == {
            "runs": 28, "passed": 24, "failed": 2, "na": 1, "skipped": 1, "errored": 0, "pass_rate": 0.923077}  # fmt: skip
        values = scores + [5.5] * 21
        assert (day["min"], day["max"]) == (1.0, 10.0)
        assert day["mean"] == round(sum(values) / len(values), 6)
        assert (day["p50"], day["p90"]) == (5.5, 5.5)

        first = get_stats(api, tenant, evaluation, date_to="2026-11-02T10:30:00Z")["series"]
        assert {name: first[0][name] for name in ("mean", "p50", "p90", "min", "max")} == {
            "mean": 4.0, "p50": 3.0, "p90": 7.6, "min": 1.0, "max": 10.0}  # fmt: skip

        broken = get_stats(api, tenant, evaluation, date_to="2026-11-03T00:00:00Z",
                           breakdown="$ai_evaluation_variant")["series"]  # fmt: skip
        values_seen = [item["breakdown_value"] for item in broken]
        # v00 has two runs; the rest one each, by name; v26 and beyond fold into $other.
        assert values_seen == ["v00", *(f"v{i:02}" for i in range(1, 25)), "$other"]
        assert (broken[0]["runs"], broken[0]["na"], broken[-1]["runs"], broken[-1]["skipped"]) == (2, 1, 2, 1)
        assert broken[-1]["mean"] == 5.5
        assert broken[-1]["p50"] == 5.5

    def test_interval_without_runs_has_no_numbers(self, api: APIClient, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, output_type="numeric", output_config={"min": 0, "max": 1})
        [item] = get_stats(api, tenant, evaluation, date_to="2026-11-02T12:00:00Z")["series"]
        assert item == {"date": "2026-11-02T00:00:00+00:00", "breakdown_value": None, **ZERO, "mean": None,
                        "p50": None, "p90": None, "min": None, "max": None}  # fmt: skip


@EVERY_READING
@pytest.mark.usefixtures("property_columns")
class TestCategorical:
    def test_categories_per_interval(self, api: APIClient, tenant: Tenant) -> None:
        categories = [{"key": "good", "label": "Good"}, {"key": "ok", "label": "OK"}, {"key": "bad", "label": "Bad"}]
        evaluation = make_evaluation(tenant, output_type="categorical", output_config={
            "options": categories, "selection_mode": "multiple", "allows_na": True,
            "passing_rule": {"categories": ["good", "ok"]}})  # fmt: skip

        def verdict(keys: list[str], passed: bool) -> dict[str, Any]:
            return {"$ai_evaluation_categorical_result": keys, "$ai_evaluation_applicable": True,
                    "$ai_evaluation_passed": passed}  # fmt: skip

        seed(
            tenant,
            result_event(evaluation, DAY_1, **verdict(["good"], True)),
            result_event(evaluation, DAY_1, **verdict(["good", "ok"], True)),
            result_event(evaluation, DAY_1, **verdict(["bad", "good"], False)),
            result_event(evaluation, DAY_1, **{"$ai_evaluation_applicable": False}),
            result_event(evaluation, DAY_1, **skipped("invalid_categories", **{"$ai_evaluation_applicable": False})),
            result_event(evaluation, DAY_1, **skipped("quota_error", **{"$ai_evaluation_applicable": False})),
            result_event(evaluation, DAY_1 + timedelta(days=1), **verdict(["ok"], True)),
        )
        series = get_stats(api, tenant, evaluation, date_to="2026-11-04T00:00:00Z")["series"]
        assert [counts(item) for item in series] == [
            {"runs": 6, "passed": 2, "failed": 1, "na": 1, "skipped": 1, "errored": 1, "pass_rate": 0.666667},
            {"runs": 1, "passed": 1, "failed": 0, "na": 0, "skipped": 0, "errored": 0, "pass_rate": 1.0},
        ]  # fmt: skip
        assert [item["categories"] for item in series] == [
            {"good": 3, "ok": 1, "bad": 1},
            {"good": 0, "ok": 1, "bad": 0},
        ]
        assert "mean" not in series[0]


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "attr"),
        [
            ({"interval": "minute"}, "interval"),
            ({"date_from": "2026-11-05T00:00:00Z", "date_to": "2026-11-02T00:00:00Z"}, "date_from"),
            ({"date_from": "not a date"}, "date_from"),
            ({"date_from": "2024-01-01T00:00:00Z", "date_to": "2026-01-01T00:00:00Z", "interval": "hour"}, "interval"),
            ({"trigger": "scheduled"}, "trigger"),
        ],
    )
    def test_invalid_parameters(self, api: APIClient, tenant: Tenant, params: dict[str, str], attr: str) -> None:
        evaluation = make_evaluation(tenant)
        assert_error(api.get(stats_url(tenant, evaluation), {**RANGE, **params}), type="validation_error",
                     code="invalid_input", attr=attr)  # fmt: skip

    def test_ten_thousand_intervals_are_allowed(self, api: APIClient, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        start = datetime(2025, 1, 1, tzinfo=UTC)
        body = get_stats(api, tenant, evaluation, interval="hour", date_from=start.isoformat(),
                         date_to=(start + timedelta(hours=10_000)).isoformat())  # fmt: skip
        assert len(body["series"]) == 10_000

    @pytest.mark.parametrize("breakdown", ["concat(properties.a,", "count()", "no_such_function(properties.a)"])  # fmt: skip
    def test_breakdown_that_does_not_compile(self, api: APIClient, tenant: Tenant, breakdown: str) -> None:
        evaluation = make_evaluation(tenant)
        body = assert_error(api.get(stats_url(tenant, evaluation), {**RANGE, "breakdown": breakdown}), attr="breakdown")
        assert body["type"] == "validation_error"

    def test_person_breakdown(self, api: APIClient, tenant: Tenant, boolean_evaluation: Evaluation) -> None:
        series = get_stats(api, tenant, boolean_evaluation, breakdown="person.properties.email", interval="month")[
            "series"
        ]
        assert [(item["breakdown_value"], item["runs"]) for item in series] == [(None, 10)]

    def test_another_projects_evaluation_is_404(self, api: APIClient, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = make_evaluation(other_tenant)
        assert_error(api.get(f"/api/environments/{tenant.team.id}/evaluations/{theirs.id}/stats/"), 404)

    def test_deleted_evaluation_is_404(self, api: APIClient, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant, deleted=True)
        assert_error(api.get(stats_url(tenant, evaluation)), 404)

    def test_needs_evaluation_read_scope(self, key_client: Any, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        body = assert_error(key_client("event:read").get(stats_url(tenant, evaluation)), 403)
        assert body["detail"] == "API key missing required scope 'evaluation:read'"

    def test_default_range_is_the_last_seven_days(self, api: APIClient, tenant: Tenant) -> None:
        evaluation = make_evaluation(tenant)
        seed(tenant, result_event(evaluation, timezone.now() - timedelta(minutes=5), **{"$ai_evaluation_result": True}))
        response = api.get(stats_url(tenant, evaluation))
        assert response.status_code == 200
        series = response.json()["series"]
        assert len(series) == 8  # from the start of the day 7 days ago through today
        assert series[-1]["passed"] == 1


class TestStats7d:
    def test_one_store_query_per_page(self, api: APIClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
        now = timezone.now()
        busy, quiet, _idle = (make_evaluation(tenant, name=name) for name in ("Busy", "Quiet", "Idle"))
        busy_times = [now - timedelta(days=2, minutes=i) for i in range(8)]
        seed(
            tenant,
            *(result_event(busy, when, **{"$ai_evaluation_result": i % 4 != 0}) for i, when in enumerate(busy_times)),
            result_event(busy, now, **{"$ai_evaluation_applicable": False}),
            result_event(quiet, now - timedelta(days=5), **{"$ai_evaluation_result": False}),
            result_event(quiet, now - timedelta(days=8), **{"$ai_evaluation_result": True}),  # before the 7 days
        )
        daily = [0] * 7  # the project is on UTC: days by UTC date, today last
        for when in [*busy_times, now]:
            daily[6 - (now.date() - when.date()).days] += 1
        store = events_store()
        calls = []
        counted = type(store).evaluation_stats

        def counting(self: Any, query: Any) -> Any:
            calls.append(query)
            return counted(self, query)

        monkeypatch.setattr(type(store), "evaluation_stats", counting)
        response = api.get(f"/api/environments/{tenant.team.id}/evaluations/", {"include": "stats_7d"})
        assert response.status_code == 200
        assert len(calls) == 1
        by_name = {row["name"]: row["stats_7d"] for row in response.json()["results"]}
        assert by_name["Busy"] == {"runs": 9, "passed": 6, "failed": 2, "na": 1, "pass_rate": 0.75, "daily": daily}
        assert {key: by_name["Quiet"][key] for key in ("runs", "failed", "pass_rate")} == {
            "runs": 1, "failed": 1, "pass_rate": 0.0}  # fmt: skip
        assert by_name["Idle"] == {"runs": 0, "passed": 0, "failed": 0, "na": 0, "pass_rate": None, "daily": [0] * 7}

    def test_without_include_there_is_no_query(self, api: APIClient, tenant: Tenant,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        make_evaluation(tenant)
        calls = []
        store = events_store()
        monkeypatch.setattr(type(store), "evaluation_stats", lambda self, query: calls.append(query))
        response = api.get(f"/api/environments/{tenant.team.id}/evaluations/")
        assert response.status_code == 200
        assert "stats_7d" not in response.json()["results"][0]
        assert calls == []
