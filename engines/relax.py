# SPDX-License-Identifier: GPL-3.0-or-later
"""Tangential relaxation of a polygon mesh on a source surface: evens out edge lengths and corner angles.

Contract: ``relax(verts, mesh_faces, index, iterations, pinned)`` returns new float64 (N, 3) positions:
each pass moves every free vertex towards the mean of its edge neighbours, keeps only the part of that move
tangent to the source surface (normal of the nearest source triangle), then snaps it back onto the source
through ``index`` (a ``TriangleIndex`` over the source). ``pinned`` vertices (bool (N,)) do not move;
boundary vertices slide only along their boundary (mean of their boundary neighbours); no edge comes out
collapsed to a point. ``kept_apart(before, after, moved, edges)`` is that guard for any move of vertices:
where an edge shrank to under ``COLLAPSE_SHARE`` of its length, one end goes back.
``spread_collapsed(verts, mesh, index)`` moves apart the corners of a face that were at one point before
any move. Imports numpy and the
engine's own modules only; never touches bpy.

Why umbrella (uniform) weights: on a quad mesh they pull each vertex to the centre of its ring, which
squares the quads around regular vertices; the tangential projection keeps the surface from shrinking
and the snap keeps the Hausdorff distance of the unrelaxed mesh.
"""

from __future__ import annotations

import numpy as np

from .features import face_normals
from .meshdata import MeshArrays
from .meshgraph import unique_edges
from .project import TriangleIndex

# Passes Instant Meshes' quads get on the source (sharp.onto_source): on the bench meshes 3 or 5 gave corner
# angles within 0.4 degrees of 2 (bench/TOPOLOGY.md, "Quads relaxed on the surface").
PASSES = 2
STEP = 0.6
MAX_DRIFT = 0.35
FACING = 0.2
# An edge a move shortened to less than this share of its length collapsed: two ends put on one point of
# the source (a border's or a feature's corner, a crease of a scan). One end goes back, since a zero-length
# edge makes a quad that is a triangle with a doubled vertex, which shades and unwraps badly (xatlas throws
# its UVs far off). Up to COLLAPSE_PASSES rounds, since putting one back can collapse another edge.
COLLAPSE_SHARE = 0.1
COLLAPSE_PASSES = 3
# Two corners of a face closer than this share of the median edge are at one point (spread_collapsed): the
# result's float32 positions make them one, though float64 ones differed in the last digits.
ONE_POINT = 1e-4


def relax(
    verts: np.ndarray,
    mesh: MeshArrays,
    index: TriangleIndex,
    iterations: int = PASSES,
    pinned: np.ndarray | None = None,
    curved: float = 0.98,
) -> np.ndarray:
    p = np.asarray(verts, dtype=np.float64).copy()
    n = p.shape[0]
    edges, counts, _ = unique_edges(mesh)
    on_border = np.zeros(n, dtype=bool)
    is_border = counts == 1
    on_border[edges[is_border].ravel()] = True
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    # Border vertices follow border edges only, so the outline keeps its shape.
    keep = ~on_border[src] | np.tile(is_border, 2)
    src, dst = src[keep], dst[keep]
    degree = np.bincount(src, minlength=n).astype(np.float64)
    free = degree > 0
    if pinned is not None:
        free &= ~pinned
    normals = face_normals(index.verts, index.tris)
    # One query gives every vertex its source triangle: for the ring test and as the moving ones' start.
    start_tri = index.query(p)[2]
    vert_normal = normals[start_tri]
    ring = np.zeros_like(p)
    np.add.at(ring, src, vert_normal[dst])
    ring /= np.maximum(np.linalg.norm(ring, axis=1, keepdims=True), 1e-30)
    # Where the surface turns sharply within one ring (tips, ridges, creases) the vertex stays: moving it
    # would cut the feature off (the bunny's ear tips lost their cover and the Hausdorff doubled).
    free &= np.einsum("ij,ij->i", ring, vert_normal) > curved
    moving = np.flatnonzero(free)
    tri = start_tri[moving]
    home = p[moving].copy()
    # A vertex may drift only a fraction of its shortest edge from where extraction put it: further, and
    # vertices slide off tips and thin ridges, which then lose their cover (Hausdorff tripled on the bunny).
    length = np.linalg.norm(p[edges[:, 0]] - p[edges[:, 1]], axis=1)
    shortest = np.full(n, np.inf)
    np.minimum.at(shortest, edges[:, 0], length)
    np.minimum.at(shortest, edges[:, 1], length)
    reach = MAX_DRIFT * shortest[moving]
    for _ in range(iterations):
        mean = np.zeros_like(p)
        np.add.at(mean, src, p[dst])
        move = mean[moving] / degree[moving, None] - p[moving]
        nrm = normals[tri]
        move -= np.einsum("ij,ij->i", move, nrm)[:, None] * nrm
        target = p[moving] + STEP * move
        drift = target - home
        dist = np.linalg.norm(drift, axis=1)
        over = dist > reach
        target[over] = home[over] + drift[over] * (reach[over] / dist[over])[:, None]
        snapped, _, new_tri = index.query(target)
        # A snap onto a surface facing away is a jump through a thin part (an ear, a finger): stay put.
        ok = np.einsum("ij,ij->i", normals[new_tri], nrm) > FACING
        p[moving[ok]] = snapped[ok]
        tri = np.where(ok, new_tri, tri)
    return kept_apart(np.asarray(verts, dtype=np.float64), p, free, edges)[0]


