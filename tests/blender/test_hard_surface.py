# SPDX-License-Identifier: GPL-3.0-or-later
"""A machined part, as a boolean and a bevel make it in Blender, remeshed whole at a budget where the engine
clusters its copy for Instant Meshes: the copy must stay a surface, and the result one closed piece."""

from __future__ import annotations

import importlib
import math

import bpy
import numpy as np

from tests.support.scene import select_only


def _machined_part() -> tuple[np.ndarray, np.ndarray]:
    """A box with a cylindrical hole, rims chamfered, densely and unevenly triangulated (long slivers along
    the hole), as bench/topology.py's part; (verts float32 (N, 3), triangles int (M, 3))."""
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    box = bpy.context.active_object
    bpy.ops.mesh.primitive_cylinder_add(vertices=64, radius=0.45, depth=3.0)
    cylinder = bpy.context.active_object
    hole = box.modifiers.new("hole", "BOOLEAN")
    hole.operation, hole.object, hole.solver = "DIFFERENCE", cylinder, "EXACT"
    bevel = box.modifiers.new("chamfer", "BEVEL")
    bevel.width, bevel.segments, bevel.limit_method, bevel.angle_limit = 0.08, 1, "ANGLE", math.radians(30)
    box.modifiers.new("tri", "TRIANGULATE")
    dense = box.modifiers.new("dense", "SUBSURF")
    dense.subdivision_type, dense.levels = "SIMPLE", 4
    box.modifiers.new("tri2", "TRIANGULATE")
    cylinder.hide_set(True)
    select_only(box)
    mesh = bpy.data.meshes.new_from_object(box.evaluated_get(bpy.context.evaluated_depsgraph_get()))
    verts = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", verts)
    corners = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", corners)
    assert all(len(p.vertices) == 3 for p in mesh.polygons)
    bpy.data.meshes.remove(mesh)
    return verts.reshape(-1, 3), corners.reshape(-1, 3)


def _engine(addon, name: str):
    """An engine module of the installed copy (the engine child's code, run here on plain arrays)."""
    return importlib.import_module(f"{addon.__name__}.engines.{name}")


def test_a_chamfered_part_at_6000_quads_comes_back_whole(addon, blank):
    meshdata, quality, workcopy = (_engine(addon, n) for n in ("meshdata", "quality", "workcopy"))
    verts, tris = _machined_part()
    source_topology = quality.topology(meshdata.MeshArrays.from_triangles(verts, tris))
    assert source_topology["pieces"] == 1 and source_topology["boundary_edges"] == 0
    # Vertex clustering fuses the thin chamfers and the slivers along the hole: that copy is no surface.
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    unit = (verts.astype(np.float64) - (lo + hi) / 2) / np.linalg.norm(hi - lo)
    work_v, work_t, _ = workcopy.working_copy(unit, tris.astype(np.int64), 6000, True, lambda *_: None)
    copy_topology = quality.topology(meshdata.MeshArrays.from_triangles(work_v, work_t))
    assert copy_topology["nonmanifold_edges"] <= workcopy.CLUSTER_MAX_NONMANIFOLD * work_t.shape[0]
    params = _engine(addon, "params").EngineParams(mode="quad", target_faces=6000, reproducible=True)
    (lod0,) = _engine(addon, "pipeline").run(params, verts, tris)
    topology = quality.topology(lod0.mesh)
    assert {k: topology[k] for k in ("pieces", "boundary_loops", "genus")} == {
        k: source_topology[k] for k in ("pieces", "boundary_loops", "genus")
    }, topology
    assert abs(lod0.mesh.face_count / 6000 - 1) <= 0.1, lod0.mesh.face_count
