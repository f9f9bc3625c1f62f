# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge collapses for the meshes fast_simplification will not move: ``collapse_edges``.

Contract: ``collapse_edges(verts, tris, target, regions=None, progress=None)`` takes a triangle mesh
(float (N, 3), int (T, 3)) and returns (verts float64 (K, 3), tris int64 (F, 3) numbered into them, int64
(F,) index into ``tris`` of each kept triangle, in input order); ``progress(fraction, message)`` is called
once a round. F lands at ``target`` or just above it, or wherever no collapse is left that keeps the
surface a surface. Open borders and, with ``regions`` (one label per triangle), the edges between two
regions are feature lines: a vertex on one moves only along it, a vertex where lines meet (or on a
non-manifold edge) never moves, and nothing collapses across one, so holes stay open and seams stay seams.
Triangles are never created, only kept or dropped, so each kept triangle keeps its region. Imports numpy
and the engine's own progress type only; never touches bpy and runs in the engine child process.

Why: fast_simplification refuses every collapse that leaves a corner under 2.6 degrees (its test against
degenerate triangles), so a mesh made of needles does not move: Blender's own 128-segment cylinder with fan
caps keeps all 512 of its triangles, and a CAD tessellation of long strips stops far above its budget,
where Blender's Decimate reaches it. Here a needle is no reason to refuse; only a fold is.

