# SPDX-License-Identifier: GPL-3.0-or-later
"""Figures of a UV layout (engines/uvstats.py): utilization, islands, density spread, overlaps, seams."""

import numpy as np
import pytest
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.uvstats import (
    corner_triangles,
    density_spread,
    island_labels,
    layout_stats,
    overlap_fraction,
    seam_fraction,
    utilization,
)

# Two unit quads side by side in the XY plane, sharing the edge 1-4.
VERTS = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0]], np.float32)
QUADS = MeshArrays.from_faces(VERTS, np.array([[0, 1, 4, 3], [1, 2, 5, 4]]))


def _uvs(first, second) -> np.ndarray:
    return np.array(first + second, np.float64)


CONNECTED = _uvs([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)], [(0.5, 0), (1, 0), (1, 0.5), (0.5, 0.5)])
APART = _uvs([(0, 0), (0.4, 0), (0.4, 0.4), (0, 0.4)], [(0.5, 0), (0.9, 0), (0.9, 0.4), (0.5, 0.4)])
STACKED = _uvs([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)], [(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)])


def test_corner_triangles_index_corners_not_vertices():
    tris = corner_triangles(QUADS)
    assert tris.shape == (4, 3)
    assert (QUADS.corner_verts[tris] == QUADS.triangles()).all()


def test_utilization_is_the_uv_area():
    assert utilization(QUADS, CONNECTED) == pytest.approx(0.5)
    assert utilization(QUADS, APART) == pytest.approx(0.32)


def test_islands_follow_uv_connectivity():
    assert len(set(island_labels(QUADS, CONNECTED))) == 1
    assert len(set(island_labels(QUADS, APART))) == 2
    # Sharing a 3D edge is not enough: the UVs at both of its ends must agree.
    assert len(set(island_labels(QUADS, STACKED))) == 2


def test_density_spread_is_zero_for_one_scale_and_grows_with_mixed_scales():
    assert density_spread(QUADS, APART) == pytest.approx(0.0, abs=1e-9)
    mixed = _uvs([(0, 0), (0.4, 0), (0.4, 0.4), (0, 0.4)], [(0.5, 0), (0.7, 0), (0.7, 0.2), (0.5, 0.2)])
    # Densities 0.16 and 0.04: std / mean = 0.06 / 0.10.
    assert density_spread(QUADS, mixed) == pytest.approx(0.6)


def test_overlap_counts_shared_texels_but_not_shared_edges():
    assert overlap_fraction(QUADS, CONNECTED, 64) == 0.0
    assert overlap_fraction(QUADS, APART, 64) == 0.0
    assert overlap_fraction(QUADS, STACKED, 64) == pytest.approx(1.0)
    partly = _uvs([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)], [(0.25, 0), (0.75, 0), (0.75, 0.5), (0.25, 0.5)])
    assert overlap_fraction(QUADS, partly, 64) == pytest.approx(1 / 3, abs=0.02)


def test_seam_fraction_of_given_edges():
    shared = np.array([[1, 4]])
    assert seam_fraction(QUADS, CONNECTED, shared) == 0.0
    assert seam_fraction(QUADS, APART, shared) == 1.0
    assert seam_fraction(QUADS, APART, np.array([[0, 1]])) is None  # a border edge: no second face
    assert seam_fraction(QUADS, APART, None) is None


def test_layout_stats_are_json_ready():
    stats = layout_stats(QUADS, APART, np.array([[4, 1]]), resolution=64)
    assert stats == {
        "utilization": 0.32,
        "islands": 2,
        "density_spread": 0.0,
        "overlap": 0.0,
        "in_square": True,
        "hard_edges_on_seams": 1.0,
    }
