"""The import graph of benchmark/, baselines/ and deep/: no cycle, no import of another module's private names,
and the low-level helpers (benchmark/common/) import nothing above them.

Every import statement counts: at module level, inside a function (a deferred import still makes the two
modules depend on each other: it only moves the failure to run time) and under ``if TYPE_CHECKING``.
Imports by a name in a string (``importlib.import_module(...)``, the ``bench plan`` tool table) are not seen.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "baselines", "deep")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str]]:
    """(module imported, name taken from it or "") of every import statement of one module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name in known]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:       # from package import module
                    found.append((f"{base}.{alias.name}", ""))
                elif base in known:
                    found.append((base, alias.name))
    return found


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: {target for target, _ in _imported(name, path, known)} - {name} for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search; nodes in sorted order, so the answer is stable)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def private_imports(root: Path) -> list[str]:
    """``module: from other import _name`` for each private name a module takes from another module."""
    known = modules(root)
    return [f"{name}: from {target} import {taken}" for name, path in known.items()
            for target, taken in _imported(name, path, known)
            if taken.startswith("_") and not taken.startswith("__") and target != name]


def _copy_sources(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.csv"))
    return tmp_path


def test_no_import_cycle():
    cycle = find_cycle(graph(ROOT))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found_and_named():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) is None


def test_a_cycle_planted_in_a_copy_of_the_sources_is_found(tmp_path):
    root = _copy_sources(tmp_path)
    helper = root / "benchmark/common/cache.py"
    # a function-level import counts: the cache would call up into the registry, which imports methods using it
    helper.write_text(helper.read_text() + "\n\ndef _planted():\n    from benchmark.registry import methods_of\n")
    cycle = find_cycle(graph(root))
    assert cycle is not None and "benchmark.common.cache" in cycle and "benchmark.registry" in cycle


def test_no_module_imports_private_names_of_another():
    assert private_imports(ROOT) == []


def test_a_planted_private_import_is_found(tmp_path):
    root = _copy_sources(tmp_path)
    user = root / "benchmark/pipeline/estimate.py"
    user.write_text(user.read_text() + "\n\ndef _planted():\n    from benchmark.pipeline.run import _record\n")
    assert private_imports(root) == ["benchmark.pipeline.estimate: from benchmark.pipeline.run import _record"]


def test_low_level_helpers_import_nothing_above_them():
    above = {name: sorted(t for t in targets if t.startswith("benchmark.") and not t.startswith("benchmark.common"))
             for name, targets in graph(ROOT).items() if name.startswith("benchmark.common")}
    assert {name: targets for name, targets in above.items() if targets} == {}
