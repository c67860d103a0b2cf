"""The core knows no app: `posthog_clone/` holds settings and shared API machinery, and the apps register what they
add to it (readiness checks, metrics collectors) from their AppConfig.ready. Only the project's settings and its
URLconf name the apps."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

APPS = {"environments", "evaluations", "events", "symbol_sets", "pages"}
NAMING_APPS = {"posthog_clone/settings.py", "posthog_clone/urls.py"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_module_of_the_core_imports_an_app() -> None:
    root = Path(settings.BASE_DIR)
    offenders = {
        str(path.relative_to(root)): sorted(m for m in imported_modules(path) if m.split(".")[0] in APPS)
        for path in sorted((root / "posthog_clone").rglob("*.py"))
        if str(path.relative_to(root)) not in NAMING_APPS
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_no_selectors_module_imports_a_serializers_module() -> None:
    """Reads do not depend on how answers are shown: a view hands a selector what to read (e.g. the columns a
    presenter renders), so a selector serves any caller, the workflow's activities included."""
    root = Path(settings.BASE_DIR)
    offenders = {
        str(path.relative_to(root)): sorted(m for m in imported_modules(path) if m.rsplit(".", 1)[-1] == "serializers")
        for app in sorted(APPS)
        for path in (root / app).rglob("selectors.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
