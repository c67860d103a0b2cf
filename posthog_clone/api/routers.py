from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """PostHog's routes accept a path with or without its trailing slash (the CLI posts without one)."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=True)
        self.trailing_slash = "/?"
