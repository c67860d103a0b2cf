"""Projects, environments, the current user, personal API keys, login and logout."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from environments import services
from environments.api.authentication import SessionAuthentication
from environments.api.permissions import require_key_organization
from environments.api.routing import BaseAPIViewSetMixin
from environments.api.serializers import (
    LoginSerializer,
    PersonalAPIKeySerializer,
    ProjectBasicSerializer,
    ProjectSerializer,
    SuccessSerializer,
    UserMeSerializer,
)
from environments.api.throttling import LoginRateThrottle
from environments.models import MembershipLevel, OrganizationMembership, PersonalAPIKey, Team, User
from environments.scopes import INTERNAL


class ProjectViewSet(
    BaseAPIViewSetMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Projects the caller can see; `:id` may be `@current`. One environment per project, so ids are shared."""

    scope_object = "project"
    team_url_kwarg = "pk"
    queryset = Team.objects.all()

    def get_serializer_class(self) -> type[ProjectBasicSerializer]:
        return ProjectBasicSerializer if self.action == "list" else ProjectSerializer

    def dangerously_get_queryset(self) -> QuerySet[Team]:
        queryset = Team.objects.filter(organization__memberships__user=self.user).order_by("id")
        key = self.request.auth
        if isinstance(key, PersonalAPIKey) and key.scoped_organizations:
            queryset = queryset.filter(organization_id__in=key.scoped_organizations)
        search = self.request.query_params.get("search")
        return queryset.filter(name__icontains=search) if search else queryset

    def dangerously_get_object(self) -> Team:
        return self.team  # resolved, and membership checked, by the base mixin

    def perform_create(self, serializer: ProjectSerializer) -> None:
        organization_id = self.user.current_organization_id
        membership = OrganizationMembership.objects.filter(organization_id=organization_id, user=self.user).first()
        if membership is None:
            raise exceptions.ValidationError("You need to belong to an organization to create a project.")
        if membership.level < MembershipLevel.ADMIN:
            raise exceptions.PermissionDenied("Your organization access level is insufficient.")
        # The project goes to the caller's current organization, which a key may not be scoped to.
        require_key_organization(self.request.auth, organization_id)
        serializer.instance = services.project_create(
            organization=membership.organization,
            name=serializer.validated_data.get("name", "Default project"),
            timezone_name=serializer.validated_data.get("timezone", "UTC"),
            creator=self.user,
            enforce_limit=True,
        )


class EnvironmentViewSet(ProjectViewSet):
    """`/api/environments/`: the same rows as projects, since each project has exactly one environment."""

    http_method_names = ["get", "head", "options"]


class UserViewSet(BaseAPIViewSetMixin, viewsets.GenericViewSet):
    scope_object = "user"
    exempt_from_key_scoping = True
    serializer_class = UserMeSerializer
    queryset = User.objects.none()

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        if pk != "@me":
            raise exceptions.NotFound()
        return Response(self.get_serializer(self.user).data)


class PersonalAPIKeyViewSet(BaseAPIViewSetMixin, viewsets.ModelViewSet):
    """Managing keys needs a logged-in session; a key can only describe itself through `@current`."""

    scope_object = INTERNAL
    serializer_class = PersonalAPIKeySerializer
    pagination_class = None
    queryset = PersonalAPIKey.objects.none()

    def dangerously_get_queryset(self) -> QuerySet[PersonalAPIKey]:
        return PersonalAPIKey.objects.filter(user=self.user).order_by("-created_at")

    def perform_create(self, serializer: PersonalAPIKeySerializer) -> None:
        key, value = services.personal_api_key_create(user=self.user, **serializer.validated_data)
        key.raw_value = value
        serializer.instance = key

    @action(methods=["post"], detail=True)
    def roll(self, request: Request, pk: str | None = None) -> Response:
        key = self.get_object()
        key.raw_value = services.personal_api_key_roll(key=key)
        return Response(self.get_serializer(key).data)

    @action(
        methods=["get"],
        detail=False,
        url_path="@current",
        required_scopes=[],
        exempt_from_key_scoping=True,
    )
    def current(self, request: Request) -> Response:
        if not isinstance(request.auth, PersonalAPIKey):
            raise exceptions.NotFound("The request was not authenticated with a personal API key.")
        return Response(self.get_serializer(request.auth).data)


class LoginView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=LoginSerializer, responses=SuccessSerializer)
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request, email=serializer.validated_data["email"], password=serializer.validated_data["password"]
        )
        if user is None:
            raise exceptions.ValidationError("Invalid email or password.", code="invalid_credentials")
        login(request, user)
        return Response({"success": True})


class LogoutView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses=SuccessSerializer)
    def post(self, request: Request) -> Response:
        logout(request)
        return Response({"success": True}, status=status.HTTP_200_OK)
