# SPDX-License-Identifier: GPL-3.0-or-later
"""The working copy Instant Meshes remeshes: a decimation that stalls on long, thin strips gives way to
clustering, so Instant Meshes is not handed (and does not subdivide) the strips; unless the strips are
longer than a cell, where clustering would tear the surface open."""

import numpy as np
from retopo_hub.engines import workcopy
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.quality import topology
from shapes import sliver_box


def _unit(verts):
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    return (verts.astype(np.float64) - (lo + hi) / 2) / np.linalg.norm(hi - lo)


GAIN = workcopy.STALLED_GAIN


def _copy(monkeypatch, verts, tris, target, gain):
    monkeypatch.setattr(workcopy, "STALLED_GAIN", gain)
    return workcopy.working_copy(_unit(verts), tris, target, True, lambda *_: None)


def test_a_stalled_decimation_gives_way_to_a_clustered_copy(monkeypatch):
    """A box whose sides are 300 x 10 strips (30:1, each shorter than a cell): decimation keeps every one
    of them, clustering makes a closed copy of a few cells' worth."""
    verts, tris = sliver_box(300, 10)  # 36,000 triangles
    _, stalled, _ = _copy(monkeypatch, verts, tris, 100, float("inf"))
    assert stalled.shape[0] == tris.shape[0]
    work_v, work_t, _ = _copy(monkeypatch, verts, tris, 100, GAIN)
    assert work_t.shape[0] < 1_000
    made = topology(MeshArrays.from_triangles(work_v, work_t))
    assert made["pieces"] == 1 and made["boundary_edges"] == 0 and made["nonmanifold_edges"] == 0


def test_a_clustered_copy_that_tears_the_surface_is_not_used(monkeypatch):
    """The clustered copy is taken only when it has no more open edges than the source: a box whose sides
    are 1000 x 2 strips (500:1, each as long as the side, no vertex along them to cluster) keeps what the
    stalled decimation made when clustering would open more of it."""
    verts, tris = sliver_box(1000, 2)  # 24,000 triangles
    monkeypatch.setattr(workcopy, "STALLED_GAIN", GAIN)
    unit = _unit(verts)
    work_v, work_t, _ = workcopy.working_copy(unit, tris, 50, True, lambda *_: None)
    assert workcopy._open_edges(work_v, work_t) <= workcopy._open_edges(unit, tris)
    # Fewer triangles count as more open edges here, so every clustered copy "tears" the source.
    monkeypatch.setattr(workcopy, "_open_edges", lambda v, t: -t.shape[0])
    _, kept, _ = workcopy.working_copy(unit, tris, 50, True, lambda *_: None)
    assert kept.shape[0] > 10_000
