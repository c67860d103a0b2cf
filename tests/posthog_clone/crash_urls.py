"""A URL map for the error-shape tests: the real routes plus one view that crashes on purpose."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from posthog_clone.urls import handler400, handler404, handler500
from posthog_clone.urls import urlpatterns as real_urlpatterns


class CrashingView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internal detail")


def crashing_plain_view(request: HttpRequest) -> HttpResponse:
    """Like the capture endpoints: a Django view outside DRF."""
    raise RuntimeError("secret plain detail")


urlpatterns = [path("crash/", CrashingView.as_view()), path("plain-crash/", crashing_plain_view), *real_urlpatterns]

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
