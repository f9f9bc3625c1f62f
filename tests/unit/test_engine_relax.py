"""engines/relax.py: corners of a face at one point moved apart (``spread_collapsed``)."""

import numpy as np
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.project import TriangleIndex
from retopo_hub.engines.relax import ONE_POINT, spread_collapsed


def _plane() -> TriangleIndex:
    verts = np.array([[-1.0, -1.0, 0.0], [5.0, -1.0, 0.0], [5.0, 5.0, 0.0], [-1.0, 5.0, 0.0]])
    return TriangleIndex(verts, np.array([[0, 1, 2], [0, 2, 3]]))


def _grid(n: int) -> MeshArrays:
    """n x n unit quads on the plane z = 0."""
    xs, ys = np.meshgrid(np.arange(n + 1, dtype=np.float64), np.arange(n + 1, dtype=np.float64))
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    quads = [[j * (n + 1) + i, j * (n + 1) + i + 1, (j + 1) * (n + 1) + i + 1, (j + 1) * (n + 1) + i]
             for j in range(n) for i in range(n)]  # fmt: skip
    return MeshArrays.from_polygons(verts, quads)


def _closest_corners(verts: np.ndarray, mesh: MeshArrays) -> float:
    """The least distance between two corners of one quad, edges and diagonals."""
    quads = mesh.corner_verts.reshape(-1, 4)
    pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 3)]
    return min(float(np.linalg.norm(verts[quads[:, a]] - verts[quads[:, b]], axis=1).min()) for a, b in pairs)


def test_corners_at_one_point_are_moved_apart_on_the_surface():
    """Two ends of an edge at one point (a hole's rim joined to itself), and elsewhere two opposite corners
    of a quad (float32 apart, which the result's positions make one): each pair gets a corner moved off,
    onto the source, and nothing else moves."""
    mesh = _grid(4)
    verts = mesh.verts.astype(np.float64).copy()
    verts[6] = verts[7]  # an edge of (1, 1)-(2, 1)
    verts[18] = verts[12] + 1e-9  # the diagonal (2, 2)-(3, 3) of one quad
    before = verts.copy()
    spread, moved = spread_collapsed(verts, mesh, _plane())
    assert moved == 2
    assert _closest_corners(spread, mesh) > 0.1  # a tenth of an edge: a face again, not a point
    assert np.allclose(spread[:, 2], 0.0)
    changed = np.flatnonzero(np.any(spread != before, axis=1))
    assert len(changed) == 2 and set(changed) <= {6, 7, 12, 18}
    assert np.array_equal(verts, before), "the input is not changed in place"


def test_a_mesh_without_such_corners_is_left_as_it_is():
    mesh = _grid(3)
    spread, moved = spread_collapsed(mesh.verts, mesh, _plane())
    assert moved == 0 and np.array_equal(spread, mesh.verts.astype(np.float64))
    assert ONE_POINT < 0.01
