# SPDX-License-Identifier: GPL-3.0-or-later
"""The one upload that needs Blender's own exporter: a rigged mesh's binary FBX, with its armature.

Main thread only, before a job starts. Every other upload (GLB, OBJ, a static mesh's FBX) is written by the
worker from the snapshot arrays (``formats``), so the main thread pays for FBX only
when there are bones to send.

``export_fbx`` writes the mesh together with the armature objects its Armature modifiers use: bones, skin
weights, the rest pose, no leaf bones, no animation; the mesh's other modifiers are applied, the Armature
ones are not. Like every upload the file holds the mesh in its own object space, so results line up with
the source: the export goes through temporary copies of the objects (sharing their mesh and armature
data), placed so that the mesh sits at the origin and the armature where it is relative to the mesh. The
copies are removed whatever happens, the file appears only complete (``<name>.part.fbx``, then a rename),
and the scene is left as it was.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from ..core.errors import InputError


def armatures_of(obj: bpy.types.Object) -> list[bpy.types.Object]:
    """The armature objects ``obj``'s Armature modifiers deform it with, in modifier order."""
    found: list[bpy.types.Object] = []
    for modifier in obj.modifiers:
        rig = modifier.object if modifier.type == "ARMATURE" else None
        if rig is not None and rig.type == "ARMATURE" and rig not in found:
            found.append(rig)
    return found


def export_fbx(obj: bpy.types.Object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    to_origin = obj.matrix_world.inverted_safe()
    part = path.with_name(path.name + ".part.fbx")
    copies: dict[bpy.types.Object, bpy.types.Object] = {}
    try:
        for original in (obj, *armatures_of(obj)):
            copy = copies[original] = original.copy()
            # Animation, drivers, constraints or a parent would move the copy back to the original's place.
            copy.animation_data_clear()
            copy.constraints.clear()
            copy.parent = None
            copy.hide_viewport = False  # hidden objects are not evaluated, and armatures are often hidden
            bpy.context.scene.collection.objects.link(copy)
            copy.matrix_world = to_origin @ original.matrix_world
        for modifier in copies[obj].modifiers:
            if modifier.type == "ARMATURE" and modifier.object in copies:
                modifier.object = copies[modifier.object]
        mesh, selected = copies[obj], list(copies.values())
        with bpy.context.temp_override(selected_objects=selected, active_object=mesh, object=mesh):
            bpy.ops.export_scene.fbx(
                filepath=str(part), use_selection=True, object_types={"ARMATURE", "MESH"},
                use_mesh_modifiers=True, add_leaf_bones=False, bake_anim=False, path_mode="STRIP",
            )  # fmt: skip
        part.replace(path)
    except RuntimeError as exc:
        raise InputError(f"could not export '{obj.name}' as FBX: {str(exc).splitlines()[-1]}") from exc
    finally:
        part.unlink(missing_ok=True)
        for copy in copies.values():
            bpy.data.objects.remove(copy, do_unlink=True)
    return path
