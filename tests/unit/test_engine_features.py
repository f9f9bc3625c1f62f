# SPDX-License-Identifier: GPL-3.0-or-later
"""Feature edges: found by dihedral angle, merged with marked edges, garbage pairs dropped."""

from __future__ import annotations

import numpy as np
from retopo_hub.engines.features import feature_edges, sharp_edges
from retopo_hub.engines.meshdata import MeshArrays
from shapes import uv_sphere
from test_engine_quality import quad_cube


def test_cube_rims_are_sharp_and_a_smooth_sphere_has_none():
    cube = quad_cube(2)
    tris = cube.triangles()
    found = sharp_edges(cube.verts, tris, 40.0)
    assert found.shape == (24, 2)
    assert (np.abs(cube.verts[found]) > 0.999).sum(axis=2).min() >= 2  # both ends on two cube faces
    assert sharp_edges(cube.verts, tris, 0.0).shape == (0, 2)
    verts, stris = uv_sphere(64, 32)
    assert sharp_edges(verts, stris, 40.0).shape[0] == 0


def test_marked_edges_join_and_bad_pairs_are_dropped():
    verts, tris = uv_sphere(16, 8)
    real = np.sort(tris[:3, :2], axis=1)
    marked = np.vstack([real, real[:1, ::-1], [[0, 10_000]], [[5, 5]], [[0, verts.shape[0] - 1]]])
    found = feature_edges(verts, tris, 40.0, marked)
    assert {tuple(e) for e in found.tolist()} == {tuple(e) for e in real.tolist()}
    assert MeshArrays.from_triangles(verts, tris).face_count == tris.shape[0]
