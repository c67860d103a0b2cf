"""What the worker may depend on: no HTTP framework code, and one module speaking to the LLM."""

from __future__ import annotations

import json
import subprocess
import sys

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
ours = ("evaluations", "events", "environments", "posthog_clone", "symbol_sets")
print(json.dumps({
    "drf": sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("rest_framework", "exceptions_hog")),
    "openai_users": sorted(m for m, module in list(sys.modules.items())
                           if m.split(".")[0] in ours and "openai" in getattr(module, "__dict__", {})),
}))
"""


def test_the_worker_imports_no_drf_and_only_the_llm_module_imports_openai() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["drf"] == []
    assert found["openai_users"] == ["posthog_clone.llm"]
