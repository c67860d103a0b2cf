"""Settings, read from the environment (django-environ); every external service has an embedded default."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
import structlog
from django.core.exceptions import ImproperlyConfigured

from posthog_clone import embedded
from posthog_clone.client_address import trusted_networks
from posthog_clone.process_roles import ROLE_VARIABLE, application_name
from posthog_clone.redaction import redact_event

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DATA_DIR = embedded.data_dir(create=False)
DEBUG = env.bool("DEBUG", default=False)
# Importing settings starts and writes nothing: entry points call `embedded.prepare_environment()` first.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set: run the server through manage.py or ./dev (which generate one in the data dir), "
        "or set SECRET_KEY."
    )
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

_site_host = urlsplit(SITE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=sorted({"127.0.0.1", "localhost", "[::1]", _site_host}))
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "posthog_clone",
    "environments",
    "evaluations",
    "events",
    "symbol_sets",
    "pages",
]

MIDDLEWARE = [
    "posthog_clone.api.middleware.RequestIdMiddleware",
    "posthog_clone.metrics.MetricsMiddleware",
    "posthog_clone.api.middleware.RequestChecksMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "posthog_clone.api.middleware.ErrorResponseMiddleware",
]

ROOT_URLCONF = "posthog_clone.urls"
WSGI_APPLICATION = "posthog_clone.wsgi.application"
ASGI_APPLICATION = "posthog_clone.asgi.application"
# PostHog's routes take an optional trailing slash; redirecting a POST to add one would drop its body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# --- Database: DATABASE_URL, else the embedded PostgreSQL under the data dir -----------------------
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: run the server through manage.py or ./dev (which start an embedded PostgreSQL), "
        "or set DATABASE_URL."
    )
_database = env.db_url("DATABASE_URL")
_database["HOST"] = unquote(_database.get("HOST", ""))  # a socket directory arrives percent-encoded
# Persistent connections. No per-request health-check query: a connection broken by a database restart fails
# one request and is then discarded by Django.
_database.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
# An unreachable database host must fail a request in seconds, not after the operating system's TCP timeout.
_database.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
# Which process a connection belongs to, in `pg_stat_activity` (backfills yield while the HTTP server is serving).
_database["OPTIONS"].setdefault("application_name", application_name(os.environ.get(ROLE_VARIABLE)))
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "environments.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
# The web pages' login form; the API answers 401 instead.
LOGIN_URL = "/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True  # serve the Swagger/Redoc assets straight from the packages, no collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# JSON for the API, the login form again for the web pages' forms.
CSRF_FAILURE_VIEW = "pages.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
# Served over https (TLS ends at a proxy in front): cookies only travel encrypted. Redirecting http to https and
# HSTS are that proxy's job, so their deployment checks are silenced.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=SITE_URL.startswith("https://"))
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Capture endpoints take events from browsers on any site (posthog-js), like PostHog's.
CORS_URLS_REGEX = r"^/(?:batch|capture|e|track|i/v0/e)/?$"
CORS_ALLOW_ALL_ORIGINS = True
# Batches from the SDKs can be large; gzip bodies are further capped when decompressed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# --- REST framework ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "environments.api.authentication.PersonalAPIKeyAuthentication",
        "environments.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["posthog_clone.api.renderers.JSONRenderer"],
    # JSON only, as PostHog's clients send, and as the schema says (generated clients build one body type).
    "DEFAULT_PARSER_CLASSES": ["posthog_clone.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "posthog_clone.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["posthog_clone.api.filter_schema.FilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["environments.api.throttling.RateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "posthog_clone.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
EXCEPTIONS_HOG = {"ENABLE_IN_DEBUG": True}  # a crash answers 500 `server_error` JSON, never a traceback

SPECTACULAR_SETTINGS = {
    "TITLE": "posthog-clone API",
    "DESCRIPTION": "PostHog-compatible API for evaluations, evaluation runs, events and error-tracking symbol sets.",
    "VERSION": "0.1.0",
    "SCHEMA_PATH_PREFIX": r"/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "GET_LIB_DOC_EXCLUDES": "environments.api.openapi.doc_excludes",
    # An evaluation's `output_type` and its runs' `result_type` take the same values: one enum, named once.
    "ENUM_NAME_OVERRIDES": {"OutputTypeEnum": "evaluations.models.OutputType"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "posthog_clone.api.schema.describe_project_id",
        "posthog_clone.api.schema.document_errors",
        "posthog_clone.api.schema.allow_empty_values",
        "posthog_clone.api.schema.name_enum_values",
        "posthog_clone.api.schema.tag_by_resource",
    ],
}

# `/metrics` answers anyone sending `Authorization: Bearer <METRICS_TOKEN>` when it is set; and, with
# METRICS_LOOPBACK, requests from loopback that no proxy forwarded (`serve` on a loopback address sets it).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_LOOPBACK = env.bool("METRICS_LOOPBACK", default=False)

# Projects an organization may have through the API (`bootstrap` may add more).
MAX_PROJECTS_PER_ORGANIZATION = env.int("MAX_PROJECTS_PER_ORGANIZATION", default=100)

# How long one HogQL query (`/query/`, the events list's `select`) may run before it is stopped with a 504.
QUERY_TIMEOUT_SECONDS = env.float("QUERY_TIMEOUT_SECONDS", default=10.0)

# --- Rate limits -----------------------------------------------------------------------------------------
# PostHog's rates for personal-API-key traffic: the API at large, queries (the events list), symbol set uploads;
# plus login attempts and ingestion (per project token). Counters are shared through Redis when REDIS_URL is set,
# else an unlogged PostgreSQL table. RATE_LIMITS (JSON) overrides scopes, e.g. '{"api": ["1000/minute"]}'.
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
REDIS_URL = env.str("REDIS_URL", default="")
# Namespaces the counters, for deployments sharing one Redis.
RATE_LIMIT_KEY_PREFIX = env.str("RATE_LIMIT_KEY_PREFIX", default="rl")
RATE_LIMITS: dict[str, list[str]] = {
    "api": ["480/minute", "4800/hour"],
    "query": ["240/minute", "1200/hour"],
    "symbol_set_upload": ["1200/minute", "12000/hour"],
    "login_ip": ["30/minute", "300/hour"],
    "login_email": ["10/minute", "50/hour"],
    "capture": ["6000/minute"],
    # On top of "api": backfills read a whole range to estimate it, and each judges up to BACKFILL_MAX_EVENTS.
    "evaluation_backfill_estimate": ["20/minute"],
    "evaluation_backfill_create": ["10/minute"],
    # PostHog's for LLM summaries: each one may send a judge 250 results.
    "llm_evaluation_summary": ["50/minute", "200/hour", "500/day"],
    **env.json("RATE_LIMITS", default={}),
}

# Proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated): per-address limits read the
# client's address from that header only when the connection comes from one of them; otherwise the header is
# ignored, so a client cannot pick a new address for each attempt.
try:
    TRUSTED_PROXIES = trusted_networks(env.list("TRUSTED_PROXIES", default=[]))
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None

# --- Temporal -------------------------------------------------------------------------------------------
# TEMPORAL_ADDRESS unset means "use the dev server `serve` starts"; serve exports the address to its children.
TEMPORAL_ADDRESS = env.str("TEMPORAL_ADDRESS", default="")
TEMPORAL_NAMESPACE = env.str("TEMPORAL_NAMESPACE", default="default")
TEMPORAL_TASK_QUEUE = env.str("TEMPORAL_TASK_QUEUE", default="llm-analytics-evals-task-queue")
# How long a web request (or the run dispatcher) may spend connecting to Temporal and starting workflows.
TEMPORAL_START_TIMEOUT_SECONDS = env.float("TEMPORAL_START_TIMEOUT_SECONDS", default=5.0)
# Dotted paths of what the worker runs.
TEMPORAL_WORKFLOWS: list[str] = [
    "posthog_clone.temporal.health.HealthCheckWorkflow",
    "evaluations.workflows.RunEvaluationWorkflow",
    "evaluations.workflows.EvaluationBackfillWorkflow",
]
TEMPORAL_ACTIVITIES: list[str] = [
    "posthog_clone.temporal.health.health_check_activity",
    "evaluations.activities.start_run_activity",
    "evaluations.activities.execute_llm_judge_activity",
    "evaluations.activities.execute_hog_activity",
    "evaluations.activities.complete_run_activity",
    "evaluations.activities.fail_run_activity",
    "evaluations.activities.backfill_tick_activity",
]
# Modules workflows import that the sandbox may share with the rest of the worker (activities, plain data).
TEMPORAL_PASSTHROUGH_MODULES: list[str] = ["evaluations.activities", "evaluations.contracts"]
# Loops the worker process runs beside the worker, each `loop(stop: threading.Event)` on a thread of its own.
TEMPORAL_WORKER_LOOPS: list[str] = [
    "evaluations.dispatcher.dispatch_until_stopped",
    "evaluations.dispatcher.resume_backfills_until_stopped",
]
# How often the dispatcher looks for online runs waiting to be started.
EVALUATION_DISPATCH_INTERVAL_SECONDS = env.float("EVALUATION_DISPATCH_INTERVAL_SECONDS", default=1.0)

# --- evaluation backfills ------------------------------------------------------------------------------------
# How far back a backfill may reach (its start is clamped to this, as PostHog clamps to 30 days). A self-hosted
# server keeps its events as long as its operator wants, so the bound that matters is the next one.
BACKFILL_MAX_DAYS = env.int("BACKFILL_MAX_DAYS", default=365)
# How many generations one backfill may judge: each is a judge call (money, and the LLM server's time), and the
# estimate reads them all before the backfill starts.
BACKFILL_MAX_EVENTS = env.int("BACKFILL_MAX_EVENTS", default=100_000)
# Runs a backfill may have pending or running at once, and all of a project's backfills together: enough to keep a
# worker busy (its 16 activity threads) while nothing else needs it.
BACKFILL_RUNS_IN_FLIGHT = env.int("BACKFILL_RUNS_IN_FLIGHT", default=32)
BACKFILL_RUNS_IN_FLIGHT_PER_PROJECT = env.int("BACKFILL_RUNS_IN_FLIGHT_PER_PROJECT", default=32)
# Backfills fill the capacity live traffic leaves: while this many online and manual runs are pending or running on
# the server, no backfill starts a run (the worker's activity threads, by default; 0: backfills never pause).
BACKFILL_PAUSE_AT_LIVE_RUNS = env.int("BACKFILL_PAUSE_AT_LIVE_RUNS", default=16)
# And the capacity requests leave: while the HTTP server is answering a request (any of its database connections
# busy), a backfill keeps at most this many runs in flight and rests this long after each step,
# so ingestion keeps the machine (at least 1 run: it still finishes).
BACKFILL_RUNS_IN_FLIGHT_WHILE_SERVING = max(1, env.int("BACKFILL_RUNS_IN_FLIGHT_WHILE_SERVING", default=1))
BACKFILL_REST_WHILE_SERVING_SECONDS = env.float("BACKFILL_REST_WHILE_SERVING_SECONDS", default=1.0)
# How often the worker restarts the walk of a running backfill whose workflow is gone (Temporal's history lost).
BACKFILL_RESUME_SECONDS = env.float("BACKFILL_RESUME_SECONDS", default=30.0)
# Events read per step of a backfill's walk.
BACKFILL_PAGE_SIZE = env.int("BACKFILL_PAGE_SIZE", default=500)

# --- LLM judge (evaluation runs) --------------------------------------------------------------------------
# Any OpenAI-compatible server: OpenAI itself (an API key), or Ollama, vLLM, llama.cpp... (a base URL).
LLMA_EVAL_OPENAI_API_KEY = env.str("LLMA_EVAL_OPENAI_API_KEY", default="") or env.str("OPENAI_API_KEY", default="")
LLMA_EVAL_OPENAI_BASE_URL = env.str("LLMA_EVAL_OPENAI_BASE_URL", default="") or env.str("OPENAI_BASE_URL", default="")
LLMA_EVAL_MODEL = env.str("LLMA_EVAL_MODEL", default="gpt-5-mini")
LLMA_EVAL_TIMEOUT_SECONDS = env.float("LLMA_EVAL_TIMEOUT_SECONDS", default=120.0)

# --- LLM provider keys (a project's own keys, `llm_analytics/provider_keys/`) -------------------------------
# Where keys of the `openai` provider are checked (and used): OpenAI's API.
LLMA_PROVIDER_OPENAI_BASE_URL = env.str("LLMA_PROVIDER_OPENAI_BASE_URL", default="https://api.openai.com/v1")
# Hosts (`host` or `host:port`, any port for a bare host) that `openai_compatible` keys may point the server at;
# empty: any. A project admin's base URL is a request this server makes inside its own network.
LLMA_PROVIDER_ALLOWED_HOSTS = [host.lower() for host in env.list("LLMA_PROVIDER_ALLOWED_HOSTS", default=[])]
# How long checking a key (`models.list()`) may take, in a web request.
LLMA_PROVIDER_KEY_TIMEOUT_SECONDS = env.float("LLMA_PROVIDER_KEY_TIMEOUT_SECONDS", default=10.0)
# Secrets that encrypt the keys at rest, comma-separated, newest first: the first encrypts, any decrypts (rotation:
# README "Provider keys"). Unset: SECRET_KEY, then SECRET_KEY_FALLBACKS.
PROVIDER_KEY_ENCRYPTION_KEYS = env.list("PROVIDER_KEY_ENCRYPTION_KEYS", default=[])

# --- Events ------------------------------------------------------------------------------------------------
# Where events live: PostgreSQL (unset) or ClickHouse, `http(s)://user:password@host:8123/database` for a server, or
# `chdb:///data/dir` for ClickHouse's engine inside one process. Persons and everything else stay in PostgreSQL.
CLICKHOUSE_URL = env.str("CLICKHOUSE_URL", default="")
# How long a web request may wait for ClickHouse to connect or answer a write (queries use QUERY_TIMEOUT_SECONDS).
CLICKHOUSE_TIMEOUT_SECONDS = env.float("CLICKHOUSE_TIMEOUT_SECONDS", default=10.0)
# Event properties kept in columns of their own on ClickHouse (computed at insert), so that filters, breakdowns and
# HogQL read them without parsing every event's properties: those PostHog's web analytics breaks down and filters on
# most (browser, OS, device, URL, path, host, referrer, library) and LLM analytics' model and provider. Each costs two
# JSON reads per event at insert and a few bytes per event on disk; ids (session, trace) are left out: they are
# looked up, not scanned. `serve` / `clickhouse_migrate` add the columns of a changed list.
CLICKHOUSE_MATERIALIZED_PROPERTIES = env.list(
    "CLICKHOUSE_MATERIALIZED_PROPERTIES",
    default=["$browser", "$os", "$device_type", "$current_url", "$pathname", "$host", "$referring_domain", "$lib",
             "$ai_model", "$ai_provider"],
)  # fmt: skip

# --- Object storage -----------------------------------------------------------------------------------
# An S3-compatible store (AWS S3, MinIO...) when OBJECT_STORAGE_ENDPOINT is set; otherwise files under the data dir,
# with this server accepting the presigned uploads itself (posthog_clone/object_storage/local.py).
OBJECT_STORAGE_ENABLED = env.bool("OBJECT_STORAGE_ENABLED", default=True)
OBJECT_STORAGE_ENDPOINT = env.str("OBJECT_STORAGE_ENDPOINT", default="").rstrip("/")
# What clients are given in presigned URLs; defaults to OBJECT_STORAGE_ENDPOINT (see object_storage.s3).
OBJECT_STORAGE_PUBLIC_ENDPOINT = env.str("OBJECT_STORAGE_PUBLIC_ENDPOINT", default="").rstrip("/")
OBJECT_STORAGE_ACCESS_KEY_ID = env.str("OBJECT_STORAGE_ACCESS_KEY_ID", default="")
OBJECT_STORAGE_SECRET_ACCESS_KEY = env.str("OBJECT_STORAGE_SECRET_ACCESS_KEY", default="")
OBJECT_STORAGE_BUCKET = env.str("OBJECT_STORAGE_BUCKET", default="posthog")
OBJECT_STORAGE_REGION = env.str("OBJECT_STORAGE_REGION", default="us-east-1")
OBJECT_STORAGE_LOCAL_DIR = DATA_DIR / "object_storage"

# --- Logging ---------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
_log_renderer = (
    structlog.dev.ConsoleRenderer(colors=False)
    if env.bool("LOG_PRETTY", default=DEBUG)
    else structlog.processors.JSONRenderer()
)
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": structlog.stdlib.ProcessorFormatter,
            # Records from other libraries (Django's request log with its exc_info) get their traceback written
            # out as text, as structlog's own do.
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,  # last before rendering: a traceback's text is redacted too
                _log_renderer,
            ],
            "foreign_pre_chain": [
                structlog.stdlib.ExtraAdder(allow=("request_id",)),  # set by ContextVarsFilter
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
            ],
        }
    },
    "filters": {"context": {"()": "posthog_clone.log_context.ContextVarsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "temporalio": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
