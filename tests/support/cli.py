# SPDX-License-Identifier: GPL-3.0-or-later
"""Running the extension's CLI in this process, and the OBJ files it is fed, for the Blender tests."""

from __future__ import annotations

from pathlib import Path

import bpy


def export_selected_obj(path: Path) -> Path:
    """The selected objects as an OBJ written by Blender's own exporter (no .mtl)."""
    bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)
    return path


def run_cli(addon, argv, capsys) -> tuple[int, str, str]:
    """``retopo-hub argv`` in this process: (exit code, stdout, stderr)."""
    code = addon.jobs.cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
