# SPDX-License-Identifier: GPL-3.0-or-later
"""The layout's rules, read from the source: no import cycle, pure packages stay pure, true docstrings.

Pure: parses files, imports nothing of the product.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "formats", "engines", "providers", "worker", "blender_io", "jobs", "operators", "panels")
ROOT_MODULES = ("__init__", "registration", "preferences", "properties")
BLENDER_ONLY = {"bpy", "bmesh", "mathutils", "addon_utils"}
# What each pure package may import from the product (its own modules aside).
PURE = {
    "core": set(),
    "formats": {"core"},
    "engines": set(),
    "providers": {"core", "formats", "worker"},
    "worker": {"core", "providers", "engines"},
}


def _modules() -> dict[str, Path]:
    found = {name: ROOT / f"{name}.py" for name in ROOT_MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Product modules ``name`` imports, anywhere in the file (a function-level import is still an edge)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package.split(".") if package else []
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        target = ".".join([*base, *(node.module.split(".") if node.module else [])])
        for alias in node.names:
            candidate = f"{target}.{alias.name}" if target else alias.name
            if candidate in MODULES:
                edges.add(candidate)
            elif target in MODULES:
                edges.add(target)
    edges.discard(name)
    return edges


def test_no_import_cycle():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_pure_packages_import_only_what_they_may():
    for package, allowed in PURE.items():
        for name, path in MODULES.items():
            if name != package and not name.startswith(package + "."):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    roots = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    roots = [(node.module or "").split(".")[0]]
                else:
                    roots = []
                assert not BLENDER_ONLY & set(roots), f"{path}: imports {roots}"
            for target in _imports(name, path):
                owner = target.split(".")[0]
                assert owner == package or owner in allowed, f"{name} imports {target}"


def test_every_package_says_where_it_runs():
    for package in PACKAGES:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        for words in ("Runs in", "May import", "Imported by"):
            assert words in doc or package == "engines", f"{package}/__init__.py does not say {words!r}"


def test_every_module_states_its_contract():
    for path in MODULES.values():
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no docstring"


def test_docstrings_cite_only_files_that_exist():
    cited = re.compile(r"``([\w./-]+\.(?:py|md|txt|toml))``|\b([\w-]+/[\w./-]+\.(?:py|md|toml))\b")
    for path in MODULES.values():
        tree = ast.parse(path.read_text())
        docs = [ast.get_docstring(n) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        for doc in [ast.get_docstring(tree), *docs]:
            for match in cited.finditer(doc or ""):
                file = match.group(1) or match.group(2)
                here = [
                    ROOT / file,
                    path.parent / file,
                    ROOT / "tests" / file,
                    ROOT.parent / "shared" / "api" / file,
                ]
                assert any(p.exists() for p in here) or ("/" not in file and _named_anywhere(file)), (
                    path,
                    file,
                )


def _named_anywhere(file: str) -> bool:
    return any(p.name == file for p in ROOT.rglob(file) if ".venv" not in p.parts)


def test_no_module_says_worker_threads_run_in_blender():
    for path in MODULES.values():
        text = path.read_text()
        for phrase in (
            "worker thread inside Blender",
            "in a worker thread inside",
            "Blender's worker thread",
        ):
            assert phrase not in text, f"{path}: {phrase!r}"
