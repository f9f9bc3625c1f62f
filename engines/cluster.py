# SPDX-License-Identifier: GPL-3.0-or-later
"""Uniform vertex clustering: a cheap, even-resolution stand-in for a dense mesh.

Contract: ``cluster_vertices(verts, tris, cell)`` takes float (N, 3) vertices, int (M, 3) triangles and a
cell size in the same units; it merges all vertices inside each cubic cell into their mean and returns
(verts float64 (K, 3), tris int64 (L, 3)) without degenerate, duplicate or unreferenced elements.
Instant Meshes' cost grows with its input size while its result only depends on the surface at the scale
of the output edge length, so the remesher feeds it this much smaller mesh and projects the result back
onto the full-resolution source. Sheets closer than one cell may fuse; the cell is kept well below the
output edge length, where Instant Meshes would not separate them either. Imports numpy only; never touches
bpy and runs in the engine child process.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def cluster_vertices(verts: np.ndarray, tris: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(verts, dtype=np.float64)
    t = np.asarray(tris, dtype=np.int64)
    if cell <= 0.0:
        raise ValueError("cluster cell size must be positive")
    coords = np.floor((v - v.min(axis=0)) / cell).astype(np.int64)
    dims = coords.max(axis=0) + 1
    keys = (coords[:, 0] * dims[1] + coords[:, 1]) * dims[2] + coords[:, 2]
    del coords
    cells, member_of = np.unique(keys, return_inverse=True)
    member_of = member_of.ravel()
    counts = np.bincount(member_of, minlength=cells.shape[0]).astype(np.float64)
    centers = np.empty((cells.shape[0], 3), dtype=np.float64)
    for axis in range(3):
        centers[:, axis] = np.bincount(member_of, weights=v[:, axis], minlength=cells.shape[0]) / counts
    mapped = member_of[t]
    keep = (mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2]) & (mapped[:, 2] != mapped[:, 0])
    mapped = mapped[keep]
    # Two triangles over the same three cells would be coincident; keep one (orientation of the first).
    ordered = np.sort(mapped, axis=1)
    _, first = np.unique(ordered, axis=0, return_index=True)
    mapped = mapped[np.sort(first)]
    used = np.zeros(centers.shape[0], dtype=bool)
    used[mapped] = True
    remap = np.cumsum(used) - 1
    log.debug("clustered %d triangles into %d (cell %.4g)", t.shape[0], mapped.shape[0], cell)
    return centers[used], remap[mapped]