def kept_apart(
    before: np.ndarray, after: np.ndarray, moved: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``after`` (and ``moved``, a copy) with snapped vertices put back at ``before`` until no edge has
    collapsed to under ``COLLAPSE_SHARE`` of its length; of an edge's two ends, the one that moved further
    goes back."""
    after, moved = after.copy(), moved.copy()
    a, b = edges[:, 0], edges[:, 1]
    length = np.linalg.norm(before[a] - before[b], axis=1)
    for _ in range(COLLAPSE_PASSES):
        collapsed = np.linalg.norm(after[a] - after[b], axis=1) < COLLAPSE_SHARE * length
        collapsed &= moved[a] | moved[b]
        if not collapsed.any():
            break
        shift = np.linalg.norm(after - before, axis=1)
        ea, eb = a[collapsed], b[collapsed]
        back = np.where(moved[ea] & (~moved[eb] | (shift[ea] >= shift[eb])), ea, eb)
        after[back], moved[back] = before[back], False
    return after, moved


def _corner_pairs(mesh: MeshArrays, edges: np.ndarray) -> np.ndarray:
    """Every face's ``edges`` (``unique_edges``) and, for quads, its two diagonals: int64 (P, 2), smaller
    index first."""
    quads = mesh.corner_verts[np.repeat(mesh.face_sizes == 4, mesh.face_sizes)].reshape(-1, 4)
    diagonals = np.concatenate([quads[:, [0, 2]], quads[:, [1, 3]]]).astype(np.int64)
    return np.unique(np.sort(np.concatenate([edges, diagonals]), axis=1), axis=0)


def spread_collapsed(verts: np.ndarray, mesh: MeshArrays, index: TriangleIndex) -> tuple[np.ndarray, int]:
    """``verts`` (float64 copy) with every vertex that shares one point with another corner of a face (an
    edge's other end, or a quad's opposite corner) moved off it, to the mean of its other neighbours put
    back on the source; and how many moved. ``kept_apart`` keeps moves from making such pairs; these were
    at one point before any move: Instant Meshes puts two rim vertices of a hole, or two sheets crossing,
    on one point, and the hole filling then joins them."""
    p = np.asarray(verts, dtype=np.float64).copy()
    edges = unique_edges(mesh)[0]
    pairs = _corner_pairs(mesh, edges)
    moved = 0
    if edges.shape[0] == 0:
        return p, moved
    near = ONE_POINT * float(np.median(np.linalg.norm(p[edges[:, 0]] - p[edges[:, 1]], axis=1)))
    for _ in range(COLLAPSE_PASSES):
        same = np.linalg.norm(p[pairs[:, 0]] - p[pairs[:, 1]], axis=1) <= near
        if not same.any():
            break
        mover = np.unique(pairs[same].max(axis=1))
        total = np.zeros_like(p)
        count = np.zeros(p.shape[0])
        for a, b in ((edges[:, 0], edges[:, 1]), (edges[:, 1], edges[:, 0])):
            # Neighbours at the same point would pull it nowhere.
            apart = np.any(p[a] != p[b], axis=1)
            np.add.at(total, a[apart], p[b[apart]])
            np.add.at(count, a[apart], 1.0)
        mover = mover[count[mover] > 0]
        if mover.shape[0] == 0:
            break
        middle = (p[mover] + total[mover] / count[mover, None]) / 2.0
        placed = index.query(middle)[0]
        # Around a convex corner of the source every point's closest is the corner itself: stay just off it.
        back = np.linalg.norm(placed - p[mover], axis=1) <= near
        placed[back] = middle[back]
        p[mover] = placed
        moved += mover.shape[0]
    return p, moved
