# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge collapses without fast_simplification's corner test (engines/collapse.py), and decimate's use of
them where fast_simplification stalls or lands farther from a small mesh."""

import numpy as np
import pytest
from retopo_hub.engines import MeshArrays
from retopo_hub.engines.collapse import collapse_edges
from retopo_hub.engines.decimate import decimate, simplify_triangles
from retopo_hub.engines.project import surface_distances
from retopo_hub.engines.quality import topology
from shapes import cad_cylinder, sliver_box, torus, wavy_plane

pytest.importorskip("fast_simplification")


def _edges(tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    return np.unique(pairs, axis=0, return_counts=True)


def test_a_cylinder_of_needles_reaches_its_budget_closed_and_on_the_surface():
    """Blender's 128-segment cylinder with fan caps: fast_simplification alone does not remove one of its
    triangles (every collapse leaves a corner under its 2.6 degrees); decimate goes on with collapse.py."""
    verts, tris = cad_cylinder(128, 1)
    assert simplify_triangles(verts, tris, 100, 3.0)[1].shape[0] > 0.9 * tris.shape[0]
    source = MeshArrays.from_triangles(verts, tris)
    result = decimate(source, 100)
    assert abs(result.face_count - 100) <= 10
    assert topology(result) == topology(source)
    back = surface_distances(verts, result.verts, result.triangles())
    assert back.max() < 0.1  # radius 1: a 100-triangle cylinder's facets are about 0.04 from the circle


def test_a_box_of_strips_keeps_its_flat_sides():
    """A CAD tessellation of a cube (long strips, its sides' grids meeting in T-junctions, so open along
    them): fast_simplification alone removes nothing; decimated, its sides stay flat (every vertex on the
    cube) and its open borders, pieces and genus are the source's."""
    verts, tris = sliver_box(60, 2)
    assert simplify_triangles(verts, tris, 120, 3.0)[1].shape[0] == tris.shape[0]
    source = MeshArrays.from_triangles(verts, tris)
    result = decimate(source, 120)
    assert abs(result.face_count - 120) <= 12
    assert np.allclose(np.abs(result.verts).max(axis=1), 1.0, atol=1e-5)
    assert topology(result) | {"boundary_edges": 0} == topology(source) | {"boundary_edges": 0}


def test_borders_and_region_seams_hold_their_lines():
    verts, tris = wavy_plane(41, 41)  # x = 0.5 is a row of vertices
    regions = (verts[tris].mean(axis=1)[:, 0] >= 0.5).astype(np.int64)
    out_verts, out_tris, kept = collapse_edges(verts, tris, 300, regions)
    assert abs(out_tris.shape[0] - 300) <= 2
    assert np.all(np.diff(kept) > 0)
    out_regions = regions[kept]
    # The seam: edges with a face of each region on them; their ends never left the line x = 0.5.
    pairs = np.sort(np.concatenate([out_tris[:, [0, 1]], out_tris[:, [1, 2]], out_tris[:, [2, 0]]]), axis=1)
    face = np.tile(np.arange(out_tris.shape[0]), 3)
    key = pairs[:, 0] * len(out_verts) + pairs[:, 1]
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    across = same & (out_regions[face[order][1:]] != out_regions[face[order][:-1]])
    seam = pairs[order][1:][across]
    assert seam.size and np.allclose(out_verts[seam.ravel(), 0], 0.5, atol=1e-6)
    # The open border stays on the square's rim, and stays one loop.
    unique, counts = _edges(out_tris)
    rim = out_verts[unique[counts == 1].ravel()]
    assert np.all(
        np.isclose(rim[:, :2], 0.0, atol=1e-6).any(axis=1)
        | np.isclose(rim[:, :2], 1.0, atol=1e-6).any(axis=1)
    )
    assert topology(MeshArrays.from_triangles(out_verts, out_tris))["boundary_loops"] == 1


def test_collapses_keep_a_torus_a_manifold_torus():
    verts, tris = torus(60, 30)
    out_verts, out_tris, kept = collapse_edges(verts, tris, 300)
    assert abs(out_tris.shape[0] - 300) <= 2
    _, counts = _edges(out_tris)
    assert counts.min() == 2 and counts.max() == 2
    mesh = MeshArrays.from_triangles(out_verts, out_tris)
    assert topology(mesh)["genus"] == 1 and topology(mesh)["pieces"] == 1
    assert np.array_equal(tris[kept].shape, out_tris.shape)


def test_triangles_without_area_do_not_block_it():
    """A closed cylinder whose top rim edges each carry a midpoint, the side triangles fanned to it and a
    zero-area triangle closing each one (as CAD exports leave them): it still decimates, closed."""
    verts, tris = cad_cylinder(64, 4)
    points, faces, middle = list(verts), [], {}
    for tri in tris:
        for a, b, c in ((tri[0], tri[1], tri[2]), (tri[1], tri[2], tri[0]), (tri[2], tri[0], tri[1])):
            if a < 64 and b < 64 and abs(a - b) == 1 and verts[c][2] > 0:
                m = middle.setdefault((min(a, b), max(a, b)), len(points))
                if m == len(points):
                    points.append((verts[a] + verts[b]) / 2)
                faces += [(a, m, c), (m, b, c)]
                break
        else:
            faces.append(tuple(tri))
    faces += [(a, b, m) for (a, b), m in middle.items()]
    verts, tris = np.array(points), np.array(faces)
    source = MeshArrays.from_triangles(verts, tris)
    assert len(middle) == 63 and topology(source)["boundary_edges"] == 0
    out_verts, out_tris, _ = collapse_edges(verts, tris, 100)
    assert out_tris.shape[0] <= 102
    assert topology(MeshArrays.from_triangles(out_verts, out_tris)) == topology(source)


def test_a_low_poly_torus_stays_a_torus():
    """A 100-triangle torus at 22: fast_simplification's result, closer by the sampled distance, is torn
    (non-manifold); decimate keeps collapse.py's, which stays a manifold torus."""
    verts, tris = torus(10, 5)
    source = MeshArrays.from_triangles(verts, tris)
    result = decimate(source, 22)
    assert result.face_count <= 24
    assert topology(result) | {"boundary_edges": 0} == topology(source) | {"boundary_edges": 0}
