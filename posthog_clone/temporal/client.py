"""The Temporal client, configured from settings; the only place that knows how to reach Temporal."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from temporalio.client import Client


def temporal_address() -> str:
    if not settings.TEMPORAL_ADDRESS:
        raise ImproperlyConfigured(
            "TEMPORAL_ADDRESS is not set: run `manage.py serve`, which starts a Temporal dev server, "
            "or point TEMPORAL_ADDRESS at a Temporal frontend (host:port)."
        )
    return settings.TEMPORAL_ADDRESS


async def connect() -> Client:
    return await Client.connect(temporal_address(), namespace=settings.TEMPORAL_NAMESPACE)
