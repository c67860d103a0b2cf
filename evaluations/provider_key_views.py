"""`llm_analytics/provider_keys/` (a project's own LLM provider keys) and `llm_analytics/provider_key_validations/`
(check a key without storing it). Reads need project membership, writes an organization admin."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from environments.api.permissions import ProjectAdminWritePermission
from environments.api.routing import TeamScopedViewSetMixin
from evaluations import provider_keys, selectors
from evaluations import status as evaluation_status
from evaluations.models import LLMProviderKey
from evaluations.provider_key_serializers import (
    DependentConfigsSerializer,
    ProviderKeyAssignResultSerializer,
    ProviderKeyAssignSerializer,
    ProviderKeySerializer,
    ProviderKeyValidationResultSerializer,
    ProviderKeyValidationSerializer,
)

SCOPE = "llm_provider_key"


class ProviderKeyViewSet(TeamScopedViewSetMixin, viewsets.ModelViewSet):
    """LLM provider keys: checked live with the provider when created (or given a new secret or URL) and stored
    only when they work; the secret is stored encrypted and never returned (`api_key_masked` shows its ends)."""

    scope_object = SCOPE
    extra_permission_classes = [ProjectAdminWritePermission]
    queryset = LLMProviderKey.objects.select_related("created_by")
    serializer_class = ProviderKeySerializer

    def perform_create(self, serializer: ProviderKeySerializer) -> None:
        data = serializer.validated_data
        serializer.instance = provider_keys.provider_key_create(
            team=self.team,
            user=self.user,
            provider=data["provider"],
            name=data["name"],
            api_key=data.get("api_key"),
            base_url=data.get("base_url", ""),
        )

    def perform_update(self, serializer: ProviderKeySerializer) -> None:
        serializer.instance = provider_keys.provider_key_update(key=serializer.instance,
                                                                changes=dict(serializer.validated_data))  # fmt: skip

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "replacement_key_id",
                str,
                required=False,
                description="A key of the same provider that this key's evaluations judge with from now on; without "
                "one, its active evaluations stop with `provider_key_deleted`.",
            )
        ]
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        provider_keys.provider_key_delete(
            key=self.get_object(), replacement_key_id=request.query_params.get("replacement_key_id")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={200: DependentConfigsSerializer},
        description="The evaluations judging with this key, and this project's working keys of the same provider "
        "that could replace it.",
    )
    @action(detail=True, methods=["get"], required_scopes=[f"{SCOPE}:read"])
    def dependent_configs(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(selectors.provider_key_dependants(key=self.get_object()))

    @extend_schema(request=ProviderKeyAssignSerializer, responses={200: ProviderKeyAssignResultSerializer})
    @action(detail=True, methods=["post"], required_scopes=[f"{SCOPE}:write"])
    def assign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()  # another project's key is a 404 whatever the body
        body = ProviderKeyAssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated, enabled = evaluation_status.provider_key_assign(
            key=key, evaluation_ids=body.validated_data["evaluation_ids"],
            enable=body.validated_data["enable"],
        )  # fmt: skip
        return Response({"configs_updated": updated, "evals_enabled": enabled})

    @extend_schema(
        request=None,
        responses={200: ProviderKeySerializer},
        description="Check the stored key with its provider again and record the outcome in `state`.",
    )
    @action(detail=True, methods=["post"], required_scopes=[f"{SCOPE}:write"])
    def validate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = provider_keys.provider_key_validate(key=self.get_object())
        return Response(self.get_serializer(key).data)


class ProviderKeyValidationViewSet(TeamScopedViewSetMixin, viewsets.GenericViewSet):
    """Check a key with its provider without storing it."""

    scope_object = SCOPE
    extra_permission_classes = [ProjectAdminWritePermission]
    queryset = LLMProviderKey.objects.none()
    serializer_class = ProviderKeyValidationSerializer

    @extend_schema(request=ProviderKeyValidationSerializer, responses={200: ProviderKeyValidationResultSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = ProviderKeyValidationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        check = provider_keys.provider_key_check(
            provider=body.validated_data["provider"],
            api_key=body.validated_data.get("api_key"),
            base_url=body.validated_data.get("base_url", ""),
        )
        result = {"state": check.state, "error_message": check.error_message, "error_field": check.error_field}
        return Response(ProviderKeyValidationResultSerializer(result).data, status=status.HTTP_200_OK)
