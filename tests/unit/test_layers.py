"""Imports point one way: the layering of the code, enforced (``make test``; see docs/design.md).

Every import counts — module level, inside a function, under ``TYPE_CHECKING`` — since a function-local
import is still a dependency (it only hides a cycle until the day it runs).

- Between top-level folders: ``shared`` (the domain, bundled into every Lambda) imports none of
  ``functions``, ``infra``, ``nudge``; ``functions`` (thin handlers) import ``shared`` only and never
  each other; ``infra`` (CDK) never imports ``functions`` or ``nudge``.
- Inside ``shared``: no import cycle between modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("shared", "functions", "infra", "nudge")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(folder: str) -> dict[str, Path]:
    return {module_name(p): p for p in (ROOT / folder).rglob("*.py")}


ALL = {name: path for folder in FOLDERS for name, path in modules(folder).items()}


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (resolved to the longest known module name), with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in ALL else base), node.lineno


def graph(folder: str) -> dict[str, set[str]]:
    own = modules(folder)
    return {
        name: {target for target, _ in imports(path) if target in own and target != name}
        for name, path in own.items()
    }


FORBIDDEN = {
    "shared": ("functions", "infra", "nudge"),
    "functions": ("infra", "nudge"),
    "infra": ("functions", "nudge"),
}


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_a_lower_folder_never_imports_a_higher_one(folder: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules(folder).items()
        for target, line in imports(path)
        if target.split(".")[0] in FORBIDDEN[folder]
    ]
    assert wrong == []


def test_a_handler_never_imports_another_function() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules("functions").items()
        for target, line in imports(path)
        if target.startswith("functions.") and target.split(".")[1] != name.split(".")[1]
    ]
    assert wrong == []


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_aliased_imports_are_resolved() -> None:
    found = dict(imports(ROOT / "shared" / "adapters" / "dynamo.py"))
    assert "shared.adapters" in found and "shared.profile" in found
