"""The query languages are a package of their own: importing it loads no Django, so the same code can serve any
store and be reasoned about without a database."""

from __future__ import annotations

import ast
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
        for app in ("environments", "evaluations", "events", "symbol_sets", "pages", "posthog_clone")
        for path in (REPO / app).rglob("*.py")
        if "from query_languages." in path.read_text() or "import query_languages." in path.read_text()
    ]
    assert offenders == []


# --- every arrow points down -----------------------------------------------------------------------------------------
PACKAGE = REPO / "query_languages"
PRINTER = "query_languages.hogql.printer"
# What may print HogQL: the HogQL package's surface and the property filters (their parser checks a HogQL filter's
# meaning; their compiler prints it).
PRINTER_CALLERS = {"query_languages.hogql", "query_languages.property_filters", "query_languages.property_sql"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports, wherever in the module (functions
    included): `from a import b` imports `a.b` when that is a module, else `a`. A package's `__init__`, which Python
    runs before any of its modules, is not counted as imported by them."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    imported.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        module = stack.pop()
        if module not in seen:
            seen.add(module)
            stack.extend(graph[module])
    return seen


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert PRINTER in graph and "query_languages.dialects.base" in graph  # the graph reads the package
    cycles = sorted(module for module in graph if module in reachable(graph, module))
    assert cycles == [], f"modules that import themselves back: {cycles}"


def test_only_the_callers_at_the_top_import_the_printer() -> None:
    graph = import_graph()
    importers = {module for module, imported in graph.items() if PRINTER in imported}
    assert importers <= PRINTER_CALLERS, importers - PRINTER_CALLERS
    parts = reachable(graph, PRINTER)
    assert parts >= {"query_languages.hogql.functions", "query_languages.hogql.types", "query_languages.dialects.base"}
    assert {module for module in parts if PRINTER in reachable(graph, module)} == set()


def test_the_dialects_know_no_printer_and_no_filter() -> None:
    graph = import_graph()
    above = {
        PRINTER,
        "query_languages.hogql.functions",
        "query_languages.property_sql",
        "query_languages.property_filters",
    }
    for module in graph:
        if module.startswith("query_languages.dialects."):
            assert reachable(graph, module) & above == set(), module


def test_no_module_of_the_package_imports_its_surface() -> None:
    graph = import_graph()
    assert {module for module, imported in graph.items() if "query_languages" in imported} == set()
