from django.apps import AppConfig


class PosthogCloneConfig(AppConfig):
    name = "posthog_clone"
    verbose_name = "posthog-clone core"
