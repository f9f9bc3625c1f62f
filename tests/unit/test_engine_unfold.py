# SPDX-License-Identifier: GPL-3.0-or-later
"""Folds and slivers undone in a finished quad remesh (engines/unfold.py)."""

from __future__ import annotations

import numpy as np
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.project import TriangleIndex
from retopo_hub.engines.unfold import bad_quads, unfold


def sheet(n: int = 8) -> tuple[MeshArrays, TriangleIndex]:
    """An n x n grid of unit quads on z = 0 and an index of the plane under it (the "source")."""
    ij = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"), -1).reshape(-1, 2)
    verts = np.column_stack([ij, np.zeros(len(ij))]).astype(float)
    faces = [[i * (n + 1) + j, (i + 1) * (n + 1) + j, (i + 1) * (n + 1) + j + 1, i * (n + 1) + j + 1]
             for i in range(n) for j in range(n)]  # fmt: skip
    mesh = MeshArrays.from_faces(verts, np.array(faces))
    plane = np.array([[-1.0, -1.0, 0.0], [n + 1.0, -1.0, 0.0], [n + 1.0, n + 1.0, 0.0], [-1.0, n + 1.0, 0.0]])
    return mesh, TriangleIndex(plane, np.array([[0, 1, 2], [0, 2, 3]]))


def test_a_vertex_pushed_past_its_neighbour_is_brought_back_and_stays_on_the_surface():
    mesh, index = sheet()
    verts = mesh.verts.copy()
    middle = 4 * 9 + 4
    verts[middle] += [0.8, 0.8, 0.0]  # folds the quads around it over
    assert bad_quads(verts, mesh).any()
    fixed = unfold(verts, mesh, index, pinned=np.zeros(len(verts), dtype=bool))
    assert not bad_quads(fixed, mesh).any()
    assert np.allclose(fixed[:, 2], 0.0), "moved on the source surface"
    # Only the fold's neighbourhood moves: vertices 4 or more grid steps away stay where they were.
    ij = np.stack(np.meshgrid(np.arange(9), np.arange(9), indexing="ij"), -1).reshape(-1, 2)
    far = np.abs(ij - 4).max(axis=1) >= 4
    assert np.array_equal(fixed[far], verts[far])


def test_pinned_vertices_never_move_and_good_meshes_are_left_alone():
    mesh, index = sheet()
    assert np.array_equal(unfold(mesh.verts, mesh, index, np.zeros(mesh.vert_count, dtype=bool)), mesh.verts)
    verts = mesh.verts.copy()
    verts[40] += [0.8, 0.8, 0.0]
    pinned = np.zeros(mesh.vert_count, dtype=bool)
    pinned[40] = True
    fixed = unfold(verts, mesh, index, pinned)
    assert np.array_equal(fixed[40], verts[40])


def test_a_sliver_counts_as_bad():
    mesh, _ = sheet(2)
    verts = mesh.verts.copy()
    verts[4] = [1.98, 1.98, 0.0]  # the middle vertex almost on the far corner: a near-zero corner
    assert bad_quads(verts, mesh).any()
