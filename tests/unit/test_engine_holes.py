# SPDX-License-Identifier: GPL-3.0-or-later
"""Small extraction holes are closed with faces wound like their neighbours; real boundaries stay open."""

from __future__ import annotations

import numpy as np
from retopo_hub.engines.holes import boundary_loops, fill_small_holes
from retopo_hub.engines.meshdata import MeshArrays


def _cube_without(face_index: int) -> MeshArrays:
    verts = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], np.float32)
    quads = np.array(
        [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]], np.int32
    )
    return MeshArrays.from_faces(verts, np.delete(quads, face_index, axis=0))


def _open_edges(mesh: MeshArrays) -> int:
    return sum(len(loop) for loop in boundary_loops(mesh))


def test_a_missing_quad_is_filled_with_one_quad_wound_outwards():
    holed = _cube_without(1)
    assert _open_edges(holed) == 4
    filled = fill_small_holes(holed)
    assert _open_edges(filled) == 0
    assert filled.face_count == 6 and filled.quad_count == 6
    new = filled.corner_verts[-4:]
    assert set(new.tolist()) == {4, 5, 6, 7}
    # Wound like the top face the cube had: its normal points up (+z).
    p = filled.verts[new]
    assert np.cross(p[1] - p[0], p[2] - p[0])[2] > 0


def test_long_boundaries_stay_open():
    n = 12  # an open grid's rim has 4 * n edges: a real boundary
    verts = np.array([[x, y, 0] for y in range(n + 1) for x in range(n + 1)], np.float32)
    quads = [
        [y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x + 1, (y + 1) * (n + 1) + x]
        for y in range(n)
        for x in range(n)
    ]
    grid = MeshArrays.from_faces(verts, np.array(quads, np.int32))
    assert fill_small_holes(grid) is grid
