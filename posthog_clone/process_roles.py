"""The names a process's database connections carry (PostgreSQL's `application_name`), so one process can see what
the others are doing in `pg_stat_activity`: backfills yield to the HTTP server's requests. No imports: gunicorn's
config reads this before Django is loaded."""

# Set by `posthog_clone.gunicorn_conf` in every way the HTTP server runs; read by the settings.
ROLE_VARIABLE = "POSTHOG_CLONE_PROCESS_ROLE"
WEB_ROLE = "web"

WEB_APPLICATION_NAME = "posthog-clone web"
OTHER_APPLICATION_NAME = "posthog-clone"


def application_name(role: str | None) -> str:
    return WEB_APPLICATION_NAME if role == WEB_ROLE else OTHER_APPLICATION_NAME
