"""Imports run one way: each shipped module may import only the layers below its own.

Layers, bottom to top (README "Code map"): config.settings -> store (with the vocabulary) ->
client -> config.wiring -> agent.queue -> ingest, agent, dashboards (siblings) -> config.cli,
config.stack, config.backup, config.migrate, bench and every `__main__`. Every import counts,
at module level or inside a function; nothing shipped imports tests, and no import cycle exists
between modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "store", "client", "ingest", "agent", "dashboards", "bench")
SIBLINGS = 5
TOP = 6


def layer(module: str) -> int:
    """The layer of a shipped module (higher may import lower)."""
    if module.endswith(".__main__") or module in (
        "config.cli",
        "config.stack",
        "config.backup",
        "config.migrate",
    ):
        return TOP
    if module in ("config", "config.settings"):
        return 0
    if module == "config.wiring":
        return 3
    if module == "agent.queue":
        return 4
    top = module.split(".")[0]
    return {"store": 1, "client": 2, "bench": TOP}.get(top, SIBLINGS)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every project module `path` imports (lazy imports included), by full name."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "tests":
                yield "tests"
            elif name in known:
                yield name
                if isinstance(node, ast.ImportFrom) and name != node.module:
                    break  # `from pkg import submodule`: the submodule is what is imported


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        edges[name] = {m for m in imported(path, known) if m != name}
    return edges


def test_shipped_code_never_imports_tests() -> None:
    offenders = sorted(name for name, deps in graph().items() if "tests" in deps)
    assert offenders == []


def test_imports_run_down_the_layers() -> None:
    wrong = []
    for name, deps in graph().items():
        for dep in deps - {"tests"}:
            lower = layer(dep) < layer(name)
            same_package = layer(dep) == layer(name) and (
                layer(name) == TOP or dep.split(".")[0] == name.split(".")[0]
            )
            if not (lower or same_package):
                wrong.append(f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})")
    assert wrong == []


def test_no_import_cycles() -> None:
    edges = graph()
    cycles = [scc for scc in strongly_connected(edges) if len(scc) > 1]
    assert cycles == []


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion depth is not ours)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in edges), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return found


def test_the_checks_can_fail() -> None:
    """The checker sees a cycle and a wrong-way import when there is one."""
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"], ["c"]]
    assert layer("store.models") < layer("ingest.app") and layer("dashboards.app") == SIBLINGS
    assert layer("ingest.__main__") == TOP and layer("agent.queue") < layer("ingest.app")
