"""The layout of DESIGN.md as checks on the code: lumina's import graph (function-level imports
included) has no cycle, each layer imports only the layers below it, and no module outgrows one
concept (700 lines).

The graph is read from the source with ``ast`` (every ``import`` and ``from ... import`` statement,
wherever it sits), so an import hidden inside a function to dodge a cycle still counts."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1] / "lumina"
MAX_LINES = 700

# Bottom to top; a module may import its own layer and the layers before it.
LAYERS = [
    ("base", ["lumina.errors", "lumina.progress"]),   # what every layer may use: errors, progress bars
    ("ir", ["lumina.ir"]),
    ("transforms", ["lumina.transforms"]),
    ("schedule", ["lumina.schedule"]),
    ("codegen", ["lumina.codegen"]),
    ("backends", ["lumina.backends"]),
    ("compiler", ["lumina.compiler"]),
]


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _targets(module: str, is_package: bool, node: ast.AST, modules: dict) -> list[str]:
    """The lumina modules one import statement names (a ``from`` import of a submodule names it)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, path.name == "__init__.py", node, modules):
                    g.add_edge(module, target, line=node.lineno)
    return g


def _layer(module: str) -> int | None:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def test_the_import_graph_has_no_cycle(graph):
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, "import cycles (function-level imports included):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_each_layer_imports_only_the_layers_below(graph):
    upward = []
    for a, b, data in graph.edges(data=True):
        la, lb = _layer(a), _layer(b)
        if la is not None and (lb is None or lb > la):
            upward.append(f"{a} (line {data['line']}) imports {b}, a layer above it")
    assert not upward, "\n".join(sorted(upward))


def test_no_module_outgrows_one_concept():
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The graph reader itself: a function-level import is an edge, a relative import resolves."""
    tree = ast.parse("def f():\n    from ..compiler import compile_graph\n")
    node = tree.body[0].body[0]
    assert _targets("lumina.ir.graph", False, node, _modules()) == ["lumina.compiler"]
    assert _layer("lumina.ir.graph") < _layer("lumina.compiler")


def test_the_front_reaches_no_backend_internals(graph):
    """Above the compiler, a backend is reached through the device registry, the targets and the
    disk cache (``backends.devices``, ``backends.target``, ``backends.disk_cache``) or through the
    executable it built; the testing harnesses, which check backends kernel by kernel, are the
    exception."""
    public = {"lumina.backends", "lumina.backends.devices", "lumina.backends.target", "lumina.backends.disk_cache"}
    inside = [a for a, b in graph.edges if b.startswith("lumina.backends") and b not in public
              and _layer(a) is None and not a.startswith("lumina.testing")]
    assert not inside, sorted(f"{a} -> {b}" for a, b in graph.edges
                              if a in inside and b.startswith("lumina.backends") and b not in public)
