# SPDX-License-Identifier: GPL-3.0-or-later
"""Real Blender scenes for the tests: primitives, broken meshes and fingerprints of what must not change."""

from __future__ import annotations

import hashlib

import bpy
import numpy as np


def ico_sphere(name: str = "Rock", *, subdivisions: int = 6, location=(1.0, 2.0, 3.0)) -> bpy.types.Object:
    """A slightly bumpy icosphere, selected and active: 20 * 4 ** (subdivisions - 1) triangles."""
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=subdivisions, radius=1.0, location=location)
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    bumps = 1.0 + 0.05 * np.sin(5 * co[:, 0]) * np.cos(4 * co[:, 1])
    obj.data.vertices.foreach_set("co", (co * bumps[:, None]).ravel())
    obj.data.update()
    obj.rotation_euler = (0.3, 0.0, 0.7)
    obj.scale = (1.5, 1.5, 1.5)
    select_only(obj)
    bpy.context.view_layer.update()  # so matrix_world (and fingerprints) reflect the transform
    return obj


def mesh_object(name: str, verts, faces) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(v) for v in verts], [], [tuple(f) for f in faces])
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    select_only(obj)
    return obj


def select_only(*objects: bpy.types.Object) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


def fingerprint(obj: bpy.types.Object) -> str:
    """Hash of an object's geometry, transform and name: equal before and after means untouched."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    loops = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", loops)
    digest = hashlib.sha256(co.tobytes() + loops.tobytes())
    digest.update(repr([list(row) for row in obj.matrix_world]).encode())
    digest.update(obj.name.encode() + mesh.name.encode())
    return digest.hexdigest()


def scene_state() -> tuple:
    return (
        sorted(o.name for o in bpy.data.objects),
        sorted(m.name for m in bpy.data.meshes),
        sorted(c.name for c in bpy.data.collections),
    )


def face_sizes(obj: bpy.types.Object) -> np.ndarray:
    sizes = np.empty(len(obj.data.polygons), np.int32)
    obj.data.polygons.foreach_get("loop_total", sizes)
    return sizes
