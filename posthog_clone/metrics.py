"""Prometheus metrics: requests by route and status, their latency, events ingested, and what the apps register
(evaluation runs by status).

Counters live in each process; with several web processes set PROMETHEUS_MULTIPROC_DIR (`serve` does) and
`/metrics` sums them and adds each live server process's process metrics (`process_metrics.py`). The apps' collectors
read the database when scraped, so the worker's progress shows from any web process without sharing memory with it.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.registry import Collector

from posthog_clone.api.exceptions import error_body
from posthog_clone.process_metrics import ServerMetricsCollector

LOOPBACK = {"127.0.0.1", "::1"}
# Label values come from closed sets, so no client can grow /metrics: any other method counts as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_INGESTED = Counter("events_ingested_total", "Events stored through the capture endpoints.")


# Collectors the apps add from their AppConfig.ready, each built at every scrape: they read the database.
_APP_COLLECTORS: list[Callable[[], Collector]] = []


def register_collector(make: Callable[[], Collector]) -> None:
    if make not in _APP_COLLECTORS:  # once, should an app's ready run again: a metric may be reported once
        _APP_COLLECTORS.append(make)


class MetricsMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None else "unmatched"  # bounded: one label value per route
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        LATENCY.labels(method, route).observe(time.perf_counter() - began)
        return response


def _allowed(request: HttpRequest) -> bool:
    # A proxy on the same machine connects from loopback too: what it forwards is not local.
    forwarded = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META
    if settings.METRICS_LOOPBACK and request.META.get("REMOTE_ADDR") in LOOPBACK and not forwarded:
        return True
    token = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(supplied.encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """`GET /metrics`, Prometheus's text format: with `Authorization: Bearer <METRICS_TOKEN>`, or from loopback
    when METRICS_LOOPBACK is set."""
    if not _allowed(request):
        body = error_body(type="authentication_error", code="permission_denied",
                          detail="Metrics are served with the METRICS_TOKEN bearer token, or to loopback when "
                          "METRICS_LOOPBACK is set.")  # fmt: skip
        return JsonResponse(body, status=403)
    registry = CollectorRegistry()
    if multiprocess_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry.register(ServerMetricsCollector(multiprocess_dir))
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    apps = CollectorRegistry()
    for make in _APP_COLLECTORS:
        apps.register(make())
    return HttpResponse(output + generate_latest(apps), content_type=CONTENT_TYPE_LATEST)
