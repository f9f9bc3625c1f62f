# SPDX-License-Identifier: GPL-3.0-or-later
"""Real Blender scenes for the tests: primitives, broken meshes, parented and many-part sources, fingerprints
of what must not change, world-space distances, and a result's quality report after a blocking submit."""

from __future__ import annotations

import hashlib
import importlib
import json

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


def crate(name: str = "Crate", *, levels: int = 5) -> bpy.types.Object:
    """A cube of 2 units cut into 2**levels x 2**levels quads a side (six hard-edged sides), selected and
    active."""
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    modifier = obj.modifiers.new("Subdivision", "SUBSURF")
    modifier.subdivision_type, modifier.levels = "SIMPLE", levels
    bpy.ops.object.modifier_apply(modifier="Subdivision")
    select_only(obj)
    return obj


def select_only(*objects: bpy.types.Object) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0] if objects else None


def quality_after_submit(result_name: str) -> dict:
    """Run Retopologize on the selection (blocking, as under ``bpy`` or ``blender -b``), check its job ended
    done, and return the quality report the job left on the object ``result_name``."""
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    return json.loads(bpy.data.objects[result_name]["retopo_hub_quality"])


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


def world_distances(result, source) -> np.ndarray:
    """Distance of every result vertex, in world space, to the closest point of the source's surface."""
    from mathutils.bvhtree import BVHTree  # importable once bpy is

    depsgraph = bpy.context.evaluated_depsgraph_get()
    tree = BVHTree.FromObject(source, depsgraph, deform=True)  # object space of the source
    to_source = source.matrix_world.inverted()
    out = []
    for vertex in result.data.vertices:
        world = result.matrix_world @ vertex.co
        nearest = tree.find_nearest(to_source @ world)[0]
        out.append((source.matrix_world @ nearest - world).length)
    return np.array(out)


PARENT_SCALES = {
    "sheared": (3.0, 1.0, 0.5),
    "sheared and mirrored": (-3.0, 1.0, 0.5),
    "plain parenting": (2.0, 2.0, 2.0),  # uniform: the child's world matrix has no shear
}


def parented_source(parent_scale=PARENT_SCALES["sheared"], name: str = "Sheared"):
    """An icosphere (radius about 1.5) rotated under an empty scaled ``parent_scale`` and rotated: with a
    non-uniform scale its world matrix is sheared."""
    parent = bpy.data.objects.new(f"{name}_parent", None)
    bpy.context.scene.collection.objects.link(parent)
    parent.location = (2.0, -1.0, 0.5)
    parent.rotation_euler = (0.4, -0.3, 0.9)
    parent.scale = parent_scale
    source = ico_sphere(name, subdivisions=5)
    source.parent = parent
    source.location = (0.5, 0.2, -0.3)
    source.rotation_euler = (0.7, 0.2, -0.5)
    select_only(source)
    bpy.context.view_layer.update()
    return source


def scattered_parts(name: str, count: int):
    """``count`` separate icospheres (80 triangles, radius 0.5) on a grid, joined in one mesh object."""
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=2, radius=0.5)
    ico = bpy.context.active_object
    co = np.array([v.co for v in ico.data.vertices])
    tris = np.array([tuple(p.vertices) for p in ico.data.polygons])
    bpy.data.objects.remove(ico, do_unlink=True)
    bpy.context.view_layer.update()
    side = int(np.ceil(count**0.5))
    verts = [co + np.array([1.5 * (i % side), 1.5 * (i // side), 0.0]) for i in range(count)]
    faces = [tris + i * len(co) for i in range(count)]
    obj = mesh_object(name, np.vstack(verts), np.vstack(faces))
    select_only(obj)
    return obj


def engine_mesh(addon, obj):
    """``obj``'s mesh as the engine's ``MeshArrays`` (polygons as they are)."""
    mesh = obj.data
    sizes = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    corners = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", corners)
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    # The engine is numpy only (it runs in a child process; Blender's side never imports it): safe here.
    meshdata = importlib.import_module(f"{addon.__name__}.engines.meshdata")
    return meshdata.MeshArrays(co, sizes, corners)


def parts_of(addon, obj) -> int:
    """Separate parts of ``obj``'s mesh, counted by the engine's own rule (faces sharing a vertex)."""
    meshgraph = importlib.import_module(f"{addon.__name__}.engines.meshgraph")
    return int(meshgraph.face_components(engine_mesh(addon, obj)).max()) + 1


def topology_of(addon, obj) -> dict:
    """Pieces, open borders, non-manifold edges and genus of ``obj``'s mesh, by the engine's own count."""
    return importlib.import_module(f"{addon.__name__}.engines.quality").topology(engine_mesh(addon, obj))
