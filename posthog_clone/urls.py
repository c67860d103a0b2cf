"""URL map. Project-scoped resources are mounted twice, under `/api/environments/:project_id/` and
`/api/projects/:project_id/`, from one router, so the two families cannot drift apart."""

from django.urls import include, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from environments.api.views import (
    EnvironmentViewSet,
    LoginView,
    LogoutView,
    PersonalAPIKeyViewSet,
    ProjectViewSet,
    UserViewSet,
)
from evaluations.backfill_views import EvaluationBackfillViewSet
from evaluations.provider_key_views import ProviderKeyValidationViewSet, ProviderKeyViewSet
from evaluations.summary_views import EvaluationSummaryViewSet
from evaluations.views import EvaluationRunViewSet, EvaluationViewSet
from events.capture_views import capture
from events.query_views import QueryViewSet
from events.views import EventViewSet
from posthog_clone.api.routers import OptionalSlashRouter
from posthog_clone.health import health, readyz
from posthog_clone.metrics import metrics
from symbol_sets.views import ReleaseViewSet, SymbolSetViewSet

project_router = OptionalSlashRouter()
project_router.register("evaluations", EvaluationViewSet, basename="evaluations")
project_router.register("evaluation_runs", EvaluationRunViewSet, basename="evaluation_runs")
project_router.register(
    r"evaluations/(?P<evaluation_id>[^/.]+)/backfills", EvaluationBackfillViewSet, basename="evaluation_backfills"
)
project_router.register("llm_analytics/provider_keys", ProviderKeyViewSet, basename="llm_analytics_provider_keys")
project_router.register(
    "llm_analytics/provider_key_validations",
    ProviderKeyValidationViewSet,
    basename="llm_analytics_provider_key_validations",
)
project_router.register(
    "llm_analytics/evaluation_summary", EvaluationSummaryViewSet, basename="llm_analytics_evaluation_summary"
)
project_router.register("events", EventViewSet, basename="events")
project_router.register("query", QueryViewSet, basename="query")
project_router.register("error_tracking/symbol_sets", SymbolSetViewSet, basename="error_tracking_symbol_sets")
project_router.register("error_tracking/releases", ReleaseViewSet, basename="error_tracking_releases")

root_router = OptionalSlashRouter()
root_router.register("projects", ProjectViewSet, basename="projects")
root_router.register("environments", EnvironmentViewSet, basename="environments")
root_router.register("users", UserViewSet, basename="users")
root_router.register("personal_api_keys", PersonalAPIKeyViewSet, basename="personal_api_keys")

urlpatterns = [
    re_path(r"^_health/?$", health, name="health"),
    re_path(r"^_readyz/?$", readyz, name="readyz"),
    re_path(r"^metrics/?$", metrics, name="metrics"),
    # Ingestion, authenticated by the project token in the payload (PostHog's SDKs post here).
    re_path(r"^(?:batch|capture|e|track|i/v0/e)/?$", capture, name="capture"),
    re_path(r"^api/environments/(?P<project_id>[^/]+)/", include((project_router.urls, "environment"))),
    re_path(r"^api/projects/(?P<project_id>[^/]+)/", include((project_router.urls, "project"))),
    re_path(r"^api/login/?$", LoginView.as_view(), name="login"),
    re_path(r"^api/logout/?$", LogoutView.as_view(), name="logout"),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/schema/swagger-ui/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^api/schema/redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    re_path(r"^api/", include(root_router.urls)),
    # The web pages (login, evaluations' results), server-rendered.
    re_path(r"^", include("pages.urls")),
    # The local object store's presigned uploads and downloads (404 when an S3 endpoint is configured).
    re_path(r"^", include("posthog_clone.object_storage.urls")),
]

handler400 = "posthog_clone.api.exceptions.json_bad_request"
handler404 = "posthog_clone.api.exceptions.json_not_found"
handler500 = "posthog_clone.api.exceptions.json_server_error"
