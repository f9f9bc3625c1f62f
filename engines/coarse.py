# SPDX-License-Identifier: GPL-3.0-or-later
"""Undo and redo the one-level quad split Instant Meshes applies to its quad-dominant mesh.

Instant Meshes extracts a quad-dominant mesh (quads plus some triangles and pentagons) and, in pure-quad
mode, splits every n-gon into n quads around a new centre vertex, which puts a pole of valence n at the
centre of every non-quad. ``unsubdivide`` recovers that quad-dominant mesh from the split result so its
non-quads can be paired off first (see ``pairing``), and ``subdivide`` splits the repaired mesh again.

Contract: ``unsubdivide(quads (F, 4) int, vert_count)`` returns the coarse faces as a list of vertex-index
lists (indices into the same vertex array; edge midpoints and face centres are simply no longer used) or
None when the quads are not exactly such a split (then the caller keeps them as they are).
``subdivide(verts, faces)`` returns (verts (N', 3) float64, quads (F', 4) int64): original vertices first,
then one per edge (its midpoint), then one per face (its centroid). Imports numpy and the engine's own
modules only; never touches bpy.

How the split is recognised: in every split quad the corners run (vertex, edge point, face centre, edge
point), so quad diagonals join edge points to edge points and vertices to face centres. The components of
the diagonal graph therefore separate edge points (all of valence 4 inside the surface) from the rest, and
a two-colouring of the vertex/centre diagonal graph separates vertices from centres; the colour whose
diagonal partners sit exactly at the middle of their edge-point pairs is the vertex colour.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import components, face_centroids, unique_edges, valences


def _two_colour(pairs: np.ndarray, nodes: np.ndarray, count: int) -> np.ndarray | None:
    """0/1 colour per node so every pair differs (-1 off ``nodes``); None if the graph is not bipartite."""
    order = np.argsort(pairs[:, 0], kind="stable")
    src, dst = pairs[order, 0], pairs[order, 1]
    start = np.searchsorted(src, np.arange(count + 1))
    colour = np.full(count, -1, dtype=np.int64)
    todo = set(nodes.tolist())
    while todo:
        seed = todo.pop()
        colour[seed] = 0
        frontier = np.array([seed])
        while frontier.size:
            lo, hi = start[frontier], start[frontier + 1]
            n = hi - lo
            idx = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
            nbr = dst[idx]
            want = 1 - np.repeat(colour[frontier], n)
            fresh = colour[nbr] < 0
            colour[nbr[fresh]] = want[fresh]
            frontier = np.unique(nbr[fresh])
            todo.difference_update(frontier.tolist())
    if (colour[pairs[:, 0]] == colour[pairs[:, 1]]).any():
        return None
    return colour


def unsubdivide(verts: np.ndarray, quads: np.ndarray) -> list[list[int]] | None:
    """The quad-dominant faces whose one-level split ``quads`` is; None if it is not such a split."""
    quads = np.asarray(quads, dtype=np.int64)
    n = int(np.asarray(verts).shape[0])
    if quads.size == 0:
        return None
    diag = np.concatenate([quads[:, [0, 2]], quads[:, [1, 3]]])
    label = components(diag, n)
    mesh = MeshArrays.from_faces(verts, quads)
    edges, counts, _ = unique_edges(mesh)
    val = valences(edges, n)
    inner = np.ones(n, dtype=bool)
    inner[edges[counts != 2].ravel()] = False
    # Edge points: the diagonal class whose inner vertices are all of valence 4.
    irregular = np.bincount(label, weights=(inner & (val != 4)).astype(float), minlength=n)
    is_edge_point = irregular[label] == 0
    a_edge = is_edge_point[quads[:, 0]]
    b_edge = is_edge_point[quads[:, 1]]
    if (a_edge == b_edge).any():
        return None
    # Rotate each quad to (vertex-or-centre, edge point, centre-or-vertex, edge point).
    quads = np.where(a_edge[:, None], np.roll(quads, -1, axis=1), quads)
    vf = quads[:, [0, 2]]
    colour = _two_colour(np.concatenate([vf, vf[:, ::-1]]), np.unique(vf), n)
    if colour is None:
        return None
    vertex_colour = _vertex_colour(np.asarray(verts, dtype=np.float64), quads, colour)
    centre_first = colour[quads[:, 0]] != vertex_colour
    quads = np.where(centre_first[:, None], quads, np.roll(quads, 2, axis=1))
    # Now every quad is (centre, edge point, vertex, edge point); chain them around each centre.
    following = {(int(q[0]), int(q[1])): (int(q[2]), int(q[3])) for q in quads}
    faces: list[list[int]] = []
    seen: set[tuple[int, int]] = set()
    for q in quads:
        key = (int(q[0]), int(q[1]))
        if key in seen:
            continue
        face: list[int] = []
        while key not in seen:
            seen.add(key)
            if key not in following:
                return None
            vert, nxt = following[key]
            face.append(vert)
            key = (key[0], nxt)
        if key != (int(q[0]), int(q[1])) or len(face) < 3:
            return None
        faces.append(face)
    return faces


def _vertex_colour(p: np.ndarray, quads: np.ndarray, colour: np.ndarray) -> int:
    """The colour of true vertices: an edge point is the exact midpoint of its two vertex neighbours,
    while the two face centres beside it are symmetric about it only where the faces are parallelograms."""
    inc_e = np.concatenate([quads[:, 1], quads[:, 1], quads[:, 3], quads[:, 3]])
    inc_x = np.concatenate([quads[:, 0], quads[:, 2], quads[:, 0], quads[:, 2]])
    inc = np.unique(np.stack([inc_e, colour[inc_x], inc_x], axis=1), axis=0)
    group = inc[:, 0] * 2 + inc[:, 1]
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    size = np.diff(np.r_[first, group.shape[0]])
    two = first[size == 2]
    miss = np.linalg.norm(p[inc[two, 2]] + p[inc[two + 1, 2]] - 2.0 * p[inc[two, 0]], axis=1)
    per_colour = np.bincount(inc[two, 1], weights=miss, minlength=2)
    return int(np.argmin(per_colour))


def subdivide(verts: np.ndarray, faces: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Split every n-gon into n quads around its centroid, with one shared midpoint per edge."""
    p = np.asarray(verts, dtype=np.float64)
    mesh = MeshArrays.from_polygons(p, faces)
    sizes, corner = mesh.face_sizes, mesh.corner_verts
    edges, _, corner_edge = unique_edges(mesh)
    n, e_count = p.shape[0], edges.shape[0]
    starts = mesh.face_starts
    face_of = np.repeat(np.arange(sizes.shape[0]), sizes)
    centroid = face_centroids(mesh)
    out_v = np.vstack([p, 0.5 * (p[edges[:, 0]] + p[edges[:, 1]]), centroid])
    local = np.arange(corner.shape[0]) - starts[face_of]
    prev = starts[face_of] + (local - 1) % sizes[face_of]
    # Corner k of a face: (vertex, midpoint of its outgoing edge, centre, midpoint of its incoming edge).
    quads = np.stack([corner, n + corner_edge, n + e_count + face_of, n + corner_edge[prev]], axis=1)
    return out_v, quads
