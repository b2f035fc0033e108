"""The package boundaries of docs/design.md, read from the source rather than from `sys.modules`.

A cycle between two modules works until someone moves an import, then fails with a half-built
module at start-up; a `kws_app` module that pulls in torch or `training` makes the desktop app
(and its installer) carry the training stack. Both are easy to add by accident inside a function,
where no import-order error shows up, so every `import` statement counts, wherever it is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("kws_app", "training")
APP_PACKAGE = "kws_app"
GUI_PACKAGE = "kws_app.ui"
# Top-level names the app must never import: the training stack and the GUI toolkit.
TRAINING_ONLY = ("training", "torch")
GUI_TOOLKIT = "PySide6"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO_DIR / package).rglob("*.py"))
    }


def _imported_names(module: str, path: Path) -> Iterator[str]:
    """Every dotted name an import statement anywhere in the file refers to, relative ones resolved.

    `from a.b import c` yields both `a.b` and `a.b.c`: `c` may be a submodule or a name in `a.b`,
    and the caller keeps whichever is a module.
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                keep = len(anchor) - node.level + (1 if is_package else 0)
                base = ".".join([*anchor[:keep], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _with_parents(name: str) -> Iterator[str]:
    """Importing `a.b.c` runs `a` and `a.b` first, so they are imported too."""
    parts = name.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])


def _import_graph() -> dict[str, set[str]]:
    """Own module -> the own modules it imports (its own parent packages left out)."""
    modules = _source_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        own_parents = set(_with_parents(module))
        graph[module] = {
            target
            for name in _imported_names(module, path)
            for target in _with_parents(name)
            if target in modules and target not in own_parents
        }
    return graph


def _top_level_imports(path: Path, module: str) -> set[str]:
    return {name.split(".")[0] for name in _imported_names(module, path) if name}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def _import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another, directly or not (sorted, for a message)."""
    reach = {module: _reachable(graph, module) for module in graph}
    groups = {
        tuple(sorted({module} | {other for other in reach[module] if module in reach[other]}))
        for module in graph
        if module in reach[module]
    }
    return [list(group) for group in sorted(groups)]


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = _import_graph()
    # training/export.py imports the app's loader at module level and training/cli.py imports
    # the train command inside main(): both must show up, or the cycle check proves nothing.
    assert "kws_app.inference.model" in graph["training.export"]
    assert "training.train" in graph["training.cli"]


def test_the_cycle_finder_finds_every_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"a"}}
    assert _import_cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert _import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    cycles = _import_cycles(_import_graph())
    assert cycles == [], "modules that import each other: " + "; ".join(map(", ".join, cycles))


def test_the_app_imports_neither_training_nor_torch() -> None:
    offenders = {
        module: sorted(_top_level_imports(path, module) & set(TRAINING_ONLY))
        for module, path in _source_modules().items()
        if module.split(".")[0] == APP_PACKAGE
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_only_the_ui_package_imports_pyside6() -> None:
    offenders = [
        module
        for module, path in _source_modules().items()
        if module != GUI_PACKAGE
        and not module.startswith(GUI_PACKAGE + ".")
        and GUI_TOOLKIT in _top_level_imports(path, module)
    ]
    assert offenders == []
