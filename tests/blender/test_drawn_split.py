# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's model of how Blender splits quads into triangles, checked against Blender's own split.

LoDs are decimated from LOD0 split as Blender draws it, LOD0's quality report measures that split, and
``engines/splits.py`` turns quads so that split has no non-manifold edge: all of it rests on
``MeshArrays.triangles(DRAWN_SPLIT)`` being what Blender's ``loop_triangles`` are.
"""

from __future__ import annotations

import importlib

import bpy
import numpy as np

from tests.support.scene import engine_mesh
from tests.unit.shapes import quad_box


def blender_triangles(obj) -> np.ndarray:
    mesh = obj.data
    mesh.calc_loop_triangles()
    tris = np.empty(len(mesh.loop_triangles) * 3, np.int64)
    mesh.loop_triangles.foreach_get("vertices", tris)
    return tris.reshape(-1, 3)


def new_object(name: str, verts: np.ndarray, faces: list) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(map(float, v)) for v in verts], [], [list(map(int, f)) for f in faces])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def crowded_edges(tris: np.ndarray) -> int:
    sides = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    return int(np.count_nonzero(np.unique(sides, axis=0, return_counts=True)[1] > 2))


def test_the_engines_drawn_split_is_blenders_on_flat_bent_and_folded_quads(addon, blank):
    """400 separate quads: a unit square with its corners moved at random, some far enough to bend or fold
    the quad over a diagonal, and some concave."""
    rng = np.random.default_rng(7)
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
    verts = np.concatenate([square + rng.normal(0.0, 0.35, (4, 3)) + [3 * k, 0, 0] for k in range(400)])
    faces = np.arange(1600).reshape(-1, 4)
    obj = new_object("Quads", verts, faces.tolist())
    meshdata = importlib.import_module(f"{addon.__name__}.engines.meshdata")
    ours = engine_mesh(addon, obj).triangles(meshdata.DRAWN_SPLIT)
    folded = 0
    for quad in faces:  # how many quads fold over their first diagonal: the rule's other branch is exercised
        p = verts[quad]
        folded += np.dot(np.cross(p[1] - p[0], p[2] - p[0]), np.cross(p[2] - p[0], p[3] - p[0])) < 0
    assert 40 < folded < 360
    assert [sorted(map(sorted, pair)) for pair in ours.reshape(-1, 2, 3).tolist()] == [
        sorted(map(sorted, pair)) for pair in blender_triangles(obj).reshape(-1, 2, 3).tolist()
    ]


def test_turned_quads_leave_no_non_manifold_edge_in_blenders_split(addon, blank):
    """A quad box with a doublet holding out a tip, both its quads starting at an end of the diagonal they
    share (as Instant Meshes leaves them): Blender draws four triangles on that diagonal until one quad is
    turned."""
    splits = importlib.import_module(f"{addon.__name__}.engines.splits")
    meshdata = importlib.import_module(f"{addon.__name__}.engines.meshdata")
    cube = new_object("Box", *_boxed_tip())
    assert crowded_edges(blender_triangles(cube)) == 1
    turned, changed = splits.drawn_manifold(engine_mesh(addon, cube))
    assert changed == {"quads_turned": 1}
    starts, sizes = turned.face_starts, turned.face_sizes
    faces = [turned.corner_verts[s : s + n].tolist() for s, n in zip(starts, sizes, strict=True)]
    fixed = new_object("Turned", turned.verts, faces)
    assert crowded_edges(blender_triangles(fixed)) == 0
    assert np.array_equal(blender_triangles(fixed), turned.triangles(meshdata.DRAWN_SPLIT))


def _boxed_tip() -> tuple[np.ndarray, list]:
    """A 2 x 2 quad grid on each side of a cube; one top quad split into two quads around a vertex raised
    0.4 above its middle, each starting at an end of their shared diagonal."""
    verts, quads = quad_box(2, 2)
    top = next(k for k, q in enumerate(quads) if (verts[q][:, 2] == 1.0).all())
    p0, p1, p2, p3 = quads[top]
    tip = verts[quads[top]].mean(axis=0) + np.array([0.0, 0.0, 0.4])
    faces = [*np.delete(quads, top, axis=0).tolist(), [p2, p3, p0, len(verts)], [p0, p1, p2, len(verts)]]
    return np.vstack([verts, tip]), faces
