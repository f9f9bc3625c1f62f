# SPDX-License-Identifier: GPL-3.0-or-later
"""Put a remesh's edge loops on the source's feature (hard) edges and say which result edges are sharp.

Contract: ``FeatureCurves(verts, feature_edges)`` indexes source feature edges (int (K, 2) source vertex
pairs, see ``features``) as segments. ``snap(mesh)`` returns new positions (N, 3) float64 and a bool (N,)
mask of vertices moved onto a feature: a vertex is snapped when its nearest feature point is closer than
``SNAP_SHARE`` of its shortest edge (so one row of vertices follows each feature, not both rows beside
it). ``sharp_edges(mesh, snapped)`` returns int32 (E, 2) result vertex pairs (smaller first) of edges whose
ends are both snapped and whose midpoint lies on a feature too. Imports numpy and the engine's own modules
only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import unique_edges
from .project import TriangleIndex

SNAP_SHARE = 0.5
# An edge is on a feature when its midpoint is within this share of its length of a feature segment.
ON_FEATURE = 0.1


def _shortest_edge(mesh: MeshArrays, edges: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(mesh.verts[edges[:, 0]].astype(np.float64) - mesh.verts[edges[:, 1]], axis=1)
    shortest = np.full(mesh.vert_count, np.inf)
    np.minimum.at(shortest, edges[:, 0], length)
    np.minimum.at(shortest, edges[:, 1], length)
    return shortest


class FeatureCurves:
    def __init__(self, verts: np.ndarray, feature_edges: np.ndarray) -> None:
        edges = np.asarray(feature_edges, dtype=np.int64).reshape(-1, 2)
        self.count = edges.shape[0]
        # A triangle (a, b, b) has no area, so its closest point is the closest point of segment ab.
        self.index = (
            TriangleIndex(verts, np.stack([edges[:, 0], edges[:, 1], edges[:, 1]], axis=1))
            if self.count
            else None
        )

    def snap(self, mesh: MeshArrays) -> tuple[np.ndarray, np.ndarray]:
        p = mesh.verts.astype(np.float64)
        if self.index is None:
            return p, np.zeros(mesh.vert_count, dtype=bool)
        edges, _, _ = unique_edges(mesh)
        near, dist, _ = self.index.query(p)
        snapped = dist < SNAP_SHARE * _shortest_edge(mesh, edges)
        p[snapped] = near[snapped]
        return p, snapped

    def sharp_edges(self, mesh: MeshArrays, snapped: np.ndarray) -> np.ndarray:
        if self.index is None:
            return np.zeros((0, 2), dtype=np.int32)
        edges, _, _ = unique_edges(mesh)
        both = edges[snapped[edges[:, 0]] & snapped[edges[:, 1]]]
        if both.shape[0] == 0:
            return np.zeros((0, 2), dtype=np.int32)
        a, b = mesh.verts[both[:, 0]].astype(np.float64), mesh.verts[both[:, 1]].astype(np.float64)
        dist = self.index.query((a + b) / 2.0)[1]
        on = dist <= ON_FEATURE * np.linalg.norm(b - a, axis=1)
        return both[on].astype(np.int32)
