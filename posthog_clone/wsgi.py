import os

from django.core.wsgi import get_wsgi_application

from posthog_clone.embedded import prepare_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posthog_clone.settings")
prepare_environment()
application = get_wsgi_application()
