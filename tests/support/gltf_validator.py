# SPDX-License-Identifier: GPL-3.0-or-later
"""The Khronos glTF validator (npm ``gltf-validator``, pinned in tools/gltf-validator) run with Node.

``validate(path)`` returns the validator's report (a dict; ``report["issues"]["numErrors"]``...). The
Makefile's ``validator`` target installs it (``make test`` does so first); without it this fails, saying so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gltf-validator"


def validate(path: Path) -> dict:
    node = shutil.which("node")
    if node is None or not (TOOL / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("the glTF validator is not installed: run `make validator` (needs Node.js and npm)")
    done = subprocess.run(
        [node, str(TOOL / "validate.js"), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def errors(report: dict) -> list[dict]:
    return [m for m in report["issues"]["messages"] if m["severity"] == 0]
