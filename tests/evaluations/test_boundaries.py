"""What the worker and the web processes load: the worker no HTTP framework code; neither the LLM client nor the S3
client until one is used (each takes about half a second to import, paid by every process start); and one module
speaking to the LLM."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PROBE = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "posthog_clone.settings"
import django
django.setup()
before = set(sys.modules)
from django.utils.module_loading import import_string
for path in [*django.conf.settings.TEMPORAL_WORKFLOWS, *django.conf.settings.TEMPORAL_ACTIVITIES,
             *django.conf.settings.TEMPORAL_WORKER_LOOPS]:
    import_string(path)
import posthog_clone.temporal.worker
worker = set(sys.modules)
from django.urls import get_resolver
get_resolver().url_patterns  # every view, as a web worker loads them before its first request
print(json.dumps({
    "drf_in_worker": sorted(m for m in worker - before if m.split(".")[0] in ("rest_framework", "exceptions_hog")),
    "loaded": sorted({m.split(".")[0] for m in sys.modules} & {"openai", "boto3", "botocore"}),
}))
"""
APPS = ("evaluations", "events", "environments", "posthog_clone", "symbol_sets", "query_languages")


def test_the_worker_imports_no_drf_and_no_process_loads_the_llm_or_s3_client_at_start() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"drf_in_worker": [], "loaded": []}


def test_only_the_llm_module_imports_openai() -> None:
    root = Path(settings.BASE_DIR)
    importing = sorted(
        str(path.relative_to(root))
        for app in APPS
        for path in (root / app).rglob("*.py")
        if re.search(r"^\s*(import openai|from openai\b)", path.read_text(), re.MULTILINE)
    )
    assert importing == ["posthog_clone/llm.py"]
