# SPDX-License-Identifier: GPL-3.0-or-later
"""Goal 5 (reported, no target): main-thread time to import each provider's result format at ~100K faces.

Files are written by Blender's own exporters from generated bumpy cube-spheres (``data.quad_sphere``):
OBJ with ~100K quads (what CSM returns), GLB with ~100K triangles (Tripo, sboxcool), FBX with ~100K quads
(Tripo with quads on). Each is imported through the product's ``blender_io.importer.import_mesh_file``
(Blender importer, world-space merge, clean-up of the imported objects), ``repeats`` times; the median is
reported with the face count that came back.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

import bpy
from data import quad_sphere
from harness import face_counts, median, remove_object, say, select_only, timed

FACES = 100_000
# format -> (which providers return it, faces of the sphere written, exporter)
FORMATS = {
    "obj_quads": ("CSM", FACES, "obj"),
    "glb_tris": ("Tripo, sboxcool", FACES // 2, "glb"),  # a triangulated quad: 2 triangles each
    "fbx_quads": ("Tripo (quads)", FACES, "fbx"),
}


def _export(obj: bpy.types.Object, kind: str, path: Path) -> None:
    select_only(obj)
    with bpy.context.temp_override(selected_objects=[obj], active_object=obj, object=obj):
        if kind == "obj":
            bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)
        elif kind == "glb":
            bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", use_selection=True)
        else:
            bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True)


def run(addon, *, repeats: int) -> dict[str, Any]:
    importer = importlib.import_module(addon.__name__ + ".blender_io.importer")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for name, (providers, faces, kind) in FORMATS.items():
            obj = quad_sphere(faces, f"import_{name}")
            path = Path(tmp) / f"{name}.{kind}"
            _export(obj, kind, path)
            remove_object(obj)
            runs, counts = [], (0, 0)
            for _ in range(repeats):
                seconds, mesh = timed(lambda p=path: importer.import_mesh_file(p))
                runs.append(seconds)
                counts = face_counts(mesh)
                bpy.data.meshes.remove(mesh)
            out[name] = {
                "providers": providers,
                "seconds": round(median(runs), 3),
                "seconds_runs": [round(s, 3) for s in runs],
                "faces": counts[0],
                "quads": counts[1],
                "file_mb": round(path.stat().st_size / 1e6, 2),
            }
            say(
                f"import {name}: {out[name]['seconds']:.2f}s for {counts[0]:,} faces "
                f"({out[name]['file_mb']} MB)"
            )
    return out