How: Garland and Heckbert's quadric error metric (SIGGRAPH 1997): each vertex carries the planes of its
original triangles, unweighted (and, on a feature line, planes standing on it), and a collapse goes to
either end of the edge, its middle, the edge's best point, or (both ends free) the quadric's own optimum.
Collapses run in rounds: every edge gets its cost, and among the cheapest quarter the edges cheapest within
two rings of faces collapse together, so no triangle sees two of them and each is checked on its own (the
link condition, which keeps the mesh manifold; no triangle's normal turning past ``MIN_NORMAL_COS``); further
picks in the round fill the gaps. The bench's 215K-triangle machined part goes to 5,000 triangles in 39
rounds (6.8 s on this machine's core, where Blender's Decimate takes 1.2 s).
"""

from __future__ import annotations

import numpy as np

from .progress import ProgressFn

# A collapse may turn no remaining triangle's normal further than this (cosine, 60 degrees): no folds.
MIN_NORMAL_COS = 0.5
# Every triangle's plane weighs 1, whatever its area, as in Garland and Heckbert's paper. Weighed by area, a
# bevel's narrow faces count for little and are collapsed across. Hausdorff, % of the diagonal, area-weighted
# / unweighted / Blender's Decimate: a bored, bevelled box at 60 of its 1,216 triangles 2.94 / 1.60 / 1.81;
# a 77K-triangle CAD cylinder of strips at 3,852 0.044 / 0.000 / 0.000. On smooth meshes area weights land
# closer (a 4,608-triangle torus at 230: 0.90 / 1.13 / 1.00; pymeshlab's open bunny at 999: 0.72 / 0.80 /
# 0.73), but there decimate.py also has fast_simplification's result and keeps the closer; this pass runs
# alone only on meshes of needles, which are CAD's. Planes standing on a feature line weigh FEATURE_WEIGHT
# each, so a vertex sliding off the line costs far more than one sliding along the surface.
FEATURE_WEIGHT = 100.0
# On flat ground every collapse costs nothing; ties then go to the shortest edge, which keeps triangles
# even: this share of the squared edge length is added to each cost (a squared distance, as the quadrics').
LENGTH_TIE = 1e-6
# The quadric's own optimum is used where its matrix is this far from singular (determinant against the
# cube of its trace): on a flat or a cylindrical patch it is not a point, and an end or the edge is taken.
OPTIMUM_CONDITION = 1e-6
# A round takes only edges among the cheapest this share of them (and of those, no more than the budget
# needs, cheapest first), so the collapses stay close to the cheapest-first order of a one-at-a-time
# decimation.
ROUND_SHARE = 0.25
# Picks per round (see _allowed_collapses).
PICKS = 8
# At most this many rounds (the machined part to 2% of its triangles takes 39); rounds end early once the
# budget is met or no collapse is allowed.
MAX_ROUNDS = 500
# Vertex classes: free, on one feature line (moves along it), where lines meet (never moves).
FREE, ON_LINE, FIXED = 0, 1, 2


def _plane_quadrics(normals: np.ndarray, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Quadrics (P, 10) of planes with unit ``normals`` through ``points``: A's six, b's three, c."""
    nx, ny, nz = normals.T
    d = -np.einsum("ij,ij->i", normals, points)
    parts = (nx * nx, nx * ny, nx * nz, ny * ny, ny * nz, nz * nz, nx * d, ny * d, nz * d, d * d)
    return np.stack(parts, axis=1) * weights[:, None]


def _error(q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each quadric of ``q`` (E, 10) at the point of ``x`` (E, 3)."""
    px, py, pz = x.T
    quadratic = (
        q[:, 0] * px * px + q[:, 3] * py * py + q[:, 5] * pz * pz
        + 2.0 * (q[:, 1] * px * py + q[:, 2] * px * pz + q[:, 4] * py * pz)
    )  # fmt: skip
    return quadratic + 2.0 * (q[:, 6] * px + q[:, 7] * py + q[:, 8] * pz) + q[:, 9]


def _unit(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = np.linalg.norm(vectors, axis=1)
    return vectors / np.maximum(length, 1e-300)[:, None], length


class _Edges:
    """A round's mesh: its unique edges, their face counts and feature flags, its vertex classes, and (built
    once a round, on first use) each vertex's neighbours and corners."""

    def __init__(self, tris: np.ndarray, regions: np.ndarray | None, vert_count: int):
        n = vert_count
        self.tris = tris
        start, end = tris.ravel(), tris[:, [1, 2, 0]].ravel()
        keys = np.minimum(start, end) * n + np.maximum(start, end)
        unique, self.of_half, self.faces = np.unique(keys, return_inverse=True, return_counts=True)
        self.of_half = self.of_half.ravel()
        self.a, self.b = unique // n, unique % n
        self.feature = self.faces == 1
        if regions is not None:
            face = np.repeat(np.arange(tris.shape[0]), 3)
            low = np.full(unique.shape[0], np.iinfo(np.int64).max)
            high = np.full(unique.shape[0], np.iinfo(np.int64).min)
            np.minimum.at(low, self.of_half, regions[face])
            np.maximum.at(high, self.of_half, regions[face])
            self.feature |= (self.faces == 2) & (low != high)
        self.half_feature = self.feature[self.of_half]
        line_degree = np.bincount(np.concatenate([self.a[self.feature], self.b[self.feature]]), minlength=n)
        self.vclass = np.where(line_degree == 0, FREE, np.where(line_degree == 2, ON_LINE, FIXED))
        odd = self.faces > 2
        self.vclass[np.concatenate([self.a[odd], self.b[odd]])] = FIXED
        self.vert_count = n
        self._adjacency: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._corners: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def adjacency(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first, count, neighbours): vertex v's neighbours are neighbours[first[v]:first[v] + count[v]]."""
        if self._adjacency is None:
            self._adjacency = _lists(
                np.concatenate([self.a, self.b]), np.concatenate([self.b, self.a]), self.vert_count
            )
        return self._adjacency

    def corners(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first, count, faces): the triangles around vertex v are faces[first[v]:first[v] + count[v]]."""
        if self._corners is None:
            faces = np.repeat(np.arange(self.tris.shape[0]), 3)
            self._corners = _lists(self.tris.ravel(), faces, self.vert_count)
        return self._corners


def _lists(owners: np.ndarray, items: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``items`` grouped by ``owners`` (0..count-1): (first, count, items in owner order)."""
    order = np.argsort(owners, kind="stable")
    sizes = np.bincount(owners, minlength=count)
    return np.cumsum(sizes) - sizes, sizes, items[order]


def _gather(
    lists: tuple[np.ndarray, np.ndarray, np.ndarray], keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(owner, item): every item listed for each of ``keys``, owner its position in ``keys``."""
    first, sizes, listed = lists
    total = sizes[keys]
    owner = np.repeat(np.arange(keys.shape[0]), total)
    offset = np.arange(owner.shape[0]) - np.repeat(np.cumsum(total) - total, total)
    return owner, listed[np.repeat(first[keys], total) + offset]


def _feature_quadrics(verts, tris, half_feature, face_normals) -> tuple[np.ndarray, np.ndarray]:
    """(vertex per end, quadric per end) of the planes standing on every feature half-edge."""
    start, end = tris.ravel(), tris[:, [1, 2, 0]].ravel()
    which = np.flatnonzero(half_feature)
    along = verts[end[which]] - verts[start[which]]
    normal, _ = _unit(np.cross(along, np.repeat(face_normals, 3, axis=0)[which]))
    q = _plane_quadrics(normal, verts[start[which]], np.full(which.shape[0], FEATURE_WEIGHT))
    return np.concatenate([start[which], end[which]]), np.concatenate([q, q])


def _initial_quadrics(verts, tris, edges: _Edges) -> np.ndarray:
    """Each vertex's quadric (V, 10)."""
    normals, _ = _unit(np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]]))
    q = _plane_quadrics(normals, verts[tris[:, 0]], np.ones(tris.shape[0]))
    line_owners, line_q = _feature_quadrics(verts, tris, edges.half_feature, normals)
    owner = np.concatenate([tris.ravel(), line_owners])
    values = np.concatenate([np.repeat(q, 3, axis=0), line_q])
    return np.stack([np.bincount(owner, values[:, k], verts.shape[0]) for k in range(10)], axis=1)


