"""The package's modules form layers (issue 14): no import circle, and nothing below
reparam.dask and reparam.torch imports them (Dask inputs reach reparam.dask through the
registry in reparam._backends). Every import is read from the source, lazy and typing-only ones too."""

from __future__ import annotations

import ast
import pathlib

import reparam

PKG = pathlib.Path(reparam.__file__).parent
BRIDGES = {"dask", "torch"}


def package_imports() -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for f in PKG.glob("*.py"):
        name = f.stem
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text())):  # typing-only imports count too
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reparam."):
                deps.add(node.module.split(".")[1])  # type: ignore[union-attr]
        deps.discard(name)
        graph[name] = {d for d in deps if (PKG / f"{d}.py").exists()}
    return graph


def test_no_import_circle() -> None:
    graph = package_imports()
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            assert state.get(d) != 1, "import circle: " + " -> ".join([*path, m, d])
            if d not in state:
                visit(d, [*path, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_bridges_sit_on_top() -> None:
    graph = package_imports()
    for m, deps in graph.items():
        if m in BRIDGES or m in ("__init__", "__main__", "_bench"):
            continue
        assert not deps & BRIDGES, f"reparam.{m} imports {deps & BRIDGES}"
