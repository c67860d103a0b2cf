from django.urls import re_path

from posthog_clone.object_storage import views
from posthog_clone.object_storage.local import URL_PATH

urlpatterns = [
    re_path(rf"^{URL_PATH}/?$", views.upload, name="object_storage_upload"),
    re_path(rf"^{URL_PATH}/(?P<key>.+)$", views.download, name="object_storage_download"),
]
