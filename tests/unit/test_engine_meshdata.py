# SPDX-License-Identifier: GPL-3.0-or-later
"""MeshArrays: Blender-layout polygon arrays, triangulation and validation."""

import numpy as np
import pytest
from retopo_hub.engines import EngineInputError, MeshArrays


def _square(long_diagonal_02: bool) -> np.ndarray:
    # A kite whose 0-2 diagonal is longer or shorter than its 1-3 diagonal.
    far = 3.0 if long_diagonal_02 else 1.0
    near = 1.0 if long_diagonal_02 else 3.0
    return np.array([[-far, 0, 0], [0, -near, 0], [far, 0, 0], [0, near, 0]], dtype=np.float32)


def test_from_triangles_layout_matches_blender_loops():
    verts = np.zeros((4, 3), dtype=np.float64)
    mesh = MeshArrays.from_triangles(verts, np.array([[0, 1, 2], [0, 2, 3]]))
    assert mesh.verts.dtype == np.float32
    assert mesh.face_sizes.dtype == np.int32 and mesh.corner_verts.dtype == np.int32
    assert mesh.face_sizes.tolist() == [3, 3]
    assert mesh.corner_verts.tolist() == [0, 1, 2, 0, 2, 3]
    assert mesh.face_starts.tolist() == [0, 3]
    assert (mesh.face_count, mesh.tri_count, mesh.quad_count) == (2, 2, 0)


@pytest.mark.parametrize("long_02", [True, False])
def test_quads_split_along_shorter_diagonal(long_02):
    mesh = MeshArrays(_square(long_02), [4], [0, 1, 2, 3])
    tris = mesh.triangles()
    assert tris.shape == (2, 3) and tris.dtype == np.int32
    shared = set(tris[0].tolist()) & set(tris[1].tolist())
    assert shared == ({1, 3} if long_02 else {0, 2})


def test_triangulation_keeps_area_and_orientation_for_mixed_faces():
    # Pentagon, quad and triangle in the z=0 plane, all counter-clockwise.
    angles = np.linspace(0, 2 * np.pi, 5, endpoint=False)
    penta = np.stack([np.cos(angles), np.sin(angles), np.zeros(5)], axis=1)
    quad = np.array([[3, 0, 0], [4, 0, 0], [4, 1, 0], [3, 1, 0]], dtype=float)
    tri = np.array([[5, 0, 0], [6, 0, 0], [5, 1, 0]], dtype=float)
    verts = np.vstack([penta, quad, tri])
    mesh = MeshArrays(verts, [5, 4, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    tris = mesh.triangles()
    assert tris.shape == (3 + 2 + 1, 3)
    v = mesh.verts.astype(np.float64)
    normals = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    assert np.all(normals[:, 2] > 0)
    penta_area = 0.5 * 5 * np.sin(2 * np.pi / 5)
    assert np.isclose(0.5 * normals[:, 2].sum(), penta_area + 1.0 + 0.5)


def test_validate_reports_bad_arrays():
    verts = np.zeros((3, 3))
    MeshArrays(verts, [3], [0, 1, 2]).validate()
    with pytest.raises(EngineInputError, match="out of range"):
        MeshArrays(verts, [3], [0, 1, 5]).validate()
    with pytest.raises(EngineInputError, match="add up"):
        MeshArrays(verts, [4], [0, 1, 2]).validate()
    with pytest.raises(EngineInputError, match="fewer than 3"):
        MeshArrays(verts, [2, 1], [0, 1, 2]).validate()
    bad = verts.copy()
    bad[1, 2] = np.nan
    with pytest.raises(EngineInputError, match="NaN"):
        MeshArrays(bad, [3], [0, 1, 2]).validate()


def test_compact_and_select_faces():
    verts = np.arange(18, dtype=np.float32).reshape(6, 3)
    mesh = MeshArrays(verts, [3, 3], [0, 2, 4, 1, 3, 5])
    kept = mesh.select_faces(np.array([False, True])).compact()
    assert kept.vert_count == 3
    assert np.array_equal(kept.verts, verts[[1, 3, 5]])
    assert kept.corner_verts.tolist() == [0, 1, 2]
