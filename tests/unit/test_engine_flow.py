# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge flow: the one-level quad split is undone exactly, odd faces pair off, relaxation squares quads."""

from __future__ import annotations

import numpy as np
import pytest
from retopo_hub.engines.coarse import subdivide, unsubdivide
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.pairing import pair_odd_faces
from retopo_hub.engines.project import TriangleIndex
from retopo_hub.engines.quality import irregular_share, quad_corner_deviation, topology
from retopo_hub.engines.relax import relax
from shapes import icosphere
from test_engine_quality import quad_cube


def _faces(mesh: MeshArrays) -> list[list[int]]:
    return [
        mesh.corner_verts[s : s + n].tolist() for s, n in zip(mesh.face_starts, mesh.face_sizes, strict=True)
    ]


def _canonical(faces: list[list[int]]) -> set[tuple[int, ...]]:
    out = set()
    for f in faces:
        k = f.index(min(f))
        out.add(tuple(f[k:] + f[:k]))
    return out


def test_split_of_a_mixed_mesh_is_undone_exactly():
    cube = quad_cube(3)
    faces = _faces(cube)
    # Cut one quad into two triangles so the coarse mesh has odd faces.
    a, b, c, d = faces.pop(0)
    faces += [[a, b, c], [a, c, d]]
    verts, quads = subdivide(cube.verts, faces)
    assert quads.shape[0] == sum(len(f) for f in faces)
    recovered = unsubdivide(verts, quads)
    assert recovered is not None
    assert _canonical(recovered) == _canonical(faces)


def test_quads_that_are_no_split_are_refused():
    verts, quads = np.random.default_rng(0).random((8, 3)), quad_cube(1).corner_verts.reshape(-1, 4)
    assert unsubdivide(verts, quads) is None


def test_triangle_pairs_become_quads_without_new_poles():
    cube = quad_cube(4)
    faces = _faces(cube)
    # Split two quads on one side into triangle pairs along their diagonals: four odd faces, poles at the
    # split's centres. Pairing must give back quads and no more poles than the cube's eight corners.
    for k in (0, 5):
        a, b, c, d = faces[k]
        faces[k] = [a, b, c]
        faces.append([a, c, d])
    paired = pair_odd_faces(cube.verts, faces)
    assert all(len(f) == 4 for f in paired)
    verts, quads = subdivide(cube.verts, paired)
    mesh = MeshArrays.from_faces(verts, quads).compact()
    share, interior = irregular_share(mesh)
    assert round(share * interior) <= 8
    assert topology(mesh)["boundary_loops"] == 0 and topology(mesh)["genus"] == 0


def test_relaxation_squares_quads_and_keeps_them_on_the_surface():
    sphere_v, sphere_t = icosphere(4)
    index = TriangleIndex(sphere_v, sphere_t)
    cube = quad_cube(6)
    jitter = np.random.default_rng(1).normal(scale=0.04, size=cube.verts.shape)
    start = index.query(cube.verts / np.linalg.norm(cube.verts, axis=1, keepdims=True) + jitter)[0]
    mesh = MeshArrays(start, cube.face_sizes, cube.corner_verts)
    relaxed = relax(start, mesh, index, iterations=5, curved=0.0)
    before = np.percentile(quad_corner_deviation(mesh), 95)
    after = np.percentile(quad_corner_deviation(MeshArrays(relaxed, cube.face_sizes, cube.corner_verts)), 95)
    assert after < before
    assert index.query(relaxed)[1].max() == pytest.approx(0.0, abs=1e-9)
