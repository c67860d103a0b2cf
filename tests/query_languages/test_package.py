"""The query languages are a package of their own: importing it loads no Django, so the same code can serve any
store and be reasoned about without a database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_package_loads_no_django() -> None:
    probe = "import sys, query_languages; print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_other_apps_use_only_its_public_surface() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for app in ("environments", "evaluations", "events", "symbol_sets", "posthog_clone")
        for path in (REPO / app).rglob("*.py")
        if "from query_languages." in path.read_text() or "import query_languages." in path.read_text()
    ]
    assert offenders == []
