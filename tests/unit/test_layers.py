"""Imports point one way: the layering of the code, enforced (``make test``; see docs/design.md).

Every import counts — module level, inside a function, under ``TYPE_CHECKING`` — since a function-local
import is still a dependency (it only hides a cycle until the day it runs).

- Between top-level folders: ``shared`` (the domain, bundled into every Lambda) imports none of
  ``functions``, ``infra``, ``nudge``; ``functions`` (thin handlers) import ``shared`` only and never
  each other; ``infra`` (CDK) never imports ``functions`` or ``nudge``.
- Inside ``shared``: one package per concern, in layers (:data:`LAYERS`, lowest first). A package
  imports only packages in lower layers; packages side by side in a layer never import each other;
  no import cycle between modules. Where new code goes: docs/design.md, "The packages of shared/".
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


LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),  # clock, errors, money, reserved ids, queue ports, HMAC keys
    ("events",),  # the event contract, EventBridge patterns, traits
    # profile, contact ledger, what is kept after erasure, their stores' ports | products: their
    # bounds, updates by event time, what a message shows of them, the catalog's port
    ("profiles", "catalog"),
    ("recommendations",),  # item-to-item co-occurrence from the profiles' recent products, a shopper's top-N
    ("privacy",),  # erasure: pseudonyms, markers, the erase-a-shopper request
    ("campaigns",),  # the campaign model, audience language, schedules, policy, templates, loader
    ("deployment",),  # topology (tables, queues, functions, rules, schedules) and names
    ("measurement", "work"),  # attribution | running a queue batch, parking failures
    ("experiments",),  # variants: assignment, the sequential test, Thompson sampling, intervals
    ("delivery",),  # guards, links, the deliverer, feedback, preferences
    ("journeys",),  # a shopper's journey instance, moved step by step (sends through delivery)
    ("ingest", "triggers", "batch", "predictions"),  # the services each function runs
    ("adapters",),  # AWS behind the ports
    ("platform",),  # settings, the one wiring, metrics, auth
)
RANK = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_package_of_shared_has_a_layer_and_no_module_sits_loose() -> None:
    found = {package_of(m) for m in modules("shared")} - {""}
    assert found == set(RANK), f"place these in LAYERS: {sorted(found - set(RANK))}"
    loose = sorted(
        m for m in modules("shared") if m.count(".") == 1 and not (ROOT / m.replace(".", "/")).is_dir()
    )
    assert loose == [], "a module of shared/ belongs in one of its packages"


def test_a_package_imports_only_lower_layers() -> None:
    wrong = []
    for name, path in modules("shared").items():
        for target, line in imports(path):
            low, high = package_of(name), package_of(target)
            if not target.startswith("shared.") or low == high or "" in (low, high):
                continue
            if RANK[high] >= RANK[low]:
                kind = "beside it" if RANK[high] == RANK[low] else "above it"
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({high} is {kind})")
    assert wrong == []


def test_no_import_cycle_inside_shared() -> None:
    assert cycles(graph("shared")) == []


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


def test_imports_resolve_to_the_module_a_name_comes_from() -> None:
    found = dict(imports(ROOT / "shared" / "adapters" / "dynamo" / "profiles.py"))
    assert {"shared.adapters.dynamo.codec", "shared.profiles.kept", "shared.profiles.profile"} <= set(found)
    assert "shared.deployment.topology" in found  # `from shared.deployment.topology import (A, B)`


def test_no_import_cycle_inside_nudge() -> None:
    assert cycles(graph("nudge")) == []


def test_no_test_imports_a_conftest_and_no_two_test_helpers_share_a_name() -> None:
    """pytest puts each test folder on ``sys.path`` and imports every folder's conftest.py as ``conftest``:
    ``from conftest import`` reads whichever it imported last, and two helper modules of one name shadow
    each other, so a folder that collects alone would fail beside another (as tests/integration did
    beside tests/infra). Shared test constants live in a helper of its own name (tests/fakes.py)."""
    from_a_conftest = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in (ROOT / "tests").rglob("*.py")
        for name, line in imports(path)
        if name == "conftest" or name.startswith("conftest.")
    ]
    assert from_a_conftest == []
    helpers: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("*.py"):
        if path.name != "conftest.py":
            helpers.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    assert {stem: paths for stem, paths in helpers.items() if len(paths) > 1} == {}
