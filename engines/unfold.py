# SPDX-License-Identifier: GPL-3.0-or-later
"""Undo the folds a finished quad remesh can keep: a quad whose two triangles face apart (over 90 degrees, on
either diagonal) draws as a dark tick or a crease the source does not have, and a quad with a corner under
a few degrees is a sliver; both show in a render (the bunny's ear tip, the machined part's chamfers).

Contract: ``unfold(verts, mesh, index, pinned)`` returns new float64 (N, 3) positions of ``mesh`` (a
``MeshArrays`` over ``verts``, in ``index``'s units, a ``TriangleIndex`` of the source) where the vertices of
bad quads, then also one and two rings around them, moved to the mean of their edge neighbours and back onto
the source, a few passes per round, until no quad is bad or ``ROUNDS`` rounds are spent; ``pinned``
vertices (bool (N,): on hard edges, on borders) never move, nor does any vertex of a good region. A move
whose snap lands on a surface facing away (through a thin part) is not taken. ``bad_quads(verts, mesh)``
says which quads are bad. Triangles and n-gons are left as they are. Imports numpy and the engine's own
modules only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .features import face_normals
from .meshdata import MeshArrays
from .meshgraph import unique_edges
from .project import TriangleIndex

FOLD_COS = 0.0  # the two triangles of a quad facing apart by more than 90 degrees
SLIVER_DEG = 5.0
ROUNDS = 3
PASSES = 6
FACING = 0.0
# A vertex moves at most this share of its mean edge length from where the remesh put it: further, and a
# thin tip (the bunny's ears) loses its cover. Measured on the bench meshes (bad quads before -> after,
# Hausdorff % of the diagonal): no cap: bunny 16 -> 4 at 0.876 -> 1.563, cow 57 -> 54 at 1.58 -> 4.04;
# 0.5: bunny 2 at 1.166; 0.25: bunny 3 at 0.892, cow 32 at 1.58, sphere 13 -> 1, face scan 83 -> 47,
# machined part 38 -> 2 at 1.61 -> 1.60 (its p95 corner-angle deviation 37.6 -> 33.4 degrees).
MAX_DRIFT = 0.25


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lengths = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.maximum(lengths, 1e-30)


def bad_quads(verts: np.ndarray, mesh: MeshArrays) -> np.ndarray:
    """bool (F,): quads folded over either diagonal or with a corner under SLIVER_DEG (False elsewhere)."""
    bad = np.zeros(mesh.face_count, dtype=bool)
    rows = np.flatnonzero(mesh.face_sizes == 4)
    if rows.size == 0:
        return bad
    p = verts[mesh.corner_verts[mesh.face_starts[rows, None] + np.arange(4)]]
    fold = np.minimum(
        _cos(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0])),
        _cos(np.cross(p[:, 2] - p[:, 1], p[:, 3] - p[:, 1]), np.cross(p[:, 3] - p[:, 1], p[:, 0] - p[:, 1])),
    )
    corner = np.min(
        [_cos(p[:, (k - 1) % 4] - p[:, k], p[:, (k + 1) % 4] - p[:, k]) for k in range(4)], axis=0
    )
    bad[rows] = (fold < FOLD_COS) | (corner > np.cos(np.radians(SLIVER_DEG)))
    return bad


def unfold(verts: np.ndarray, mesh: MeshArrays, index: TriangleIndex, pinned: np.ndarray) -> np.ndarray:
    p = np.asarray(verts, dtype=np.float64).copy()
    edges, _, _ = unique_edges(mesh)
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    degree = np.bincount(src, minlength=p.shape[0]).astype(np.float64)
    owner = np.repeat(np.arange(mesh.face_count), mesh.face_sizes)
    normals = face_normals(index.verts, index.tris)
    home = p.copy()
    length = np.linalg.norm(p[edges[:, 0]] - p[edges[:, 1]], axis=1)
    reach = (
        MAX_DRIFT * np.bincount(src, weights=np.tile(length, 2), minlength=p.shape[0]) / np.maximum(degree, 1)
    )
    for ring in range(ROUNDS):
        bad = bad_quads(p, mesh)
        if not bad.any():
            break
        free = np.zeros(p.shape[0], dtype=bool)
        free[mesh.corner_verts[bad[owner]]] = True
        for _ in range(ring):  # a fold that one round did not undo gets more room around it
            grown = free.copy()
            grown[dst[free[src]]] = True
            free = grown
        moving = np.flatnonzero(free & ~pinned & (degree > 0))
        home_tri = index.query(p[moving])[2]
        for _ in range(PASSES):
            mean = np.zeros_like(p)
            np.add.at(mean, src, p[dst])
            target = mean[moving] / degree[moving, None]
            drift = target - home[moving]
            far = np.linalg.norm(drift, axis=1) / np.maximum(reach[moving], 1e-30)
            target = home[moving] + drift / np.maximum(far, 1.0)[:, None]
            snapped, _, tri = index.query(target)
            ok = np.einsum("ij,ij->i", normals[tri], normals[home_tri]) > FACING
            p[moving[ok]] = snapped[ok]
            home_tri = np.where(ok, tri, home_tri)  # a taken move's triangle is where the vertex now lies
    return p
