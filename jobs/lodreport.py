# SPDX-License-Identifier: GPL-3.0-or-later
"""What a result object says about its LoD level, for the CLI's outputs and the engine packages.

Contract: ``level_fields(obj)`` reads the custom properties the importer stamps (blender_io/importer.py) and
returns ``{"triangles", "error", "switch_distance", "screen_coverage"}``: triangles the mesh renders as,
its Hausdorff distance to LOD0 in object units and the screen coverage at which it switches in (both None
when not measured, e.g. a cloud service's levels), and the distance from which it is shown (the level's
switch threshold; a service's own threshold for sboxcool). Main thread only (reads bpy objects).
"""

from __future__ import annotations

from typing import Any

import bpy

from ..blender_io.importer import PROP_PREFIX
from ..blender_io.mesh_arrays import triangle_count


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
