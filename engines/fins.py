# SPDX-License-Identifier: GPL-3.0-or-later
"""Fins: triangles stood on the edges a decimation must keep, so fast_simplification follows them.

Contract: ``fin_edges(verts, tris, tri_region=None)`` returns ``(tips, fins)``: fin tip points (E, 3) and
fin triangles (E, 3) whose third vertex is a tip, numbered from ``len(verts)``, one on every open border
edge (used by one triangle) and, with ``tri_region`` (one label per triangle), on every edge whose
triangles lie in different regions. ``without_fins(verts, tris, kept, count)`` drops the fins from a
``decimate.collapse_map`` result of the mesh with its fins appended after its ``count`` triangles.
``border_share(tris)`` is the share of edges that are open borders; ``small_pieces(tris)`` marks the
triangles of pieces too small for fins; ``specks_aside(tris, vert_count, target)`` marks those a
decimation to ``target`` sets aside and ``put_back(verts, tris, aside)`` returns them after it. Imports
numpy and the engine's own modules only; never touches bpy and runs in the engine child process.

Why. fast_simplification cannot be told to keep an edge. It lets a vertex on an open border collapse only
into another border vertex, placed at one of the two or their midpoint, and each triangle's plane stays in
its vertices' quadrics for the whole pass. A fin stands on its edge along the surface normal: both ends
become border vertices, and the fin's plane (through the edge, across the surface) penalises any move away
from the edge's line. A plain open border has no such plane: its vertices slide along it at no cost, so a
hole's rim shrinks and the hole closes (the open bunny scan's five holes under its base: one left at 600
triangles, with LOD0's rim 2.4% of the diagonal away). Fins collapse at no cost into their base and are
dropped from the result.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import face_components

# Height of a fin over its edge, as a share of the edge's length: high enough to be a plane of its own for
# the quadric, low enough that its tip stays near the surface.
FIN_HEIGHT = 1.0
# Pieces of fewer triangles are specks, kept as they are (``small_pieces``).
MIN_FINNED_PIECE = 16
# Specks are set aside unchanged when they hold at most this share of a decimation's budget.
SPECK_SHARE = 0.05


def _edge_keys(tris: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted edge key per corner, order of the corners that sorts them); a key is ``min * n + max``."""
    a = tris.ravel()
    b = np.roll(tris, -1, axis=1).ravel()
    key = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.argsort(key, kind="stable")
    return key[order], order


def small_pieces(tris: np.ndarray, vert_count: int) -> np.ndarray:
    """Bool per triangle: in a piece of fewer than ``MIN_FINNED_PIECE`` triangles (a scan's specks). A
    decimation with fins keeps the large pieces' borders, so it reaches its budget by collapsing more
    elsewhere, and took specks away whole: the face scan lost a 2-triangle one 6.8% of its diagonal from
    the rest, which the decimation without fins kept. ``decimate`` sets them aside, unchanged."""
    mesh = MeshArrays.from_triangles(np.zeros((vert_count, 3)), tris)
    labels = face_components(mesh)
    return np.bincount(labels)[labels] < MIN_FINNED_PIECE


def specks_aside(tris: np.ndarray, vert_count: int, target: int) -> np.ndarray | None:
    """Bool per triangle: the specks a decimation to ``target`` sets aside and puts back unchanged, or
    None when it sets none aside (there are none, or they would take more than ``SPECK_SHARE`` of the
    budget, as a soup's would). Collapsed away, a speck far from the rest sets every level's distance to
    LOD0: the npm snowden head's two 1-triangle specks, 2.6 units from the head, gave its three LoDs one
    error and one switch distance (4,313 units, for a head 9 units tall)."""
    specks = small_pieces(tris, vert_count)
    count = np.count_nonzero(specks)
    return specks if 0 < count <= SPECK_SHARE * target else None


def put_back(verts: np.ndarray, tris: np.ndarray, aside: MeshArrays) -> tuple[np.ndarray, np.ndarray]:
    """``(verts, tris)`` with the set-aside triangles of ``aside`` appended after them, in their order."""
    return (
        np.concatenate([verts, aside.verts]),
        np.concatenate([tris, aside.corner_verts.reshape(-1, 3) + verts.shape[0]]),
    )


def border_share(tris: np.ndarray) -> float:
    """Share of a triangle mesh's edges used by one triangle (1.0 for a triangle soup)."""
    tris = np.asarray(tris, dtype=np.int64)
    if tris.shape[0] == 0:
        return 0.0
    n = int(tris.max()) + 1
    a, b = tris.ravel(), np.roll(tris, -1, axis=1).ravel()
    # A plain sort and run lengths: this runs before every decimation, of a million triangles too.
    key = np.sort(np.minimum(a, b) * n + np.maximum(a, b))
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    runs = np.diff(np.r_[starts, key.shape[0]])
    return float(np.count_nonzero(runs == 1)) / starts.shape[0]


def fin_edges(
    verts: np.ndarray, tris: np.ndarray, tri_region: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fins on the open borders and, with ``tri_region``, on the borders between regions (see above)."""
    verts = np.asarray(verts, dtype=np.float64)
    tris = np.asarray(tris, dtype=np.int64)
    n = max(int(verts.shape[0]), 1)
    skey, order = _edge_keys(tris, n)
    same = skey[1:] == skey[:-1]
    # A key that equals neither neighbour belongs to one triangle only: an open border edge.
    alone = np.ones(skey.shape[0], dtype=bool)
    alone[1:] &= ~same
    alone[:-1] &= ~same
    chosen = [skey[alone]]
    if tri_region is not None:
        owner = np.repeat(np.arange(tris.shape[0]), 3)
        first, second = order[:-1][same], order[1:][same]
        cut = tri_region[owner[first]] != tri_region[owner[second]]
        chosen.append(skey[:-1][same][cut])
    edge_keys = np.unique(np.concatenate(chosen))
    if edge_keys.size == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    ea, eb = edge_keys // n, edge_keys % n
    p0, p1 = verts[ea], verts[eb]
    cross = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    normal = np.zeros_like(verts)
    for k in range(3):
        np.add.at(normal, tris[:, k], cross)
    up = normal[ea] + normal[eb]
    up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-30)
    length = np.linalg.norm(p1 - p0, axis=1, keepdims=True)
    tips = (p0 + p1) * 0.5 + up * (length * FIN_HEIGHT)
    fins = np.stack([ea, eb, verts.shape[0] + np.arange(edge_keys.size)], axis=1)
    return tips, fins


def without_fins(
    verts: np.ndarray, tris: np.ndarray, kept: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(verts, tris, kept) of a collapse result with the fin triangles (``kept >= count``) and the vertices
    only they used taken away; ``kept`` still indexes the input's triangles."""
    surface = kept < count
    mesh = MeshArrays.from_triangles(verts, tris[surface]).compact()
    return mesh.verts, mesh.corner_verts.reshape(-1, 3).astype(np.int64), kept[surface]
