"""The web pages: a login form and the evaluations' results. Server-rendered and usable without JavaScript; only
the results chart is drawn in the browser, from the same `stats/` endpoint the API serves."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from environments.api.throttling import login_wait
from evaluations.models import Evaluation
from pages import presenters, selectors
from pages.forms import LoginForm
from posthog_clone.api.exceptions import json_csrf_failure
from posthog_clone.client_address import client_address
from posthog_clone.errors import DomainError
from posthog_clone.rate_limits import retry_after

RUNS_SHOWN = 25
# What the chart asks `stats/` for; the breakdown table reads the same range by model.
CHART_PARAMS = {"interval": "day", "date_from": "-30d"}
BREAKDOWN = "$ai_model"


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):  # fmt: skip
        next_url = reverse("pages:evaluation_list")
    if request.method == "GET" and request.user.is_authenticated:
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST if request.method == "POST" else None)
    error, status, wait = "", 200, None
    if request.method == "POST":
        # Counted before the password is checked, with the API login's counters: one budget for both doors.
        address = client_address(request.META, settings.TRUSTED_PROXIES)
        wait = login_wait(address=address, email=request.POST.get("email"))
        if wait is not None:
            error, status = f"Too many login attempts. Try again in {retry_after(wait)} seconds.", 429
        elif form.is_valid():
            user = authenticate(request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
            if user is not None:
                login(request, user)
                return HttpResponseRedirect(next_url)
            error = "Invalid email or password."
        else:
            error = "Enter your email and password."
    response = render(request, "pages/login.html", {"form": form, "error": error, "next": next_url}, status=status)
    if wait is not None:
        response["Retry-After"] = retry_after(wait)
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponseRedirect(reverse("pages:login"))


@never_cache
@login_required
@require_GET
def evaluation_list(request: HttpRequest) -> HttpResponse:
    projects = list(selectors.projects_for_user(user=request.user))
    raw = request.GET.get("project")
    if raw is None and len(projects) != 1:
        return render(request, "pages/project_picker.html", {"projects": projects})
    team = projects[0] if raw is None else next((p for p in projects if str(p.id) == raw), None)
    if team is None:
        return not_found(request)
    evaluations = selectors.evaluations_for_project(team=team)
    figures, results_error = {}, ""
    try:
        figures = selectors.seven_day_stats(team=team, evaluation_ids=[str(e.id) for e in evaluations])
    except DomainError as error:  # the events store down or too slow: the evaluations are listed without figures
        results_error = error.detail
    rows = [_list_row(evaluation, figures.get(str(evaluation.id))) for evaluation in evaluations]
    context = {"team": team, "rows": rows, "several_projects": len(projects) > 1, "results_error": results_error}
    return render(request, "pages/evaluation_list.html", context)


@never_cache
@login_required
@require_GET
def evaluation_detail(request: HttpRequest, evaluation_id: str) -> HttpResponse:
    evaluation = selectors.evaluation_for_user(user=request.user, evaluation_id=evaluation_id)
    if evaluation is None:
        return not_found(request)
    team = evaluation.team
    runs = selectors.latest_runs(evaluation=evaluation, limit=RUNS_SHOWN)
    breakdown, results_error = [], ""
    try:
        params = {**CHART_PARAMS, "breakdown": BREAKDOWN}
        series = selectors.stats_series(team=team, evaluation=evaluation, params=params)
        breakdown = presenters.breakdown_rows(series)
    except DomainError as error:  # the events store down or too slow: the rest of the page still shows
        results_error = error.detail
    context = {
        "team": team,
        "evaluation": evaluation,
        "stats_url": f"/api/projects/{team.id}/evaluations/{evaluation.id}/stats/?{urlencode(CHART_PARAMS)}",
        "breakdown": breakdown,
        "results_error": results_error,
        "runs": [
            {
                "run": run,
                "result": presenters.run_result(run),
                "event_url": f"/api/projects/{team.id}/events/{run.target_event_id}/",
            }
            for run in runs
        ],
    }
    return render(request, "pages/evaluation_detail.html", context)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A page's form without a valid CSRF token (a form left open past its cookie, or posted from elsewhere) gets
    the login form back with a word of explanation; the API keeps its JSON error."""
    if request.path not in (reverse("pages:login"), reverse("pages:logout")):
        return json_csrf_failure(request, reason)
    context = {"form": LoginForm(), "error": "The form expired. Please log in again.", "next": ""}
    return render(request, "pages/login.html", context, status=403)


def not_found(request: HttpRequest) -> HttpResponse:
    """Another organization's project or evaluation answers exactly as one that does not exist."""
    return render(request, "pages/not_found.html", status=404)


def _list_row(evaluation: Evaluation, figures: dict[str, Any] | None) -> dict[str, Any]:
    figures = figures or {"runs": 0, "passed": 0, "failed": 0, "na": 0, "pass_rate": None, "daily": []}
    return {
        "evaluation": evaluation,
        "stats": figures,
        "pass_rate": presenters.percent(figures.get("pass_rate")),
        "trend": presenters.sparkline_points(figures.get("daily") or []),
    }
