"""Loaded before pytest-django reads the settings (`-p tests.boot` in pyproject's addopts): the test run is an entry
point like manage.py, so it starts the embedded PostgreSQL (unless DATABASE_URL is set) and sets SECRET_KEY."""

from posthog_clone.embedded import prepare_environment

prepare_environment()