def _matrix(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (E, 3, 3) and b (E, 3) of quadrics (E, 10)."""
    rows = q[:, [0, 1, 2, 1, 3, 4, 2, 4, 5]].reshape(-1, 3, 3)
    return rows, q[:, 6:9]


def _spots(verts, q, a, b, free: np.ndarray) -> np.ndarray:
    """Candidate places (E, 5, 3) of each collapse: either end, the middle, the best point of the edge, and
    (both ends free) the quadric's own optimum when it is well defined and near the edge, else the middle."""
    pa, pb = verts[a], verts[b]
    along = pb - pa
    mat, vec = _matrix(q)
    curve = np.einsum("ei,eij,ej->e", along, mat, along)
    slope = np.einsum("ei,ei->e", along, np.einsum("eij,ej->ei", mat, pa) + vec)
    s = np.clip(np.divide(-slope, curve, out=np.full_like(curve, 0.5), where=curve > 1e-300), 0.0, 1.0)
    middle = (pa + pb) / 2.0
    best = middle.copy()
    det = np.linalg.det(mat)
    scale = np.einsum("eii->e", mat) ** 3
    solvable = free & (np.abs(det) > OPTIMUM_CONDITION * np.maximum(scale, 1e-300))
    if solvable.any():
        optimum = np.linalg.solve(mat[solvable], -vec[solvable][:, :, None])[:, :, 0]
        near = np.linalg.norm(optimum - middle[solvable], axis=1) <= np.linalg.norm(along[solvable], axis=1)
        best[np.flatnonzero(solvable)[near]] = optimum[near]
    return np.stack([pa, pb, middle, pa + s[:, None] * along, best], axis=1)


def _choices(verts, quadrics, edges: _Edges) -> tuple[np.ndarray, np.ndarray]:
    """(cost, position) of each edge's best allowed collapse; cost inf where none is allowed."""
    a, b = edges.a, edges.b
    ca, cb = edges.vclass[a], edges.vclass[b]
    line = edges.feature & (edges.faces <= 2)
    free = (ca == FREE) & (cb == FREE)
    both = free | ((ca == ON_LINE) & (cb == ON_LINE) & line)
    # b onto a, a onto b, both moved (along the edge, or anywhere when both are free): a vertex on a line
    # moves only along it, a fixed one never.
    allowed = np.stack(
        [(cb == FREE) | ((cb == ON_LINE) & line), (ca == FREE) | ((ca == ON_LINE) & line), both, both, free],
        axis=1,
    )
    allowed &= (edges.faces <= 2)[:, None]
    q = quadrics[a] + quadrics[b]
    spots = _spots(verts, q, a, b, free)
    costs = np.stack([_error(q, spots[:, k]) for k in range(spots.shape[1])], axis=1)
    costs = np.where(allowed, np.maximum(costs, 0.0), np.inf)
    pick = np.argmin(costs, axis=1)
    rows = np.arange(a.shape[0])
    length2 = np.einsum("ij,ij->i", verts[a] - verts[b], verts[a] - verts[b])
    return costs[rows, pick] + LENGTH_TIE * length2, spots[rows, pick]


def _independent(rank: np.ndarray, open_: np.ndarray, edges: _Edges) -> np.ndarray:
    """Open edges (indices) ranked first among every open edge within two rings of faces: no triangle
    touches two of them."""
    big, n, tris = rank.shape[0], edges.vert_count, edges.tris
    rank = np.where(open_, rank, big)
    near = np.full(n, big)
    np.minimum.at(near, edges.a, rank)
    np.minimum.at(near, edges.b, rank)
    per_face = near[tris].min(axis=1)
    ring = np.full(n, big)
    np.minimum.at(ring, tris.ravel(), np.repeat(per_face, 3))
    return np.flatnonzero(open_ & (rank == ring[edges.a]) & (rank == ring[edges.b]))


def _links_hold(edges: _Edges, chosen: np.ndarray, vert_count: int) -> np.ndarray:
    """The link condition: a and b share exactly the neighbours across their edge's faces; and no piece
    vanishes."""
    owner_a, near_a = _gather(edges.adjacency(), edges.a[chosen])
    owner_b, near_b = _gather(edges.adjacency(), edges.b[chosen])
    keys = np.concatenate([owner_a * vert_count + near_a, owner_b * vert_count + near_b])
    unique, counts = np.unique(keys, return_counts=True)
    shared = np.bincount(unique[counts == 2] // vert_count, minlength=chosen.shape[0])
    # The merged vertex keeps at least three neighbours, or a piece (a lone triangle, a tetrahedron) would
    # fold away to nothing.
    merged = np.bincount(owner_a, minlength=chosen.shape[0]) + np.bincount(owner_b, minlength=chosen.shape[0])
    return (shared == edges.faces[chosen]) & (merged - 2 - shared >= 3)


def _folds(verts, edges: _Edges, chosen: np.ndarray, spots: np.ndarray) -> np.ndarray:
    """Per collapse of ``chosen`` made on its own, whether it would fold, flatten or flip a triangle it
    keeps (one around either end that does not hold both)."""
    ends = np.concatenate([edges.a[chosen], edges.b[chosen]])
    other = np.concatenate([edges.b[chosen], edges.a[chosen]])
    which = np.tile(np.arange(chosen.shape[0]), 2)
    pair, face = _gather(edges.corners(), ends)
    faces = edges.tris[face]
    keeps = ~(faces == other[pair][:, None]).any(axis=1)
    pair, faces = pair[keeps], faces[keeps]
    old = verts[faces]
    moved = faces == ends[pair][:, None]
    new = np.where(moved[:, :, None], spots[chosen][which[pair]][:, None, :], old)
    old_n = np.cross(old[:, 1] - old[:, 0], old[:, 2] - old[:, 0])
    new_n = np.cross(new[:, 1] - new[:, 0], new[:, 2] - new[:, 0])
    old_len, new_len = np.linalg.norm(old_n, axis=1), np.linalg.norm(new_n, axis=1)
    cos = np.einsum("ij,ij->i", old_n, new_n) / np.maximum(old_len * new_len, 1e-300)
    # A triangle already without area (a CAD export has them) has no normal to keep: it may go on.
    bad = (old_len > 0.0) & ((cos < MIN_NORMAL_COS) | (new_len <= 1e-12 * old_len))
    return np.bincount(which[pair[bad]], minlength=chosen.shape[0]) > 0


def _allowed_collapses(verts, edges: _Edges, cost: np.ndarray, spots: np.ndarray) -> np.ndarray:
    """A round's collapses: edges cheapest within two rings of faces (so none touches a triangle another
    one moves) that keep the mesh manifold and fold-free. An edge refused gives way to the next cheapest
    around it, and further picks fill the gaps two rings away from those taken: ``PICKS`` picks, and on
    until one is taken."""
    n, tris = verts.shape[0], edges.tris
    order = np.argsort(cost, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    open_ = np.isfinite(cost)
    accepted: list[np.ndarray] = []
    picks = 0
    while open_.any() and (picks < PICKS or not accepted):
        picks += 1
        chosen = _independent(rank, open_, edges)
        open_[chosen] = False
        chosen = chosen[_links_hold(edges, chosen, n)]
        chosen = chosen[~_folds(verts, edges, chosen, spots)]
        if chosen.size == 0:
            continue
        accepted.append(chosen)
        # Later picks stay two rings away from these: no face may hold a vertex of two collapses.
        ends = np.zeros(n, dtype=bool)
        ends[edges.a[chosen]] = ends[edges.b[chosen]] = True
        busy = np.zeros(n, dtype=bool)
        busy[tris[ends[tris].any(axis=1)].ravel()] = True
        open_ &= ~(busy[edges.a] | busy[edges.b])
    return np.concatenate(accepted) if accepted else np.zeros(0, dtype=np.int64)


def _cheap_collapses(verts, edges: _Edges, cost, spots) -> np.ndarray:
    """A round's allowed collapses among the cheapest edges (``ROUND_SHARE`` of them); where none of those is
    allowed, among four times as many, and so on."""
    finite = np.flatnonzero(np.isfinite(cost))
    keep = max(1, int(ROUND_SHARE * finite.size))
    while finite.size:
        if keep < finite.size:
            cutoff = np.partition(cost[finite], keep - 1)[keep - 1]
            chosen = _allowed_collapses(verts, edges, np.where(cost <= cutoff, cost, np.inf), spots)
        else:
            chosen = _allowed_collapses(verts, edges, cost, spots)
        if chosen.size or keep >= finite.size:
            return chosen
        keep *= 4
    return np.zeros(0, dtype=np.int64)


def collapse_edges(
    verts: np.ndarray,
    tris: np.ndarray,
    target: int,
    regions: np.ndarray | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapse edges of the triangle mesh until about ``target`` triangles remain (module docstring)."""
    verts = np.array(verts, dtype=np.float64).reshape(-1, 3)
    tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    regions = None if regions is None else np.asarray(regions, dtype=np.int64)
    kept = np.arange(tris.shape[0])
    n = verts.shape[0]
    edges = _Edges(tris, regions, n)
    quadrics = _initial_quadrics(verts, tris, edges)
    start = tris.shape[0]
    for _ in range(MAX_ROUNDS):
        excess = tris.shape[0] - int(target)
        if excess <= 0:
            break
        if progress is not None:
            progress((start - tris.shape[0]) / max(start - int(target), 1), f"{tris.shape[0]:,} triangles")
        cost, spots = _choices(verts, quadrics, edges)
        chosen = _cheap_collapses(verts, edges, cost, spots)
        if chosen.size == 0:
            break
        # Cheapest first, no further than the budget.
        chosen = chosen[np.argsort(cost[chosen], kind="stable")]
        removes = np.cumsum(edges.faces[chosen])
        chosen = chosen[: int(np.searchsorted(removes, excess)) + 1]
        a, b = edges.a[chosen], edges.b[chosen]
        verts[a] = spots[chosen]
        quadrics[a] += quadrics[b]
        into = np.arange(n)
        into[b] = a
        tris = into[tris]
        whole = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 2] != tris[:, 0])
        tris, kept = tris[whole], kept[whole]
        if regions is not None:
            regions = regions[whole]
        edges = _Edges(tris, regions, n)
    used, numbered = np.unique(tris, return_inverse=True)
    return verts[used], numbered.reshape(-1, 3), kept
