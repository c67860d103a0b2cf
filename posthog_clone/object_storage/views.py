"""The endpoints through which clients use presigned requests of the local store; absent (404) with S3."""

from __future__ import annotations

from xml.sax.saxutils import escape

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from posthog_clone.object_storage import get_object_storage
from posthog_clone.object_storage.base import ObjectStorageUnavailable
from posthog_clone.object_storage.local import LocalObjectStorage, Rejected


def _local_storage() -> LocalObjectStorage:
    try:
        storage = get_object_storage()
    except ObjectStorageUnavailable:
        raise Http404 from None
    if not isinstance(storage, LocalObjectStorage):
        raise Http404
    return storage


def _s3_error(rejection: Rejected) -> HttpResponse:
    """An error in S3's XML shape, which S3 clients know how to read."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(rejection.code)}</Code><Message>{escape(rejection.message)}</Message></Error>"
    )
    return HttpResponse(body, status=rejection.status, content_type="application/xml")


# No CSRF check and no API authentication: the signed policy is the credential. csrf_exempt also keeps the CSRF
# middleware from reading the body as a form, which would load the upload into memory before the policy is checked.
@csrf_exempt
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    storage = _local_storage()
    raw_length = request.META.get("CONTENT_LENGTH") or ""
    try:
        storage.receive_upload(
            body=request,
            content_type=request.META.get("CONTENT_TYPE", ""),
            content_length=int(raw_length) if raw_length.isdigit() else None,
        )
    except Rejected as rejection:
        return _s3_error(rejection)
    return HttpResponse(status=204)


@require_safe
def download(request: HttpRequest, key: str) -> HttpResponse:
    storage = _local_storage()
    try:
        path = storage.downloadable_path(
            key, expires=request.GET.get("expires", ""), signature=request.GET.get("signature", "")
        )
    except Rejected as rejection:
        return _s3_error(rejection)
    return FileResponse(path.open("rb"), content_type="application/octet-stream")
