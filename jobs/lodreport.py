# SPDX-License-Identifier: GPL-3.0-or-later
"""What a result object says about its LoD level, for the CLI's outputs and the engine packages.

Contract: ``level_fields(obj)`` reads the custom properties the importer stamps (blender_io/importer.py) and
returns ``{"triangles", "error", "switch_distance", "screen_coverage"}``: triangles the mesh renders as,
its Hausdorff distance to LOD0 in object units and the screen coverage at which it switches in (both None
when not measured, e.g. a cloud service's levels), and the distance from which it is shown (the level's
switch threshold; a service's own threshold for sboxcool). ``write_export`` writes the engine package
``--export`` asks for (blender_io/packages.py); ``check_export`` refuses, before the job runs, a source whose
rig that package could not carry. Main thread only (reads bpy objects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from ..blender_io.importer import PROP_PREFIX
from ..blender_io.mesh_arrays import triangle_count
from ..blender_io.packages import TARGETS, check_rig, export_package
from ..core.errors import RetopoError, one_line
from . import records


def _optional(obj: bpy.types.Object, key: str) -> float | None:
    value = obj.get(PROP_PREFIX + key)
    return None if value is None else float(value)


def level_fields(obj: bpy.types.Object) -> dict[str, Any]:
    return {
        "triangles": triangle_count(obj.data) if obj.type == "MESH" else 0,
        "error": _optional(obj, "error"),
        "switch_distance": float(obj.get(PROP_PREFIX + "switch_threshold", 0.0)),
        "screen_coverage": _optional(obj, "screen_coverage"),
    }


def export_targets() -> tuple[str, ...]:
    return TARGETS


def check_export(target: str | None, source: bpy.types.Object) -> None:
    """InputError before a job starts when ``target``'s package could not carry the source's rig."""
    if target:
        check_rig([source], target)


def write_export(target: str | None, record: Any, out_dir: Path, stem: str) -> dict[str, str]:
    """``{"export": folder}`` once the job's engine package for ``target`` is written ({} without one);
    RetopoError in one line when it cannot be (the other outputs are written by then)."""
    if not target:
        return {}
    objects = [bpy.data.objects[n] for n in records.result_names(record) if n in bpy.data.objects]
    try:
        return {"export": str(export_package(objects, target, out_dir, stem))}
    except (RuntimeError, ValueError) as exc:
        raise RetopoError(f"the {target} package was not written: {one_line(str(exc), 160)}") from exc
