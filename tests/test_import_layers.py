"""The package's layers: the engine imports nothing above it, and modules do not import in circles."""

from __future__ import annotations

import ast
from pathlib import Path

from fresh_process import run_python

PACKAGE = Path(__file__).resolve().parents[1] / "napari_segsuite"
KNOWN_CIRCLES: list[set[str]] = []  # none left; a new one must be untangled, not listed


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere (at the top or inside functions)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]) if node.level else node.module
            base = base.rstrip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules and m != name}


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


# each layer (a sub-package) may import the ones below it; the modules at the package's top are
# foundations that import no layer (README "Layout")
LAYERS = [{"_widgets", "cli"}, {"sam", "learn"}, {"techniques"}, {"metrics", "io"}]


def _layer_of(module: str) -> int | None:
    """Rank of a module's layer (0 = top), or None for a foundation module at the top."""
    parts = module.split(".")
    if len(parts) < 3 and not (len(parts) == 2 and any(parts[1] in layer for layer in LAYERS)):
        return None
    for rank, layer in enumerate(LAYERS):
        if parts[1] in layer:
            return rank
    return None


def test_imports_point_down_the_layers_and_foundations_import_no_layer():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        here = _layer_of(name)
        for target in _imports(name, path, modules):
            there = _layer_of(target)
            if there is None:
                continue
            if here is None and name != "napari_segsuite":
                upward.append(f"{name} (a foundation) imports {target}")
            elif here is not None and there < here:
                upward.append(f"{name} imports {target}, a layer above it")
    assert not upward, "\n".join(upward)


def test_no_module_imports_in_a_circle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    circles = [c for c in _circles(graph) if c not in KNOWN_CIRCLES]
    assert not circles, f"modules that import each other: {circles}"


def test_the_classical_engine_loads_without_learning_or_torch():
    code = ("import sys, napari_segsuite.techniques as t; t.get('threshold.global'); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('napari_segsuite.learn')))")
    assert run_python(code).stdout.strip() == "[]"


def test_benchmarks_and_docs_scripts_import_names_that_exist():
    """The scripts are not run by the suite; a renamed function must not break them silently."""
    import ast
    import importlib

    root = PACKAGE.parent
    missing = []
    for script in sorted([*root.glob("benchmarks/*.py"), *root.glob("docs/*.py")]):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("napari_segsuite"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            missing.append(f"{script.name}: {node.module}.{alias.name}")
    assert not missing, missing
