# SPDX-License-Identifier: GPL-3.0-or-later
"""Quadric decimation via fast_simplification."""

import sys

import numpy as np
import pytest
from retopo_hub.engines import EngineInputError, EngineUnavailable, MeshArrays
from retopo_hub.engines.decimate import decimate
from retopo_hub.engines.project import surface_distances
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
