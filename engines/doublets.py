# SPDX-License-Identifier: GPL-3.0-or-later
"""Doublets taken out of a quad remesh: interior vertices with two edges, where two quads share two edges.

Contract: ``without_doublets(mesh)`` takes a ``MeshArrays`` (any polygons; only quads are changed) and
returns ``(mesh, count)``: each interior vertex of valence 2 whose two faces are quads sharing both its
edges is dissolved, the two quads merged into one over the same outline, until none is left (a neighbour
left with two edges is dissolved in the next round); ``count`` vertices went. A doublet vertex standing
more than ``MAX_HEIGHT`` edges off that merged quad (a tip) stays, and its two quads are made to start at
it, so that split as Blender draws them they share no diagonal. Unused vertices are dropped, so vertex
numbers change; faces keep their order but for the merged ones' partners. Border vertices, non-manifold
ones and doublets between other polygons are left as they are. Imports numpy and the
engine's own modules only; never touches bpy and runs in the engine child process.

Why: Instant Meshes' extraction leaves them where its position field folds over a part narrower than a
few of its edges (pymeshlab's cow at 1,500 quads: 12; the raw face scan at 5,000: 9; a small open cone:
several). Each is a pole an artist has to clean by hand, its two quads lie folded onto each other (a dark
crease in the shading), and split into triangles as Blender draws them, both quads put a triangle on the
same diagonal: an edge of four triangles, non-manifold in every export and in every LoD decimated from it.
Dissolving the vertex (Blender's Dissolve Vertices) leaves the one quad the two make together.
"""

from __future__ import annotations

import logging

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import unique_edges
from .project import closest_on_triangles

log = logging.getLogger(__name__)

# Dissolving a doublet takes an edge from each of its two neighbours, which may make one of them a doublet
# for the next round; a round takes at most one doublet per quad. This bounds the rounds.
MAX_ROUNDS = 8
# A doublet vertex further than this (in edges) from the quad its two quads would merge into stays: it holds
# out a tip the merged quad would cut off.
MAX_HEIGHT = 0.35


def _height(verts: np.ndarray, doublet: np.ndarray, merged: tuple[np.ndarray, ...]) -> np.ndarray:
    """Distance of each doublet vertex from its merged quad (split along its first diagonal), in the mean
    length of that quad's edges."""
    p = verts[doublet].astype(np.float64)
    a, b, c, d = (verts[m].astype(np.float64) for m in merged)
    _, first = closest_on_triangles(p, a, b, c)
    _, second = closest_on_triangles(p, a, c, d)
    edge = sum(np.linalg.norm(x - y, axis=1) for x, y in ((a, b), (b, c), (c, d), (d, a))) / 4.0
    return np.sqrt(np.minimum(first, second)) / np.maximum(edge, 1e-30)


def _doublet_vertices(mesh: MeshArrays) -> np.ndarray:
    """Per vertex, whether it is a doublet's: two edges, neither on a border nor non-manifold."""
    edges, counts, _ = unique_edges(mesh)
    valence = np.bincount(edges.ravel(), minlength=mesh.vert_count)
    on_edge = np.zeros(mesh.vert_count, dtype=bool)
    on_edge[edges[counts != 2].ravel()] = True  # border and non-manifold vertices stay
    return (valence == 2) & ~on_edge


def _doublet_quads(mesh: MeshArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each dissolvable doublet: the quad kept (face id), the quad removed, and the kept quad's new
    corners (D, 4), one doublet per quad."""
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.int64))
    candidate = _doublet_vertices(mesh)
    if not candidate.any():
        return none
    quads = np.flatnonzero(mesh.face_sizes == 4)
    corners = mesh.corner_verts[mesh.face_starts[quads, None] + np.arange(4)].astype(np.int64)
    rows, cols = np.nonzero(candidate[corners])
    if rows.size == 0:
        return none
    vertex = corners[rows, cols]
    order = np.argsort(vertex, kind="stable")
    rows, cols, vertex = rows[order], cols[order], vertex[order]
    _, first, seen = np.unique(vertex, return_index=True, return_counts=True)
    first = first[seen == 2]  # both faces of the vertex are quads
    r1, c1, r2, c2 = rows[first], cols[first], rows[first + 1], cols[first + 1]

    def around(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The quad's corners after the doublet, in its own order: next, opposite, previous.
        return (corners[r, (c + 1) % 4], corners[r, (c + 2) % 4], corners[r, (c + 3) % 4])

    next1, opposite1, previous1 = around(r1, c1)
    next2, opposite2, previous2 = around(r2, c2)
    # Two quads sharing both of the vertex's edges, consistently oriented, with distinct far corners (a
    # merged quad that repeats a corner would have no area).
    fits = (next1 == previous2) & (previous1 == next2) & (opposite1 != opposite2) & (r1 != r2)
    fits &= _height(mesh.verts, vertex[first], (next1, opposite1, previous1, opposite2)) <= MAX_HEIGHT
    kept_rows, gone_rows, merged = [], [], []
    used: set[int] = set()
    for k in np.flatnonzero(fits):
        pair = (int(r1[k]), int(r2[k]))
        if pair[0] in used or pair[1] in used:
            continue  # two doublets on one quad: the second waits for the next round
        used.update(pair)
        kept_rows.append(pair[0])
        gone_rows.append(pair[1])
        merged.append((next1[k], opposite1[k], previous1[k], opposite2[k]))
    if not kept_rows:
        return none
    return quads[kept_rows], quads[gone_rows], np.asarray(merged, dtype=np.int64)


def _split_through(mesh: MeshArrays) -> MeshArrays:
    """``mesh`` with each quad at a doublet vertex starting at that vertex: Blender splits a quad along the
    diagonal from its first corner, so the two quads no longer put triangles on the same diagonal."""
    quads = np.flatnonzero(mesh.face_sizes == 4)
    slots = mesh.face_starts[quads, None] + np.arange(4)
    corners = mesh.corner_verts[slots]
    at = _doublet_vertices(mesh)[corners]
    rows = np.flatnonzero(at.any(axis=1))
    if rows.size == 0:
        return mesh
    shift = np.argmax(at[rows], axis=1)
    corner_verts = mesh.corner_verts.copy()
    corner_verts[slots[rows]] = corners[rows[:, None], (shift[:, None] + np.arange(4)) % 4]
    return MeshArrays(mesh.verts, mesh.face_sizes, corner_verts)


def without_doublets(mesh: MeshArrays) -> tuple[MeshArrays, int]:
    """``mesh`` with its doublets dissolved or, when they hold out a tip, split through (see the module
    docstring), and how many were dissolved."""
    total = 0
    for _ in range(MAX_ROUNDS):
        kept, gone, merged = _doublet_quads(mesh)
        if kept.size == 0:
            break
        corner_verts = mesh.corner_verts.copy()
        corner_verts[mesh.face_starts[kept, None] + np.arange(4)] = merged
        drop = np.zeros(mesh.face_count, dtype=bool)
        drop[gone] = True
        mesh = MeshArrays(mesh.verts, mesh.face_sizes, corner_verts).select_faces(~drop).compact()
        total += int(kept.shape[0])
    if total:
        log.debug("dissolved %d doublets", total)
    return _split_through(mesh), total
