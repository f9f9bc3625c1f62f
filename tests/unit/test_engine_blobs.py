# SPDX-License-Identifier: GPL-3.0-or-later
"""Closed blobs beside an open surface are taken away; a closed part of the source is not a blob."""

import numpy as np
from retopo_hub.engines import MeshArrays
from retopo_hub.engines.blobs import without_blobs
from retopo_hub.engines.holes import boundary_half_edges
from retopo_hub.engines.meshgraph import face_components
from retopo_hub.engines.project import TriangleIndex
from shapes import icosphere, wavy_plane

TETRA = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]])


def _joined(*parts):
    verts, tris, offset = [], [], 0
    for v, t in parts:
        verts.append(np.asarray(v, dtype=np.float64))
        tris.append(np.asarray(t) + offset)
        offset += len(v)
    return np.concatenate(verts), np.concatenate(tris)


def test_a_closed_pocket_on_an_open_sheet_goes_and_a_closed_part_of_the_source_stays():
    sheet = wavy_plane(60, 60)
    ball = icosphere(1)
    ball_part = (ball[0] * 0.05 + [2.0, 0.5, 0.0], ball[1])
    source_v, source_t = _joined(sheet, ball_part)
    pocket = (np.array([[0.5, 0.5, 0.0], [0.51, 0.5, 0.0], [0.5, 0.51, 0.0], [0.5, 0.5, 0.01]]), TETRA)
    result = MeshArrays.from_triangles(*_joined(sheet, pocket, ball_part))
    assert face_components(result).max() == 2
    source = MeshArrays.from_triangles(source_v, source_t)
    index = TriangleIndex(source_v, source_t)
    kept, dropped = without_blobs(result, index, source_v, source_t, boundary_half_edges(source))
    assert dropped == 1
    assert kept.face_count == result.face_count - 4
    assert face_components(kept).max() == 1  # the sheet and the ball
    assert np.isclose(kept.verts[:, 0].max(), 2.05, atol=0.01)  # the ball is there


def test_a_closed_bit_is_a_blob_beside_a_larger_one_and_never_alone():
    ball = icosphere(0)  # 20 faces: under 1% of the result
    sheet = wavy_plane(60, 60)
    source_v, source_t = _joined(sheet)
    result = MeshArrays.from_triangles(*_joined(sheet, (ball[0] * 0.01 + [0.5, 0.5, 0.2], ball[1])))
    index = TriangleIndex(source_v, source_t)
    source = MeshArrays.from_triangles(source_v, source_t)
    # The ball lies on the open sheet's piece, which the sheet covers: a blob.
    assert without_blobs(result, index, source_v, source_t, boundary_half_edges(source))[1] == 1
    # A result of one closed bit (the only bit of its piece) stays.
    lone = MeshArrays.from_triangles(ball[0] * 0.01 + [0.5, 0.5, 0.2], ball[1])
    assert without_blobs(lone, index, source_v, source_t, boundary_half_edges(source))[1] == 0


def test_on_a_closed_source_an_open_shred_beside_the_surface_is_debris():
    """Two quads beside a remeshed closed sphere (an extraction's debris, open) go: the hole filling would
    otherwise close them back to back into a second piece. On an open source the same shred stays (it may
    be a shred of the scan)."""
    verts, tris = icosphere(3)
    shred = (
        np.array([[1.01, 0, 0], [1.01, 0.02, 0], [1.01, 0, 0.02], [1.01, 0.02, 0.02]]),
        [[0, 1, 3], [0, 3, 2]],
    )
    result = MeshArrays.from_triangles(*_joined((verts, tris), shred))
    index = TriangleIndex(verts, tris)
    kept, dropped = without_blobs(
        result, index, verts, tris, boundary_half_edges(MeshArrays.from_triangles(verts, tris))
    )
    assert dropped == 1 and kept.face_count == tris.shape[0]
    open_t = tris[verts[tris].mean(axis=1)[:, 2] < 0.5]  # a sphere with its top cut off: one open piece
    open_index = TriangleIndex(verts, open_t)
    open_border = boundary_half_edges(MeshArrays.from_triangles(verts, open_t))
    assert without_blobs(result, open_index, verts, open_t, open_border)[1] == 0
