# SPDX-License-Identifier: GPL-3.0-or-later
"""LOD0's quads triangulated two ways, for bench/lodlook.py: as Blender draws them (its loop triangles,
which Cycles renders) and as the engine splits them (engines/meshdata ``DRAWN_SPLIT``), which is the LOD0
the levels are decimated from and measured against.

A non-planar quad is two different surfaces depending on the diagonal, so the levels' errors hold only
for the engine's split; ``hausdorff`` says how far apart the two splits are (0 since the engine splits
quads as Blender draws them; it split them along the shorter diagonal before, 0.0045 units away on the
bunny's LOD0, 3.2x LOD1's error) and how far each level is from LOD0 as Blender draws it;
``short_diagonal_copy`` gives LOD0 split along the shorter diagonal, to render what that cost. Measures
with the installed engine's own sampling and closest-point index; main thread, bpy.
"""

from __future__ import annotations

import importlib

import bmesh
import bpy
import numpy as np

# Points per surface and direction: far more than the engine's 12,000-point level probe, so the figure is
# the surfaces' distance and not a sampling estimate of it.
SAMPLES = 200_000


def drawn_triangles(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, 3), triangles (T, 3)) as Blender tessellates ``obj``'s mesh, object space."""
    mesh = obj.data
    mesh.calc_loop_triangles()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    tris = np.empty(len(mesh.loop_triangles) * 3, np.int32)
    mesh.loop_triangles.foreach_get("vertices", tris)
    return co.reshape(-1, 3).astype(np.float64), tris.reshape(-1, 3).astype(np.int64)


def engine_triangles(addon, obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, triangles) of ``obj``'s mesh split as the engine splits it."""
    arrays = importlib.import_module(addon.__name__ + ".blender_io.mesh_arrays")
    meshdata = importlib.import_module(addon.__name__ + ".engines.meshdata")
    verts, sizes, corners = arrays.read_arrays(obj.data)
    mesh = meshdata.MeshArrays(verts, sizes, corners)
    return np.asarray(mesh.verts, np.float64), mesh.triangles(meshdata.DRAWN_SPLIT).astype(np.int64)


def hausdorff(addon, a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Symmetric Hausdorff distance of two (vertices, triangles) surfaces, from SAMPLES points each way."""
    index = importlib.import_module(addon.__name__ + ".engines.project").TriangleIndex
    sample = importlib.import_module(addon.__name__ + ".engines.quality").sample_surface
    forward = index(*b).query(sample(*a, SAMPLES, seed=1))[1].max()
    backward = index(*a).query(sample(*b, SAMPLES, seed=2))[1].max()
    return float(max(forward, backward))


def short_diagonal_copy(obj: bpy.types.Object) -> bpy.types.Object:
    """An unlinked copy of ``obj`` (same placement, materials and UVs) with every quad split along its
    shorter diagonal, as the engine splits it; remove it with ``remove``."""
    copy = obj.copy()
    copy.data = obj.data.copy()
    work = bmesh.new()
    try:
        work.from_mesh(copy.data)
        bmesh.ops.triangulate(work, faces=work.faces[:], quad_method="SHORT_EDGE")
        work.to_mesh(copy.data)
    finally:
        work.free()
    return copy


def remove(copy: bpy.types.Object) -> None:
    mesh = copy.data
    bpy.data.objects.remove(copy)
    bpy.data.meshes.remove(mesh)
