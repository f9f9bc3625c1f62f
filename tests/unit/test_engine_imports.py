# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine package stays self-contained: no bpy, no scipy, native libraries only on demand."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_FILES = sorted((ROOT / "engines").glob("*.py"))
ALLOWED_THIRD_PARTY = {"numpy", "pynanoinstantmeshes", "fast_simplification", "xatlas"}
LAZY_ONLY = {"pynanoinstantmeshes", "fast_simplification"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for every absolute import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], id(node) in top_level))
    return found


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_only_allowed_imports(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# SPDX-License-Identifier: GPL-3.0-or-later\n")
    assert ast.get_docstring(ast.parse(text)), "every engine module states its contract"
    assert len(text.splitlines()) < 400
    for module, at_top in _imports(path):
        assert module == "__future__" or module in sys.stdlib_module_names or module in ALLOWED_THIRD_PARTY, (
            f"{path.name} imports {module}"
        )
        assert not (module in LAZY_ONLY and at_top), f"{path.name} must import {module} lazily"


def test_top_level_import_pulls_in_no_blender_or_native_modules():
    code = (
        "import json, sys\nimport engines.child, engines.pipeline\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = {name.split(".")[0] for name in json.loads(out)}
    forbidden = {"bpy", "mathutils", "bmesh", "scipy", "retopo_hub"} | LAZY_ONLY
    assert not loaded & forbidden
