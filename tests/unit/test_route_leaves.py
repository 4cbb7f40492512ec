"""Route modules are leaves: what they share (models, paging, bodies) lives in ``trace/api``, so
no route module imports another one and a change to one route never ripples through the others."""

from __future__ import annotations

import ast
from pathlib import Path

import batterytrace.trace.api.routes as routes_package

ROUTES = Path(routes_package.__file__).parent
PREFIX = "batterytrace.trace.api.routes"


def imported_modules(source: Path) -> set[str]:
    """Every module ``source`` imports, as dotted names (``from … import x`` counts ``….x`` too,
    since ``from batterytrace.trace.api.routes import reports`` imports a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_route_module_imports_another_route_module() -> None:
    modules = sorted(p for p in ROUTES.glob("*.py") if p.name != "__init__.py")
    assert modules, "no route modules found"
    crossings = {
        module.name: sorted(name for name in imported_modules(module) if name.startswith(f"{PREFIX}."))
        for module in modules
    }
    assert {name: found for name, found in crossings.items() if found} == {}
