# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality measures on shapes whose answers are known: cube of quads, torus, sphere, a hole, two pieces."""

from __future__ import annotations

import json

import numpy as np
import pytest
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.meshgraph import unique_edges
from retopo_hub.engines.quality import (
    edge_recall,
    irregular_share,
    quad_corner_deviation,
    quality_report,
    surface_distance,
    topology,
)
from shapes import icosphere, quad_box, torus, uv_sphere


def quad_cube(n: int = 4) -> MeshArrays:
    """Unit cube [-1, 1]^3 with an n x n grid of quads per side, welded: 8 corners of valence 3."""
    return MeshArrays.from_faces(*quad_box(n, n))


def quad_torus(nu: int = 24, nv: int = 12) -> MeshArrays:
    u, v = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    a, b = 2 * np.pi * u / nu, 2 * np.pi * v / nv
    verts = np.stack(
        [(1 + 0.3 * np.cos(b)) * np.cos(a), (1 + 0.3 * np.cos(b)) * np.sin(a), 0.3 * np.sin(b)], -1
    )
    ids = u * nv + v
    faces = np.stack(
        [ids, ((u + 1) % nu) * nv + v, ((u + 1) % nu) * nv + (v + 1) % nv, u * nv + (v + 1) % nv], -1
    )
    return MeshArrays.from_faces(verts.reshape(-1, 3), faces.reshape(-1, 4))


def without_faces(mesh: MeshArrays, drop: list[int]) -> MeshArrays:
    keep = np.ones(mesh.face_count, dtype=bool)
    keep[drop] = False
    return mesh.select_faces(keep).compact()


def two_pieces() -> MeshArrays:
    a = quad_cube(2)
    b = MeshArrays(a.verts + np.float32(5.0), a.face_sizes, a.corner_verts + a.vert_count)
    return MeshArrays(
        np.vstack([a.verts, b.verts]),
        np.r_[a.face_sizes, b.face_sizes],
        np.r_[a.corner_verts, b.corner_verts],
    )


def test_cube_of_quads_has_eight_irregular_corners_and_right_angles():
    cube = quad_cube(4)
    share, interior = irregular_share(cube)
    assert interior == cube.vert_count == 6 * 16 + 2
    assert share == pytest.approx(8 / interior)
    assert np.allclose(quad_corner_deviation(cube), 0.0, atol=1e-4)
    assert topology(cube) == {
        "pieces": 1,
        "boundary_loops": 0,
        "boundary_edges": 0,
        "nonmanifold_edges": 0,
        "genus": 0,
    }


def test_torus_is_regular_genus_one():
    ring = quad_torus()
    assert irregular_share(ring) == (0.0, ring.vert_count)
    topo = topology(ring)
    assert topo["genus"] == 1 and topo["pieces"] == 1 and topo["boundary_loops"] == 0
    assert topology(MeshArrays.from_triangles(*torus(40, 20)))["genus"] == 1


def test_triangle_sphere_is_genus_zero_and_skewed_quads_deviate():
    assert topology(MeshArrays.from_triangles(*uv_sphere(32, 16)))["genus"] == 0
    # On triangles valence 6 is regular: an icosphere's only poles are its 12 valence-5 corners.
    ball = MeshArrays.from_triangles(*icosphere(3))
    assert irregular_share(ball) == (pytest.approx(12 / ball.vert_count), ball.vert_count)
    verts = np.array([[0, 0, 0], [1, 0, 0], [1.5, 1, 0], [0.5, 1, 0]], float)
    rhombus = MeshArrays.from_faces(verts, np.array([[0, 1, 2, 3]]))
    dev = quad_corner_deviation(rhombus)
    expected = 90.0 - np.degrees(np.arctan2(1.0, 0.5))
    assert np.allclose(dev, expected)


def test_hole_is_one_boundary_loop_and_its_rim_is_not_interior():
    cube = quad_cube(3)
    holed = without_faces(cube, [4])  # a middle face of the first side
    topo = topology(holed)
    assert topo["boundary_loops"] == 1 and topo["boundary_edges"] == 4 and topo["genus"] == 0
    _, interior = irregular_share(holed)
    assert interior == holed.vert_count - 4
    two_holes = without_faces(cube, [4, 13])
    assert topology(two_holes)["boundary_loops"] == 2 and topology(two_holes)["genus"] == 0


def test_two_pieces_are_counted_and_genus_sums():
    assert topology(two_pieces())["pieces"] == 2
    ring, cube = quad_torus(), quad_cube(2)
    both = MeshArrays(
        np.vstack([ring.verts, cube.verts + np.float32(4)]),
        np.r_[ring.face_sizes, cube.face_sizes],
        np.r_[ring.corner_verts, cube.corner_verts + ring.vert_count],
    )
    topo = topology(both)
    assert topo["pieces"] == 2 and topo["genus"] == 1


def test_distance_is_zero_to_itself_and_the_offset_of_a_bigger_sphere():
    verts, tris = uv_sphere(64, 32)
    sphere = MeshArrays.from_triangles(verts, tris)
    hausdorff, mean = surface_distance(sphere, sphere, samples=5000)
    assert hausdorff == pytest.approx(0.0, abs=1e-4) and mean == pytest.approx(0.0, abs=1e-4)
    bigger = MeshArrays.from_triangles(verts * np.float32(1.05), tris)
    diag = float(np.linalg.norm(verts.max(0) - verts.min(0)))
    hausdorff, mean = surface_distance(bigger, sphere, samples=5000)
    assert hausdorff == pytest.approx(100 * 0.05 / diag, rel=0.05)
    assert mean == pytest.approx(100 * 0.05 / diag, rel=0.1)


def test_loose_vertices_of_the_source_are_not_surface_to_reach():
    """A scan's stray points (vertices no face uses) are no surface a remesh could follow."""
    verts, tris = uv_sphere(64, 32)
    sphere = MeshArrays.from_triangles(verts, tris)
    with_stray = MeshArrays.from_triangles(np.vstack([verts, [[0.0, 0.0, 0.0]]]).astype(verts.dtype), tris)
    alone = surface_distance(sphere, sphere, samples=5000)
    assert surface_distance(sphere, with_stray, samples=5000) == alone


def test_hard_edge_recall_sees_edges_that_are_there_and_misses_cut_corners():
    cube = quad_cube(2)
    pos = cube.verts
    corner = np.abs(pos).sum(axis=1) > 2.9
    # The 12 cube edges as pairs of grid vertices along them.
    edges, _, _ = unique_edges(cube)
    on_two_faces = (np.abs(pos[edges]) > 0.999).sum(axis=2).min(axis=1) >= 2
    features = edges[on_two_faces]
    assert features.shape[0] == 24 and corner.sum() == 8
    assert edge_recall(cube, cube.verts, features) == 1.0
    # A cube whose rims are cut back (chamfered) by 10% of the diagonal has none of them.
    shrunk = MeshArrays(cube.verts * np.float32(0.8), cube.face_sizes, cube.corner_verts)
    assert edge_recall(shrunk, cube.verts, features) == 0.0


def test_report_is_json_and_carries_the_source_topology():
    cube = quad_cube(3)
    report = quality_report(without_faces(cube, [0]), cube, feature_edges=np.zeros((0, 2), int), samples=2000)
    json.dumps(report)
    assert report["topology"]["boundary_loops"] == 1
    assert report["source_topology"]["boundary_loops"] == 0
    assert report["quad_share"] == 1.0 and report["hard_edge_recall"] is None
    assert report["angle_deviation_p95"] == pytest.approx(0.0, abs=1e-3)
