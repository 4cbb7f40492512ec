"""The layers README's "Layout" draws, read from the source with ``ast`` (nothing is imported).

- ``batterytrace.events`` is the domain: it imports nothing of the read side, the service or the
  command line, and no web framework, database toolkit or CLI library.
- ``batterytrace.projections`` is the read side: it imports nothing of the service or the command
  line, and no web framework or CLI library (SQLAlchemy is its job).
- No two of batterytrace's modules import each other, directly or round a longer loop, at module
  level.

For the two layer rules every import counts, wherever it is written: a dependency deferred into a
function is still a dependency. The cycle rule leaves out imports inside functions and under
``TYPE_CHECKING``: the command line imports a command's libraries only when the command runs,
which keeps start-up lean (``cli/lazy.py``), and such an import runs after every module involved
has finished loading, so it can never meet one half-initialised the way a module-level cycle does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "batterytrace"

# layer -> what it must not import (a module or package name, and everything below it)
FORBIDDEN = {
    "batterytrace.events": (
        "batterytrace.projections",
        "batterytrace.trace",
        "batterytrace.cli",
        "fastapi",
        "starlette",
        "sqlalchemy",
        "typer",
        "uvicorn",
    ),
    "batterytrace.projections": (
        "batterytrace.trace",
        "batterytrace.cli",
        "fastapi",
        "starlette",
        "typer",
    ),
}


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (``from a import b`` is ``a.b`` when b is a module)
    line: int
    at_load: bool  # runs when the importing module is loaded (not in a function, not TYPE_CHECKING)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> list[Import]:
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return list(_walk(tree, package, at_load=True))


def _walk(node: ast.AST, package: str, *, at_load: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield Import(alias.name, child.lineno, at_load)
        elif isinstance(child, ast.ImportFrom):
            base = _absolute(child, package)
            for alias in child.names:
                submodule = f"{base}.{alias.name}"
                yield Import(submodule if submodule in MODULES else base, child.lineno, at_load)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, package, at_load=False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield from _walk(ast.Module([statement], []), package, at_load=False)
            for statement in child.orelse:  # the else of TYPE_CHECKING runs when loaded
                yield from _walk(ast.Module([statement], []), package, at_load=at_load)
        else:
            yield from _walk(child, package, at_load=at_load)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    offences = sorted(
        {
            f"{name} (line {found.line}) imports {found.target}"
            for name in MODULES
            if _within(name, layer)
            for found in imports_of(name)
            if any(_within(found.target, forbidden) for forbidden in FORBIDDEN[layer])
        }
    )
    assert not offences, f"{layer} must not import {', '.join(FORBIDDEN[layer])}:\n" + "\n".join(offences)


def test_no_import_cycles_at_module_level() -> None:
    graph = {
        name: {
            (found.target, found.line)
            for found in imports_of(name)
            if found.at_load and found.target in MODULES and found.target != name
        }
        for name in MODULES
    }
    cycles = [component for component in _strongly_connected(graph) if len(component) > 1]
    described = [
        " ; ".join(
            f"{name} (line {line}) imports {target}"
            for name in sorted(component)
            for target, line in sorted(graph[name])
            if target in component
        )
        for component in cycles
    ]
    assert not cycles, "modules that import each other when loaded:\n" + "\n".join(described)


def _strongly_connected(graph: dict[str, set[tuple[str, int]]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the package has a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(target for target, _ in graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(t for t, _ in graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def test_the_checker_sees_a_cycle_and_a_forbidden_import() -> None:
    """The rules above pass only because the code keeps them, not because the parser misses
    imports: a made-up loop and a made-up lazy import are found."""
    loop = {"a": {("b", 1)}, "b": {("c", 2)}, "c": {("a", 3)}, "d": {("a", 4)}}
    assert [sorted(c) for c in _strongly_connected(loop) if len(c) > 1] == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from batterytrace.trace.application import BatteryTrace\n")
    found = list(_walk(tree, "batterytrace.projections", at_load=True))
    assert found == [Import("batterytrace.trace.application", 2, at_load=False)]
    guarded = ast.parse("if TYPE_CHECKING:\n    import fastapi\nelse:\n    import typer\n")
    found = list(_walk(guarded, "batterytrace.projections", at_load=True))
    assert found == [Import("fastapi", 2, at_load=False), Import("typer", 4, at_load=True)]
