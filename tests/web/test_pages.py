"""The web pages through Django's test client (no browser): login, logout, CSRF, the login throttle and tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from environments import services
from evaluations.models import RunStatus
from posthog_clone import embedded
from tests.evaluations.helpers import make_evaluation, make_run
from tests.support.evaluation_results import RESULTS, seed_evaluations
from tests.support.tenants import PASSWORD, Tenant

pytestmark = pytest.mark.django_db


def logged_in(tenant: Tenant) -> Client:
    browser = Client()
    response = browser.post("/login/", {"email": tenant.user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return browser


@pytest.mark.parametrize("path", ["/evaluations/", "/evaluations/0190d1a4-0000-7000-8000-000000000000/"])
def test_pages_redirect_to_the_login_form_when_logged_out(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_login_then_back_where_the_user_was_going(tenant: Tenant) -> None:
    browser = Client()
    form = browser.get("/login/?next=/evaluations/")
    assert form.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in form.content
    response = browser.post("/login/", {"email": tenant.user.email, "password": PASSWORD, "next": "/evaluations/"})
    assert response.status_code == 302
    assert response["Location"] == "/evaluations/"
    assert browser.get("/evaluations/").status_code == 200


def test_login_never_redirects_off_site(tenant: Tenant) -> None:
    response = Client().post(
        "/login/", {"email": tenant.user.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/evaluations/"


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "owner@example.com", "password": "not-the-password"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"email": "owner@example.com"},
    ],
)
def test_wrong_credentials_show_the_form_again_and_log_nobody_in(tenant: Tenant, fields: dict[str, str]) -> None:
    browser = Client()
    response = browser.post("/login/", fields)
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert "_auth_user_id" not in browser.session
    assert browser.get("/evaluations/").status_code == 302


def test_the_login_form_enforces_csrf(tenant: Tenant) -> None:
    browser = Client(enforce_csrf_checks=True)
    refused = browser.post("/login/", {"email": tenant.user.email, "password": PASSWORD})
    assert refused.status_code == 403
    assert b"The form expired" in refused.content  # the form again, not the API's JSON
    assert "_auth_user_id" not in browser.session
    browser.get("/login/")  # sets the CSRF cookie; the form carries the same token
    token = browser.cookies["csrftoken"].value
    accepted = browser.post("/login/", {"email": tenant.user.email, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302


def test_logout_needs_a_post_with_csrf_and_ends_the_session(tenant: Tenant) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/login/")
    browser.post("/login/", {"email": tenant.user.email, "password": PASSWORD,
                             "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})  # fmt: skip
    assert browser.get("/evaluations/").status_code == 200
    assert browser.get("/logout/").status_code == 405
    assert browser.post("/logout/").status_code == 403  # no token: a link elsewhere cannot log the user out
    response = browser.post("/logout/", {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert browser.get("/evaluations/").status_code == 302


def test_the_api_keeps_its_json_csrf_error(tenant: Tenant) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tenant.user)
    response = browser.post(f"/api/projects/{tenant.team.id}/evaluations/", {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["type"] == "authentication_error"


def test_the_login_form_shares_the_api_logins_throttle(tenant: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_email": ["3/minute"], "login_ip": ["100/minute"]}
    settings.RATE_LIMIT_KEY_PREFIX = f"pages-test-{tenant.user.pk}"
    browser = Client()
    api = browser.post("/api/login", {"email": tenant.user.email, "password": "wrong-password"},
                       content_type="application/json")  # fmt: skip
    assert api.status_code == 400
    for _ in range(2):
        assert browser.post("/login/", {"email": tenant.user.email, "password": "wrong-password"}).status_code == 200
    throttled = browser.post("/login/", {"email": tenant.user.email, "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert "_auth_user_id" not in browser.session


def test_one_project_opens_at_once_and_lists_its_evaluations(tenant: Tenant) -> None:
    evaluation = make_evaluation(tenant, name="Helpfulness")
    response = logged_in(tenant).get("/evaluations/")
    assert response.status_code == 200
    assert b"Helpfulness" in response.content
    assert f'href="/evaluations/{evaluation.id}/"'.encode() in response.content


def test_several_projects_get_a_picker_and_project_chooses(tenant: Tenant) -> None:
    second = services.project_create(organization=tenant.organization, name="Second", creator=tenant.user)
    make_evaluation(tenant, name="In the first")
    browser = logged_in(tenant)
    picker = browser.get("/evaluations/")
    assert picker.status_code == 200
    assert f"?project={tenant.team.id}".encode() in picker.content
    assert f"?project={second.id}".encode() in picker.content
    assert b"In the first" in browser.get(f"/evaluations/?project={tenant.team.id}").content
    assert b"In the first" not in browser.get(f"/evaluations/?project={second.id}").content


@pytest.mark.parametrize("project", ["other", "abc", "", "-1", "99999999999999999999999"])
def test_another_organizations_project_or_any_other_value_is_404(
    tenant: Tenant, other_tenant: Tenant, project: str
) -> None:
    make_evaluation(other_tenant, name="Not yours")
    value = str(other_tenant.team.id) if project == "other" else project
    response = logged_in(tenant).get(f"/evaluations/?project={value}")
    assert response.status_code == 404
    assert b"Not yours" not in response.content


def test_another_organizations_evaluation_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = make_evaluation(other_tenant, name="Not yours")
    browser = logged_in(tenant)
    for path in (f"/evaluations/{theirs.id}/", "/evaluations/not-a-uuid/"):
        response = browser.get(path)
        assert response.status_code == 404
        assert b"Not yours" not in response.content
    deleted = make_evaluation(tenant, name="Gone", deleted=True)
    assert browser.get(f"/evaluations/{deleted.id}/").status_code == 404


def test_an_evaluations_page_lists_its_latest_runs(tenant: Tenant) -> None:
    evaluation = make_evaluation(tenant, name="Correctness")
    run = make_run(tenant, evaluation, status=RunStatus.COMPLETED, result=False, verdict=False, passed=False,
                   applicable=True, reasoning="The answer says 5.")  # fmt: skip
    response = logged_in(tenant).get(f"/evaluations/{evaluation.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "The answer says 5." in body
    assert ">Fail<" in body
    assert f'href="/api/projects/{tenant.team.id}/events/{run.target_event_id}/"' in body
    assert f'data-stats-url="/api/projects/{tenant.team.id}/evaluations/{evaluation.id}/stats/?interval=day' in body


def test_seeded_results_show_on_the_pages(tenant: Tenant) -> None:
    ids = seed_evaluations(team=tenant.team, user=tenant.user)
    browser = logged_in(tenant)
    listing = browser.get("/evaluations/").content.decode()
    for output_type in RESULTS:
        assert f"{output_type.capitalize()} check" in listing
    page = browser.get(f"/evaluations/{ids['boolean']}/").content.decode()
    assert "The answer contradicts the source." in page
    assert page.count('class="result pass"') == sum(1 for r in RESULTS["boolean"] if r.value is True)
    assert page.count('class="result fail"') == sum(1 for r in RESULTS["boolean"] if r.value is False)
    assert ">N/A<" in page


def test_the_pages_show_what_they_can_when_the_events_store_is_down(tenant: Tenant, settings: Any) -> None:
    """Figures come from the events store, runs from the database: with ClickHouse unreachable, both pages still
    answer, list what they hold and say what could not be read."""
    evaluation = make_evaluation(tenant, name="Correctness")
    make_run(tenant, evaluation, status=RunStatus.COMPLETED, reasoning="The answer says 5.")
    browser = logged_in(tenant)
    settings.CLICKHOUSE_URL = f"http://127.0.0.1:{embedded.free_port()}"
    listing = browser.get("/evaluations/")
    assert listing.status_code == 200
    assert "Correctness" in listing.content.decode()
    assert (
        "The 7-day figures could not be read: The events store (ClickHouse) is unavailable" in listing.content.decode()
    )
    page = browser.get(f"/evaluations/{evaluation.id}/")
    assert page.status_code == 200
    assert "The answer says 5." in page.content.decode()
    assert "The results could not be read: The events store (ClickHouse) is unavailable" in page.content.decode()
