"""The package's import rules, checked on the source (AST), not by importing it.

- no import cycle between crossspec's modules (function-level imports count too: a lazy import
  hides a cycle from Python, not from a reader);
- no module imports a private name (``_x``) or module from another package of crossspec;
- no module but the cooperative task's tests whether a model is cooperative: the trainer and
  everything else ask the training task;
- a module imports only from its own layer or the layers below (CONTRIBUTING.md).
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "crossspec"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package(module: str) -> str:
    """The package a module belongs to: ``crossspec.engine.tasks.base`` -> ``crossspec.engine.tasks``."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name.startswith("crossspec")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(module).split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("crossspec"):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((sub, None, node.lineno) if sub in MODULES else (target, a.name, node.lineno))
    return found


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _, _ in _imports(m):
            if target in MODULES and target != m:
                graph[m].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _is_parent_init(importer: str, target: str) -> bool:
    # a package's __init__ importing its own submodules (to register them or re-export names) and
    # the submodules importing the package's siblings is how Python packages are built, not a cycle
    return MODULES[importer].name == "__init__.py" and target.startswith(importer + ".")


def test_no_import_cycles():
    graph = {m: {t for t in ts if not _is_parent_init(m, t)} for m, ts in _edges().items()}
    assert _cycles(graph) == []


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))  # __version__ is public


def test_no_private_names_across_packages():
    bad = []
    for m in MODULES:
        for target, name, line in _imports(m):
            private = _private(name or "") or _private(target.rpartition(".")[2])
            if private and target in MODULES and _package(target) != _package(m):
                bad.append(f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {target}.{name or ''}")
    assert bad == []


def test_only_the_cooperative_task_tests_for_cooperative_models():
    bad = []
    for m, path in MODULES.items():
        if m == "crossspec.engine.tasks.cooperative":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                consts = [c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
                if "cooperative" in consts:
                    bad.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert bad == []


# CONTRIBUTING.md, "Layers": a module imports from its own layer or the ones below
LAYERS = {"errors": 1, "domains": 1, "color": 1, "device": 1,
          "io": 2, "ops": 2, "metrics": 2, "losses": 2, "tta": 2,
          "config": 3, "models": 3, "data": 3,
          "inference": 4, "evaluation": 4, "raster_eval": 4, "figures": 4, "audit": 4,
          "engine": 5, "cli": 6, "__main__": 6}


def test_modules_import_only_their_layer_and_below():
    def layer(module: str) -> int:
        return LAYERS[module.split(".")[1]]

    bad = []
    for m in MODULES:
        if m == "crossspec":
            continue  # the package root's lazy API
        for target, _, line in _imports(m):
            if target in MODULES and target != "crossspec" and layer(target) > layer(m):
                bad.append(f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {target}")
    assert bad == []


def test_the_checker_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["crossspec.engine.trainer", "crossspec.engine.tasks.cooperative"])
def test_the_checker_reads_imports(module):
    assert any(t == "crossspec.config" for t, _, _ in _imports(module))
