"""Rate limits on the API, over the shared counters of `posthog_clone.rate_limits`: per personal API key, else per
logged-in user, else per client address. A view picks its rates with `throttle_scope` (default `api`); the rates
are read from settings on each request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from environments.models import PersonalAPIKey
from posthog_clone import rate_limits
from posthog_clone.client_address import client_address

DEFAULT_SCOPE = "api"


class RateThrottle(BaseThrottle):
    wait_seconds: float | None = None

    def __init__(self, scope: str | None = None) -> None:
        # A scope of its own: an action limited on top of its view's scope.
        self.scope = scope

    def allow_request(self, request: Request, view: Any) -> bool:
        if not settings.RATE_LIMIT_ENABLED:
            return True
        scope = self.scope or getattr(view, "throttle_scope", None) or DEFAULT_SCOPE
        self.wait_seconds = rate_limits.hit(
            scope=scope, identity=self.identity(request), rates=settings.RATE_LIMITS[scope]
        )
        return self.wait_seconds is None

    def identity(self, request: Request) -> str:
        if isinstance(request.auth, PersonalAPIKey):
            return f"key:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def get_ident(self, request: Request) -> str:
        # DRF's own reading believes any X-Forwarded-For; ours only a trusted proxy's.
        return client_address(request.META, settings.TRUSTED_PROXIES)

    def wait(self) -> float | None:
        return self.wait_seconds


def login_wait(*, address: str, email: object) -> float | None:
    """Count one login attempt from `address` for `email` (the API's and the login form's alike): the seconds until
    it may retry when the address's or the email's attempts are used up, else None."""
    if not settings.RATE_LIMIT_ENABLED:
        return None
    waits = [rate_limits.hit(scope="login_ip", identity=address, rates=settings.RATE_LIMITS["login_ip"])]
    if isinstance(email, str) and email:
        waits.append(rate_limits.hit(scope="login_email", identity=email.strip().lower(),
                                     rates=settings.RATE_LIMITS["login_email"]))  # fmt: skip
    known = [wait for wait in waits if wait is not None]
    return max(known) if known else None


class LoginRateThrottle(RateThrottle):
    """Password guessing: attempts counted per client address and per email, whichever runs out first."""

    def allow_request(self, request: Request, view: Any) -> bool:
        email = request.data.get("email") if isinstance(request.data, dict) else None
        self.wait_seconds = login_wait(address=self.get_ident(request), email=email)
        return self.wait_seconds is None
