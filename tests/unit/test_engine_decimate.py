# SPDX-License-Identifier: GPL-3.0-or-later
"""Quadric decimation via fast_simplification."""

import sys

import numpy as np
import pytest
from retopo_hub.engines import EngineInputError, EngineUnavailable, MeshArrays
from retopo_hub.engines.decimate import decimate
from retopo_hub.engines.fins import border_share
from retopo_hub.engines.holes import boundary_half_edges
from retopo_hub.engines.project import TriangleIndex, surface_distances
from retopo_hub.engines.quality import topology
from shapes import icosphere, torus, wavy_plane

pytest.importorskip("fast_simplification")


@pytest.mark.parametrize("target", [20000, 2000, 200, 30])
def test_hits_the_budget_with_triangles(target):
    source = MeshArrays.from_triangles(*torus(200, 140, bumps=0.1))
    result = decimate(source, target)
    assert abs(result.face_count - target) <= 0.1 * target
    assert result.tri_count == result.face_count
    result.validate()
    assert np.all(np.bincount(result.corner_verts, minlength=result.vert_count) > 0)


def test_stays_close_to_the_surface():
    verts, tris = icosphere(6)
    result = decimate(MeshArrays.from_triangles(verts, tris), 4000)
    back = surface_distances(verts, result.verts, result.triangles())
    assert back.max() < 0.01  # unit sphere: 1% of the radius


def test_quads_are_triangulated_first():
    verts, _ = wavy_plane(60, 60)
    quads = MeshArrays(verts, np.full(59 * 59, 4), _grid_quads(60))
    result = decimate(quads, 1000)
    assert result.tri_count == result.face_count
    assert abs(result.face_count - 1000) <= 100


def _grid_quads(n: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    return np.stack([i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1], -1).ravel()


def test_target_at_or_above_source_returns_it_unchanged():
    verts, tris = icosphere(2)
    result = decimate(MeshArrays.from_triangles(verts, tris), 10_000)
    assert np.array_equal(result.corner_verts.reshape(-1, 3), tris)


def test_bad_target():
    with pytest.raises(EngineInputError, match="at least 1"):
        decimate(MeshArrays.from_triangles(*icosphere(2)), 0)


def test_missing_library_raises_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "fast_simplification", None)
    with pytest.raises(EngineUnavailable, match="Decimate"):
        decimate(MeshArrays.from_triangles(*icosphere(3)), 100)


def test_open_borders_holes_and_specks_are_kept():
    """A wavy sheet with a round hole, and a 2-triangle speck beside it, decimated to a tenth: the border
    stays on its line (fins.py), the hole open and the speck there. Without the fins, both were lost and
    the rim drifted (the speck 6.5 units from the result, the hole closed)."""
    verts, tris = wavy_plane(80, 80)
    centres = verts[tris].mean(axis=1)
    tris = tris[np.linalg.norm(centres[:, :2] - 0.5, axis=1) > 0.25]
    speck = np.array([[6, 5, 0], [6.1, 5, 0], [6.1, 5.1, 0], [6, 5.1, 0]], dtype=np.float32)
    speck_tris = np.array([[0, 1, 2], [0, 2, 3]]) + len(verts)
    source = MeshArrays.from_triangles(
        np.concatenate([verts, speck]), np.concatenate([tris, speck_tris])
    ).compact()
    result = decimate(source, source.face_count // 10)
    assert abs(result.face_count - source.face_count // 10) <= 0.02 * source.face_count // 10
    assert topology(result) | {"boundary_edges": 0} == topology(source) | {"boundary_edges": 0}
    a, b = boundary_half_edges(source)
    rim_a, rim_b = boundary_half_edges(result)
    rim = TriangleIndex(result.verts, np.stack([rim_a, rim_b, rim_b], axis=1))
    assert rim.query((source.verts[a] + source.verts[b]) / 2)[1].max() < 0.01


def test_border_share_tells_a_closed_mesh_a_sheet_and_a_soup_apart():
    verts, tris = icosphere(2)
    assert border_share(tris) == 0.0
    assert 0.0 < border_share(tris[verts[tris].mean(axis=1)[:, 0] > 0]) < 0.25
    assert border_share(np.arange(30).reshape(10, 3)) == 1.0
