# SPDX-License-Identifier: GPL-3.0-or-later
"""Exports that need Blender's own exporters (binary FBX), done on the main thread before a job starts.

GLB and OBJ uploads are written by the worker from the snapshot arrays (``core.meshfile``), so the main
thread only pays for FBX. A static mesh is exported through a temporary object with an identity transform,
so the service sees the object-space mesh and results line up with the source; the temporary object and
mesh are removed again whatever happens.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from ..core.errors import InputError


def export_fbx(obj: bpy.types.Object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    temp = bpy.data.objects.new(obj.name + "_export", mesh)
    scene = bpy.context.scene
    scene.collection.objects.link(temp)
    part = path.with_name(path.name + ".part.fbx")
    try:
        with bpy.context.temp_override(selected_objects=[temp], active_object=temp, object=temp):
            bpy.ops.export_scene.fbx(
                filepath=str(part), use_selection=True, use_mesh_modifiers=False, path_mode="STRIP",
                add_leaf_bones=False, bake_anim=False,
            )  # fmt: skip
        part.replace(path)
    except RuntimeError as exc:
        raise InputError(f"could not export '{obj.name}' as FBX: {str(exc).splitlines()[-1]}") from exc
    finally:
        part.unlink(missing_ok=True)
        bpy.data.objects.remove(temp, do_unlink=True)
        bpy.data.meshes.remove(mesh)
    return path
