import os

from django.core.asgi import get_asgi_application

from posthog_clone.embedded import prepare_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posthog_clone.settings")
prepare_environment()
application = get_asgi_application()
