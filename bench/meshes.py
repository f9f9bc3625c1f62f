# SPDX-License-Identifier: GPL-3.0-or-later
"""Meshes the repository generates for the demo and the benchmarks, with real Blender (the bpy module).

python bench/meshes.py sample OUT.obj        a bumpy rock, 81,920 triangles (make demo)
python bench/meshes.py sphere N OUT.obj      a bumpy subdivided icosphere with about N triangles
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import bpy
import numpy as np


def bumpy_sphere(triangles: int, name: str = "Rock") -> bpy.types.Object:
    """An icosphere subdivided to at least ``triangles`` faces, displaced by smooth noise (a rock)."""
    # Blender counts the base icosahedron as subdivision 1: faces = 20 * 4 ** (subdivisions - 1).
    subdivisions = 1 + max(0, math.ceil(math.log(max(triangles, 20) / 20, 4) - 1e-9))
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=min(subdivisions, 10), radius=1.0)
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    x, y, z = co.T
    bumps = (
        1.0 + 0.08 * np.sin(5 * x + 1) * np.cos(4 * y) + 0.04 * np.sin(11 * z + 2 * x) + 0.02 * np.cos(23 * y)
    )
    obj.data.vertices.foreach_set("co", (co * bumps[:, None]).ravel())
    obj.data.update()
    return obj


def write_obj(obj: bpy.types.Object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for other in bpy.context.view_layer.objects:
        other.select_set(other == obj)
    bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)


def main(argv: list[str]) -> int:
    bpy.ops.wm.read_homefile(use_empty=True)
    if len(argv) == 2 and argv[0] == "sample":
        obj = bumpy_sphere(80_000)
        write_obj(obj, Path(argv[1]))
    elif len(argv) == 3 and argv[0] == "sphere":
        obj = bumpy_sphere(int(argv[1]))
        write_obj(obj, Path(argv[2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write(f"wrote {argv[-1]}: {len(obj.data.polygons):,} triangles\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
