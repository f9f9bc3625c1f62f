# SPDX-License-Identifier: GPL-3.0-or-later
"""Closest-point projection: exact against brute force, robust to big triangles and far queries."""

import numpy as np
import pytest
from retopo_hub.engines.project import (
    TriangleIndex,
    closest_on_triangles,
    closest_points,
    project_points,
    surface_distances,
)
from shapes import cad_cylinder, icosphere, sliver_box, torus


def _reference(p, a, b, c):
    """Independent method: in-plane barycentric test, else the nearest of the three clamped edges."""
    n = np.cross(b - a, c - a)
    nn = np.einsum("ij,ij->i", n, n)
    foot = p - n * (np.einsum("ij,ij->i", p - a, n) / np.where(nn > 0, nn, 1.0))[:, None]
    best = np.full(p.shape[0], np.inf)
    inside = nn > 0
    for s0, s1 in ((a, b), (b, c), (c, a)):
        inside &= np.einsum("ij,ij->i", np.cross(s1 - s0, foot - s0), n) >= 0
        e = s1 - s0
        t = np.clip(np.einsum("ij,ij->i", p - s0, e) / np.maximum(np.einsum("ij,ij->i", e, e), 1e-300), 0, 1)
        best = np.minimum(best, np.linalg.norm(p - (s0 + e * t[:, None]), axis=1))
    plane = np.linalg.norm(p - foot, axis=1)
    return np.where(inside, np.minimum(plane, best), best)


def _brute(points, verts, tris):
    v = verts.astype(np.float64)
    out = np.empty(points.shape[0])
    for i, p in enumerate(points.astype(np.float64)):
        rep = np.broadcast_to(p, (tris.shape[0], 3))
        out[i] = np.sqrt(closest_on_triangles(rep, v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]])[1].min())
    return out


def test_point_triangle_distance_matches_reference():
    rng = np.random.default_rng(7)
    a, b, c, p = (rng.normal(size=(20000, 3)) for _ in range(4))
    # Degenerate triangles: a repeated corner and three collinear corners.
    b[:50] = a[:50]
    c[50:100] = a[50:100] + 2.0 * (b[50:100] - a[50:100])
    pt, d2 = closest_on_triangles(p, a, b, c)
    assert np.all(np.isfinite(pt))
    assert np.allclose(np.sqrt(d2), _reference(p, a, b, c), atol=1e-9)
    assert np.allclose(np.linalg.norm(p - pt, axis=1), np.sqrt(d2), atol=1e-9)


def _assert_exact(index, queries, verts, tris):
    """The index's answers are brute force's, and each reported triangle holds its reported point at that
    distance; returns the distances."""
    pts, dist, tri = index.query(queries)
    assert np.allclose(dist, _brute(queries, verts, tris), atol=1e-9)
    v = verts.astype(np.float64)
    _, check = closest_on_triangles(queries, v[tris[tri, 0]], v[tris[tri, 1]], v[tris[tri, 2]])
    assert np.allclose(np.sqrt(check), dist, atol=1e-9)
    assert np.allclose(np.linalg.norm(queries - pts, axis=1), dist, atol=1e-9)
    return dist


@pytest.mark.parametrize("pieces", [True, False])
def test_index_matches_brute_force_with_a_huge_triangle_and_far_points(monkeypatch, pieces):
    """A triangle far larger than the rest is cut into pieces in the grid, or past the cap on pieces goes on
    the list tested against every query; either way the answers are exact."""
    from retopo_hub.engines import project

    if not pieces:
        monkeypatch.setattr(project, "MAX_PIECES", 0)
    verts, tris = torus(40, 24, bumps=0.2)
    verts = np.vstack([verts, [[-4, -4, 1.5], [4, -4, 1.5], [0, 4, 2.0]]]).astype(np.float32)
    tris = np.vstack([tris, [[verts.shape[0] - 3, verts.shape[0] - 2, verts.shape[0] - 1]]])
    rng = np.random.default_rng(1)
    near = verts[rng.integers(0, verts.shape[0] - 3, 300)] + rng.normal(scale=0.01, size=(300, 3))
    far = rng.normal(scale=6.0, size=(100, 3))
    queries = np.vstack([near, far])
    index = TriangleIndex(verts, tris)
    assert (index.big.size == 0) == pieces
    _assert_exact(index, queries, verts, tris)


def test_a_cylinder_with_fan_caps_and_dense_sides_stays_exact():
    """A CAD-style cylinder: fine side strips, and caps fanned from one rim vertex whose triangles are many
    cells long (thousands of such on a real part; each tested against every query took 0.9 ms a query).
    They are cut into pieces, and the answers, near, far and with ``within``, are the exhaustive ones."""
    verts, tris = cad_cylinder(128, 300)
    index = TriangleIndex(verts, tris)
    assert index.big.size == 0 and index.entry_tri.shape[0] > tris.shape[0]
    rng = np.random.default_rng(7)
    near = verts[rng.integers(0, verts.shape[0], 200)] + rng.normal(scale=0.05, size=(200, 3))
    queries = np.vstack([near, rng.normal(scale=4.0, size=(50, 3))])
    dist = _assert_exact(index, queries, verts, tris)
    within = index.query(queries, within=0.03)[1]
    inside = dist <= 0.03
    assert np.allclose(within[inside], dist[inside], atol=1e-12) and (within[~inside] > 0.03).all()


def test_long_thin_strips_are_spread_over_many_cells_and_stay_exact():
    """A face tiled by strips as long as the face: cells sized from the strips' boxes would hold them all."""
    verts, tris = sliver_box(200, 2)
    index = TriangleIndex(verts, tris)
    assert index.cell_count.max() < 0.1 * tris.shape[0] and index.big.size == 0
    rng = np.random.default_rng(4)
    queries = verts[rng.integers(0, verts.shape[0], 200)] + rng.normal(scale=0.05, size=(200, 3))
    assert np.allclose(index.query(queries)[1], _brute(queries, verts, tris), atol=1e-9)


def test_far_from_origin_mesh_keeps_precision():
    verts, tris = icosphere(3)
    offset = np.array([1e4, -2e4, 5e3])
    rng = np.random.default_rng(2)
    dirs = rng.normal(size=(500, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    queries = dirs * 1.05
    base = surface_distances(queries, verts, tris)
    shifted = surface_distances(queries + offset, verts.astype(np.float64) + offset, tris)
    assert np.allclose(base, shifted, atol=1e-6)


def test_projection_onto_sphere_lands_on_surface():
    verts, tris = icosphere(5)
    rng = np.random.default_rng(3)
    dirs = rng.normal(size=(5000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    noisy = dirs * rng.uniform(0.9, 1.1, size=(5000, 1))
    snapped = project_points(noisy, verts, tris)
    assert snapped.dtype == np.float32
    assert surface_distances(snapped, verts, tris).max() < 1e-5
    # Inscribed polyhedron: radius of a projected point is between the inradius and 1.
    radius = np.linalg.norm(snapped, axis=1)
    assert radius.max() <= 1.0 + 1e-5 and radius.min() > 0.99


def test_empty_mesh_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        closest_points(np.zeros((1, 3)), np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int32))
