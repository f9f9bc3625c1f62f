# SPDX-License-Identifier: GPL-3.0-or-later
"""Closest-point queries from points to a triangle mesh, in numpy only.

Contract: inputs are points (Q, 3) and a triangle mesh ``verts`` (N, 3) / ``tris`` (T, 3) in the same units;
outputs are closest surface points (Q, 3), unsigned distances (Q,) in those units and the index of the
closest triangle (Q,). Imports numpy and the stdlib only (no scipy); never touches bpy and runs in the
engine child process.

How: a sparse "loose" grid (sorted int64 cell keys) holds each ordinary triangle once, in the cell of its
bounding-box centre; the rare large ones go in every cell they touch or, when huge, are cut into pieces
that each go in the cell of their own centre (a piece's entry stands for its whole triangle), and past a
cap on those pieces on a list tested against every query. A query looks at the 2x2x2 block of cells
around it, then at wider blocks while it is unresolved; queries far from the surface rank all cells by box
distance instead. Each query opens its nearest cell first and then only the cells whose box comes within
the bound that gave; candidates are pruned with float32 box distances before the exact float64
point-triangle test, and the work is chunked by
candidate-pair count, so memory stays bounded for a million triangles. Results are exact.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from .cover import cover

log = logging.getLogger(__name__)

# Candidate pairs evaluated per numpy batch: ~25 float64 temporaries of (K, 3) stay around 150 MB.
PAIR_BUDGET = 1 << 18
# Queries per lookup batch, and (query, cell) lookups per batch: bounds the (Q, cells, 3) key arrays
# even when far queries need wide blocks of cells.
QUERY_BATCH = 1 << 15
LOOKUP_BUDGET = 1 << 20
# Widest block of cells tried around a query before ranking whole cells by distance instead.
MAX_BLOCK_WIDTH = 5
# Triangles whose bounding box covers more cells than this are tested against every query instead of
# being copied into each cell (a few huge triangles would otherwise flood the grid).
MAX_CELLS_PER_TRI = 64
# Pieces that huge triangles are cut into, at most, before the rest go on the exhaustive list. A CAD
# tessellation's fans and strips can hold thousands of huge triangles (a finely cut cylinder with fan caps:
# 2,746 of 165,308, about 400,000 pieces), and testing each against every query took 0.9 ms a query.
MAX_PIECES = 4_000_000


def closest_on_triangles(
    p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Closest point of each triangle (a, b, c) to p, row by row. All (K, 3) float64; returns (pt, dist2).

    Classifies p against the Voronoi regions of the triangle's corners, edges and face using six dot
    products, then writes the answer as a + s*(b - a) + t*(c - a).
    """
    ab = b - a
    ac = c - a
    ap = p - a
    bp = p - b
    cp = p - c
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    del bp, cp
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    e43 = d4 - d3
    e56 = d5 - d6
    conditions = [
        (d1 <= 0) & (d2 <= 0),
        (d3 >= 0) & (d4 <= d3),
        (d6 >= 0) & (d5 <= d6),
        (vc <= 0) & (d1 >= 0) & (d3 <= 0),
        (vb <= 0) & (d2 >= 0) & (d6 <= 0),
        (va <= 0) & (e43 >= 0) & (e56 >= 0),
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        on_ab = d1 / (d1 - d3)
        on_ac = d2 / (d2 - d6)
        on_bc = e43 / (e43 + e56)
        den = va + vb + vc
        s = np.select(conditions, [0.0, 1.0, 0.0, on_ab, 0.0, 1.0 - on_bc], vb / den)
        t = np.select(conditions, [0.0, 0.0, 1.0, 0.0, on_ac, on_bc], vc / den)
    pt = a + ab * s[:, None] + ac * t[:, None]
    bad = ~np.isfinite(pt).all(axis=1)
    if bad.any():
        # Only degenerate (zero-area) triangles land here; their nearest point lies on an edge.
        pt[bad] = _closest_on_edges(p[bad], a[bad], b[bad], c[bad])
    diff = p - pt
    return pt, np.einsum("ij,ij->i", diff, diff)


def _closest_on_edges(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    best = a.copy()
    best_d2 = np.full(p.shape[0], np.inf)
    for s0, s1 in ((a, b), (b, c), (c, a)):
        e = s1 - s0
        ee = np.einsum("ij,ij->i", e, e)
        t = np.divide(np.einsum("ij,ij->i", p - s0, e), ee, out=np.zeros_like(ee), where=ee > 0.0)
        q = s0 + e * np.clip(t, 0.0, 1.0)[:, None]
        d2 = np.einsum("ij,ij->i", p - q, p - q)
        better = d2 < best_d2
        best[better] = q[better]
        best_d2[better] = d2[better]
    return best


class TriangleIndex:
    """Sparse grid over a triangle mesh, built once and queried many times."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, cell_scale: float = 3.0) -> None:
        verts64 = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
        self.tris = np.ascontiguousarray(tris, dtype=np.int64).reshape(-1, 3)
        if self.tris.shape[0] == 0 or verts64.shape[0] == 0:
            raise ValueError("cannot index an empty triangle mesh")
        # Working relative to the mesh's corner keeps float32 bounds accurate far from the world origin.
        self.origin = verts64.min(axis=0)
        self.verts = verts64 - self.origin
        a, b, c = (self.verts[self.tris[:, k]] for k in range(3))
        lo = np.minimum(np.minimum(a, b), c)
        hi = np.maximum(np.maximum(a, b), c)
        self.span = float(hi.max())
        mean_ext = float((hi - lo).max(axis=1).mean())
        # Long, thin triangles (a CAD tessellation's strips) have boxes as long as the faces they tile: cells
        # sized from those would hold every triangle at once (each query then tests them all: 100 s for two
        # queries sets on a 24K-triangle strip box). Their area sizes the cells instead, and the strips go in
        # each cell along their length. For well-shaped triangles 2 * sqrt(area) exceeds the box extent, so
        # nothing changes there.
        normals = np.cross(b - a, c - a)
        mean_area = float(np.sqrt(np.einsum("ij,ij->i", normals, normals)).mean()) * 0.5
        mean_ext = min(mean_ext, 2.0 * np.sqrt(mean_area)) if mean_area > 0.0 else mean_ext
        del a, b, c, normals
        # "Loose" grid: a triangle whose box fits within `loose_radius` of its centre is stored once, in
        # the cell of that centre, so building costs one entry per triangle; a query then has to reach
        # `loose_radius` further than usual. The rare larger triangles are stored in every cell their box
        # touches. Cells of a few triangles keep candidates per query low; the lower bound keeps each axis
        # under 2**20 cells so keys fit in int64.
        self.cell = max(mean_ext * cell_scale, self.span / float(1 << 20), 1e-30)
        self.loose_radius = self.cell / 3.0
        mid = (lo + hi) * 0.5
        half_diag = np.sqrt(np.einsum("ij,ij->i", hi - lo, hi - lo)) * 0.5
        loose = half_diag <= self.loose_radius
        ilo = np.floor(lo / self.cell).astype(np.int64)
        per_axis = np.floor(hi / self.cell).astype(np.int64) - ilo + 1
        self.dims = (ilo + per_axis).max(axis=0)
        per_tri = per_axis.prod(axis=1)
        big = (per_tri > MAX_CELLS_PER_TRI) & ~loose
        huge = np.flatnonzero(big)
        corners = self.verts[self.tris[huge]]
        piece_box, piece_tri, self.big = cover(corners, huge, self.loose_radius, MAX_PIECES)
        loose_ids = np.flatnonzero(loose)
        centre_cell = np.floor(mid[loose_ids] / self.cell).astype(np.int64)
        piece_cell = np.floor((piece_box[:, 0:3] + piece_box[:, 3:6]) * 0.5 / self.cell).astype(np.int64)
        spread_keys, spread_ids = self._expand(ilo, per_axis, np.flatnonzero(~loose & ~big))
        keys = np.concatenate([self._keys(*centre_cell.T), spread_keys, self._keys(*piece_cell.T)])
        whole = np.concatenate([loose_ids, spread_ids])  # entries that are whole triangles come first
        del mid, half_diag, centre_cell, piece_cell, spread_keys, spread_ids, ilo, per_axis
        order = np.argsort(keys)
        keys = keys[order]
        self.entry_tri = np.concatenate([whole, piece_tri])[order].astype(np.int32)
        # Bounds stored per entry in cell order turn the hot gathers into contiguous reads.
        # A piece's entry first gets its triangle's box, then its own.
        self.entry_box = np.empty((order.shape[0], 6), dtype=np.float32)
        self.entry_box[:, 0:3] = lo[self.entry_tri]
        self.entry_box[:, 3:6] = hi[self.entry_tri]
        is_piece = order >= whole.shape[0]
        self.entry_box[is_piece] = piece_box[order[is_piece] - whole.shape[0]]
        del order, whole, lo, hi, piece_box
        first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.zeros(0, np.int64)
        self.cell_keys = keys[first]
        self.cell_start = first
        self.cell_count = np.diff(np.r_[first, keys.shape[0]])
        # float32 bounds may be off by a few ulps of the mesh span; pruning keeps that much slack.
        self.slack = self.span * 1e-5 + 1e-30
        self._boxes: np.ndarray | None = None
        counts = (self.tris.shape[0], self.cell, self.cell_keys.shape[0], keys.shape[0], self.big.shape[0])
        log.debug("indexed %d triangles: cell %.4g, %d cells, %d entries, %d listed", *counts)

    def _expand(
        self, ilo: np.ndarray, per_axis: np.ndarray, ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One (cell key, triangle) entry per cell each triangle's box touches."""
        owner = ids
        coords: list[np.ndarray] = []
        # One axis at a time with repeat/arange, which avoids slow int64 division.
        for axis in range(3):
            counts = per_axis[owner, axis]
            offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
                np.cumsum(counts) - counts, counts
            )
            coords = [np.repeat(col, counts) for col in coords]
            owner = np.repeat(owner, counts)
            coords.append(ilo[owner, axis] + offsets)
        return self._keys(*coords), owner

    def _keys(self, ix: np.ndarray, iy: np.ndarray, iz: np.ndarray) -> np.ndarray:
        return (ix * self.dims[1] + iy) * self.dims[2] + iz

    def query(
        self, points: np.ndarray, within: float | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest points (Q, 3) float64, distances (Q,) float64 and triangle indices (Q,) int64.

        ``within`` (a distance, or one per point): the caller only asks whether the surface comes that
        close. A point with nothing within it is answered with whatever was found before the search
        stopped, a distance above ``within`` (possibly inf, triangle -1), instead of searching on: points
        far from a small mesh (a few marked edges) would otherwise rank every cell."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3) - self.origin
        q_count = pts.shape[0]
        limit = None if within is None else np.broadcast_to(np.asarray(within, dtype=np.float64), (q_count,))
        best_pt = np.zeros((q_count, 3), dtype=np.float64)
        best_d2 = np.full(q_count, np.inf)
        best_tri = np.full(q_count, -1, dtype=np.int64)
        state = (pts, best_pt, best_d2, best_tri, pts.astype(np.float32))
        if self.big.size:
            self._against(state, np.arange(q_count), self.big)
        # With every triangle in the big list the exhaustive pass above was already exact.
        pending = np.arange(q_count) if self.cell_keys.size else np.zeros(0, dtype=np.int64)
        half = 0.5
        while pending.size:
            width = int(2 * half) + 1
            if width > MAX_BLOCK_WIDTH or width**3 * 8 > self.cell_keys.shape[0]:
                # Far from the surface a block would have to be huge; rank whole cells instead.
                self._nearest_cells_pass(state, pending)
                break
            batch = max(1, min(QUERY_BATCH, LOOKUP_BUDGET // width**3))
            for start in range(0, pending.size, batch):
                self._grid_pass(state, pending[start : start + batch], half, width)
            # A block reaching `half` cells around the query holds every triangle that comes within
            # `reach` of it (loose entries sit up to loose_radius from their cell).
            reach = max(half * self.cell - self.loose_radius, 0.0)
            pending = pending[best_d2[pending] > reach * reach]
            if limit is not None:  # the block held everything within `reach`: nothing within `within`
                pending = pending[limit[pending] > reach]
            half *= 2.0
        return best_pt + self.origin, np.sqrt(best_d2), best_tri

    def _grid_pass(self, state: tuple, qids: np.ndarray, half: float, width: int) -> None:
        """Visit the width**3 block of cells around each query."""
        u = state[0][qids] / self.cell
        base = np.floor(u - half).astype(np.int64)
        grid = np.stack(np.meshgrid(*([np.arange(width)] * 3), indexing="ij"), axis=-1).reshape(-1, 3)
        cells = base[:, None, :] + grid[None, :, :]
        inside = ((cells >= 0) & (cells < self.dims)).all(axis=2)
        keys = self._keys(cells[..., 0], cells[..., 1], cells[..., 2])
        del cells
        slot = np.minimum(np.searchsorted(self.cell_keys, keys), self.cell_keys.shape[0] - 1)
        hit = inside & (self.cell_keys[slot] == keys)
        self._visit_cells(state, np.repeat(qids, grid.shape[0])[hit.ravel()], slot[hit])

    def _visit_cells(self, state: tuple, owner: np.ndarray, slots: np.ndarray) -> None:
        """Visit cell ``slots[k]`` for query ``owner[k]`` (grouped by query), nearest cell box first.

        Most cells of a block lie further from the query than its nearest triangle: the nearest cell's
        entries give each query a bound first, so only cells whose box comes within it are opened. Testing
        (query, cell) boxes is a few times cheaper than testing every (query, triangle) box of the block."""
        if owner.size == 0:
            return
        boxes = self._cell_boxes()[slots]
        p = state[4][owner]
        gap = np.maximum(np.maximum(boxes[:, 0:3] - p, p - boxes[:, 3:6]), np.float32(0.0))
        lower = np.einsum("ij,ij->i", gap, gap)
        del gap, boxes, p
        seg = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        seg_len = np.diff(np.r_[seg, owner.shape[0]])
        at_low = np.flatnonzero(lower == np.repeat(np.minimum.reduceat(lower, seg), seg_len))
        near = at_low[np.r_[True, owner[at_low][1:] != owner[at_low][:-1]]]
        self._visit(state, owner[near], slots[near])
        bound = np.sqrt(state[2][owner]) + self.slack
        keep = np.sqrt(lower) <= bound
        keep[near] = False
        self._visit(state, owner[keep], slots[keep])

    def _cell_boxes(self) -> np.ndarray:
        """Per occupied cell, the box around all its entries' boxes (C, 6) float32; built on first use."""
        if self._boxes is None:
            self._boxes = np.concatenate(
                [
                    np.minimum.reduceat(self.entry_box[:, 0:3], self.cell_start, axis=0),
                    np.maximum.reduceat(self.entry_box[:, 3:6], self.cell_start, axis=0),
                ],
                axis=1,
            )
        return self._boxes

    def _nearest_cells_pass(self, state: tuple, qids: np.ndarray) -> None:
        """Exact search for far queries: visit every cell whose box is nearer than the best hit so far."""
        boxes = self._cell_boxes()
        pts32, best_d2 = state[4], state[2]
        batch = max(1, LOOKUP_BUDGET // boxes.shape[0])
        log.debug("ranking %d cells for %d far queries", boxes.shape[0], qids.shape[0])
        for start in range(0, qids.shape[0], batch):
            chunk = qids[start : start + batch]
            p = pts32[chunk][:, None, :]
            gap = np.maximum(np.maximum(boxes[None, :, 0:3] - p, p - boxes[None, :, 3:6]), np.float32(0.0))
            lower = np.sqrt(np.einsum("qcj,qcj->qc", gap, gap))
            del gap
            # The nearest cell gives a tight bound first, so the second visit only takes cells that can win.
            self._visit(state, chunk, np.argmin(lower, axis=1))
            bound = np.sqrt(best_d2[chunk]) + self.slack
            rows, cols = np.nonzero(lower <= bound[:, None])
            self._visit(state, chunk[rows], cols)

    def _visit(self, state: tuple, owner: np.ndarray, slots: np.ndarray) -> None:
        """Test the entries of cell ``slots[k]`` against query ``owner[k]``; owner must be grouped."""
        counts = self.cell_count[slots]
        starts = self.cell_start[slots]
        if counts.size == 0:
            return
        # Split so each batch of candidate pairs stays near PAIR_BUDGET; a query may span batches since
        # the running best is shared.
        cum = np.cumsum(counts)
        cuts = np.searchsorted(cum, np.arange(PAIR_BUDGET, int(cum[-1]), PAIR_BUDGET), side="right")
        bounds = np.unique(np.r_[0, cuts, counts.shape[0]])
        for lo, hi in itertools.pairwise(bounds):
            c = counts[lo:hi]
            total = int(c.sum())
            if not total:
                continue
            pair_q = np.repeat(owner[lo:hi], c)
            entry = np.repeat(starts[lo:hi] - (np.cumsum(c) - c), c) + np.arange(total, dtype=np.int64)
            self._prune_and_reduce(state, pair_q, entry)

    def _prune_and_reduce(self, state: tuple, pair_q: np.ndarray, entry: np.ndarray) -> None:
        """Drop candidates that provably lose, using float32 boxes, then test the rest exactly."""
        pts32, best_d2 = state[4], state[2]
        box = self.entry_box[entry]
        p = pts32[pair_q]
        gap = np.maximum(np.maximum(box[:, 0:3] - p, p - box[:, 3:6]), np.float32(0.0))
        lower = np.sqrt(np.einsum("ij,ij->i", gap, gap))
        del gap, box, p
        seg = np.flatnonzero(np.r_[True, pair_q[1:] != pair_q[:-1]])
        seg_len = np.diff(np.r_[seg, pair_q.shape[0]])
        # The candidate with the nearest box is usually the winner: testing it first gives each query a
        # tight upper bound, so only boxes closer than that bound need the exact test.
        seg_low = np.minimum.reduceat(lower, seg)
        at_low = np.flatnonzero(lower == np.repeat(seg_low, seg_len))
        owner = pair_q[at_low]
        first = at_low[np.r_[True, owner[1:] != owner[:-1]]]
        self._reduce(state, pair_q[first], self.entry_tri[entry[first]].astype(np.int64))
        bound = np.sqrt(best_d2[pair_q[seg]])
        keep = lower <= np.repeat(bound, seg_len) + self.slack
        keep[first] = False
        self._reduce(state, pair_q[keep], self.entry_tri[entry[keep]].astype(np.int64))

    def _against(self, state: tuple, qids: np.ndarray, tri_ids: np.ndarray) -> None:
        """Test every query in ``qids`` against every triangle in ``tri_ids`` (the big-triangle list)."""
        step = max(1, PAIR_BUDGET // max(tri_ids.shape[0], 1))
        for start in range(0, qids.shape[0], step):
            chunk = qids[start : start + step]
            for t0 in range(0, tri_ids.shape[0], PAIR_BUDGET):
                part = tri_ids[t0 : t0 + PAIR_BUDGET]
                self._reduce(state, np.repeat(chunk, part.shape[0]), np.tile(part, chunk.shape[0]))

    def _reduce(self, state: tuple, pair_q: np.ndarray, pair_t: np.ndarray) -> None:
        """Evaluate candidate pairs (grouped by query) exactly and keep each query's nearest."""
        if pair_q.size == 0:
            return
        pts, best_pt, best_d2, best_tri = state[:4]
        tri = self.tris[pair_t]
        v = self.verts
        pt, d2 = closest_on_triangles(pts[pair_q], v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]])
        seg = np.flatnonzero(np.r_[True, pair_q[1:] != pair_q[:-1]])
        seg_min = np.minimum.reduceat(d2, seg)
        seg_len = np.diff(np.r_[seg, pair_q.shape[0]])
        at_min = np.flatnonzero(d2 == np.repeat(seg_min, seg_len))
        owner = pair_q[at_min]
        winners = at_min[np.r_[True, owner[1:] != owner[:-1]]]
        q = pair_q[winners]
        better = d2[winners] < best_d2[q]
        q = q[better]
        winners = winners[better]
        best_d2[q] = d2[winners]
        best_pt[q] = pt[winners]
        best_tri[q] = pair_t[winners]


def closest_points(
    points: np.ndarray, verts: np.ndarray, tris: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-shot closest-point query; see TriangleIndex.query."""
    return TriangleIndex(verts, tris).query(points)


def project_points(points: np.ndarray, verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Snap points onto the mesh surface; returns float32 (Q, 3)."""
    return closest_points(points, verts, tris)[0].astype(np.float32)


def surface_distances(points: np.ndarray, verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Unsigned distance from each point to the mesh surface, float64 (Q,)."""
    return closest_points(points, verts, tris)[1]
