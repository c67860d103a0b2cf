"""Error-tracking symbol sets and releases under `/api/{environments,projects}/:project_id/error_tracking/`.

Thin views: validate the body, call one service or selector, shape the response.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from environments.api.routing import TeamScopedViewSetMixin
from environments.api.serializers import SuccessSerializer
from posthog_clone.api.pagination import LimitOffsetPagination
from symbol_sets import selectors, services
from symbol_sets.filters import SymbolSetFilter
from symbol_sets.models import ErrorTrackingRelease, ErrorTrackingSymbolSet
from symbol_sets.serializers import (
    BulkCheckUploadResponseSerializer,
    BulkDeleteResponseSerializer,
    BulkDeleteSerializer,
    BulkFinishUploadSerializer,
    BulkStartUploadResponseSerializer,
    BulkUploadSerializer,
    DownloadSerializer,
    FinishUploadSerializer,
    ReleaseSerializer,
    StartUploadQuerySerializer,
    SymbolSetSerializer,
    UploadTicketSerializer,
)

READ = ["error_tracking:read"]
WRITE = ["error_tracking:write"]


class SymbolSetPagination(LimitOffsetPagination):
    max_limit = 100


def _ticket_body(ticket: services.UploadTicket) -> dict[str, Any]:
    return {"presigned_url": ticket.presigned_post.as_dict(), "symbol_set_id": str(ticket.symbol_set_id)}


def _validated(serializer_class: type, data: Any) -> Any:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


class SymbolSetViewSet(
    TeamScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scope_object = "error_tracking"
    throttle_scope = "symbol_set_upload"  # the CLI uploads in bursts of batches; PostHog's upload rates
    queryset = ErrorTrackingSymbolSet.objects.select_related("release")
    serializer_class = SymbolSetSerializer
    filterset_class = SymbolSetFilter
    pagination_class = SymbolSetPagination

    def filter_queryset(self, queryset: QuerySet[ErrorTrackingSymbolSet]) -> QuerySet[ErrorTrackingSymbolSet]:
        # The list's filters must not narrow, or reject, lookups of one set by id.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def perform_destroy(self, instance: ErrorTrackingSymbolSet) -> None:
        services.symbol_sets_delete(team=self.team, symbol_sets=[instance])

    @extend_schema(request=BulkUploadSerializer, responses=BulkStartUploadResponseSerializer)
    @action(methods=["post"], detail=False, required_scopes=WRITE)
    def bulk_start_upload(self, request: Request, **kwargs: Any) -> Response:
        body = _validated(BulkUploadSerializer, request.data)
        tickets = services.symbol_sets_bulk_start_upload(team=self.team, **body.service_arguments())
        return Response({"id_map": {chunk_id: _ticket_body(ticket) for chunk_id, ticket in tickets.items()}})

    @extend_schema(request=BulkFinishUploadSerializer, responses=SuccessSerializer)
    @action(methods=["post"], detail=False, required_scopes=WRITE)
    def bulk_finish_upload(self, request: Request, **kwargs: Any) -> Response:
        body = _validated(BulkFinishUploadSerializer, request.data)
        services.symbol_sets_bulk_finish_upload(
            team=self.team, content_hashes=body.validated_data.get("content_hashes", {})
        )
        return Response({"success": True})

    @extend_schema(request=BulkUploadSerializer, responses=BulkCheckUploadResponseSerializer)
    @action(methods=["post"], detail=False, required_scopes=WRITE)
    def bulk_check_upload(self, request: Request, **kwargs: Any) -> Response:
        body = _validated(BulkUploadSerializer, request.data)
        chunk_ids = services.symbol_sets_bulk_check_upload(team=self.team, **body.service_arguments())
        return Response({"chunk_ids_to_upload": chunk_ids})

    @extend_schema(request=BulkDeleteSerializer, responses=BulkDeleteResponseSerializer)
    @action(methods=["post"], detail=False, required_scopes=WRITE)
    def bulk_delete(self, request: Request, **kwargs: Any) -> Response:
        body = _validated(BulkDeleteSerializer, request.data)
        deleted = services.symbol_sets_bulk_delete(team=self.team, ids=body.validated_data["ids"])
        return Response({"deleted": deleted})

    @extend_schema(
        description="Deprecated single-chunk upload; `bulk_start_upload` is what current clients use.",
        parameters=[
            OpenApiParameter("chunk_id", str, required=True),
            OpenApiParameter("release_id", str, required=False),
        ],
        request=None,
        responses=UploadTicketSerializer,
    )
    @action(methods=["post"], detail=False, required_scopes=WRITE)
    def start_upload(self, request: Request, **kwargs: Any) -> Response:
        query = _validated(StartUploadQuerySerializer, request.query_params).validated_data
        ticket = services.symbol_set_start_upload(
            team=self.team, chunk_id=query["chunk_id"], release_id=query["release_id"]
        )
        return Response(_ticket_body(ticket))

    @extend_schema(request=FinishUploadSerializer, responses=SuccessSerializer)
    @action(methods=["put", "post"], detail=True, required_scopes=WRITE)
    def finish_upload(self, request: Request, **kwargs: Any) -> Response:
        symbol_set = self.get_object()
        body = _validated(FinishUploadSerializer, request.data)
        services.symbol_set_finish_upload(
            team=self.team, symbol_set=symbol_set, content_hash=body.validated_data.get("content_hash")
        )
        return Response({"success": True})

    @extend_schema(responses=DownloadSerializer)
    @action(methods=["get"], detail=True, required_scopes=READ)
    def download(self, request: Request, **kwargs: Any) -> Response:
        return Response({"url": selectors.symbol_set_download_url(symbol_set=self.get_object())})


class ReleaseViewSet(TeamScopedViewSetMixin, viewsets.ModelViewSet):
    scope_object = "error_tracking"
    queryset = ErrorTrackingRelease.objects.all()
    serializer_class = ReleaseSerializer

    def perform_create(self, serializer: ReleaseSerializer) -> None:
        serializer.instance = services.release_create(team=self.team, **serializer.validated_data)

    def perform_update(self, serializer: ReleaseSerializer) -> None:
        serializer.instance = services.release_update(release=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance: ErrorTrackingRelease) -> None:
        services.release_delete(release=instance)

    @extend_schema(responses=ReleaseSerializer)
    @action(methods=["get"], detail=False, url_path=r"hash/(?P<hash_id>[^/]+)", required_scopes=READ)
    def by_hash(self, request: Request, hash_id: str, **kwargs: Any) -> Response:
        release = get_object_or_404(self.get_queryset(), hash_id=hash_id)
        return Response(self.get_serializer(release).data)
