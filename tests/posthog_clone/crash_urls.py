"""A URL map for the error-shape tests: the real routes plus one view that crashes on purpose."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from posthog_clone.urls import handler404, handler500
from posthog_clone.urls import urlpatterns as real_urlpatterns


class CrashingView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internal detail")


urlpatterns = [path("crash/", CrashingView.as_view()), *real_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
