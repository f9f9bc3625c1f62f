# SPDX-License-Identifier: GPL-3.0-or-later
"""Input validation: clear one-line errors for unusable meshes, silent tidy-up otherwise."""

import numpy as np
import pytest
from retopo_hub.engines import EngineInputError
from retopo_hub.engines.validate import clean_input

QUAD_VERTS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float32)
QUAD_TRIS = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)


def _assert_one_line(exc: pytest.ExceptionInfo) -> None:
    message = str(exc.value)
    assert "\n" not in message and ":" in message


def test_empty_mesh():
    with pytest.raises(EngineInputError, match="the mesh is empty") as exc:
        clean_input(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int32))
    _assert_one_line(exc)


def test_loose_vertices_only():
    with pytest.raises(EngineInputError, match="no faces, only 5 loose vertices") as exc:
        clean_input(np.random.default_rng(0).random((5, 3)), np.zeros((0, 3), dtype=np.int32))
    _assert_one_line(exc)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates(bad):
    verts = QUAD_VERTS.copy()
    verts[2, 1] = bad
    with pytest.raises(EngineInputError, match="1 vertices have NaN or infinite") as exc:
        clean_input(verts, QUAD_TRIS)
    _assert_one_line(exc)


def test_non_finite_loose_vertex_is_just_dropped():
    verts = np.vstack([QUAD_VERTS, [[np.nan, 0, 0]]])
    mesh = clean_input(verts, QUAD_TRIS)
    assert mesh.vert_count == 4 and np.isfinite(mesh.verts).all()


def test_all_degenerate_faces():
    verts = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], dtype=np.float32)
    tris = np.array([[0, 1, 2], [1, 2, 3], [0, 0, 1]])
    with pytest.raises(EngineInputError, match="all 3 faces are degenerate") as exc:
        clean_input(verts, tris)
    _assert_one_line(exc)


def test_zero_size_mesh():
    with pytest.raises(EngineInputError, match="zero size") as exc:
        clean_input(np.ones((3, 3)), np.array([[0, 1, 2]]))
    _assert_one_line(exc)


def test_bad_shapes_and_indices():
    with pytest.raises(EngineInputError, match=r"\(N, 3\)"):
        clean_input(np.zeros((4, 2)), QUAD_TRIS)
    with pytest.raises(EngineInputError, match="triangulate"):
        clean_input(QUAD_VERTS, np.array([[0, 1, 2, 3]]))
    with pytest.raises(EngineInputError, match="does not exist"):
        clean_input(QUAD_VERTS, np.array([[0, 1, 7]]))


def test_degenerate_faces_and_unused_vertices_are_dropped_silently():
    verts = np.vstack([QUAD_VERTS, [[5, 5, 5], [0.5, 0, 0]]])
    tris = np.vstack([QUAD_TRIS, [[0, 0, 1], [0, 5, 1]]])  # repeated index, zero-area sliver
    mesh = clean_input(verts, tris)
    assert mesh.face_count == 2 and mesh.vert_count == 4
    assert mesh.triangles().tolist() == QUAD_TRIS.tolist()


def test_non_manifold_input_passes_through():
    # Three triangles on one edge (a "fin") is non-manifold but has a usable surface.
    verts = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, -1, 0], [0.5, 0, 1]], dtype=np.float32)
    tris = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    assert clean_input(verts, tris).face_count == 3
