# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge flips that widen thin triangles without changing the surface: ``flip_slivers``.

Contract: ``flip_slivers(verts, tris, tri_region)`` takes a triangle mesh (float (N, 3), int (T, 3)) whose
triangles each belong to a region (int (T,); lodlook.py's UV islands of one material) and returns new
triangles (T, 3) and their regions: the same vertices and triangle count, with edges flipped where that
raises the smaller of the two triangles' smallest angles. Only an edge inside one region with exactly two
triangles, nearly flat across (``FLAT_COS``), whose other diagonal is not an edge already, and whose flipped
pair faces the same way, is flipped; each round flips a set of edges that share no triangle, best gain
first. Nothing moves, so positions, seams and region borders are as they were. Imports numpy only; runs in
the engine child process.

Why: a decimation that keeps seams (lodlook.py) may place a seam vertex only at an end or the middle of the
collapsed edge, and leaves thin triangles along seams that a flip widens (min-angle percentiles in
bench/RESULTS.md).
"""

from __future__ import annotations

import numpy as np

# Two triangles this close to coplanar (cosine between their normals) are one flat quad to flip across:
# about 8 degrees, well inside what the decimation already moved.
FLAT_COS = 0.99
ROUNDS = 4
# A flip must raise the pair's smallest angle by at least this much (degrees) to be worth making.
MIN_GAIN = 1.0


def _min_angles(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    p = verts[tris]
    smallest = np.full(tris.shape[0], 180.0)
    for k in range(3):
        a = p[:, (k + 1) % 3] - p[:, k]
        b = p[:, (k + 2) % 3] - p[:, k]
        lengths = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos = np.einsum("ij,ij->i", a, b) / np.maximum(lengths, 1e-300)
        smallest = np.minimum(smallest, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return smallest


def _normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    n = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


def _one_round(verts: np.ndarray, tris: np.ndarray, tri_region: np.ndarray) -> int:
    """Flip one independent set of improving edges in place; returns how many were flipped."""
    count, n = tris.shape[0], max(int(verts.shape[0]), 1)
    a = tris.ravel()
    b = np.roll(tris, -1, axis=1).ravel()
    key = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    sizes = np.diff(np.r_[starts, skey.shape[0]])
    pair = starts[sizes == 2]
    h1, h2 = order[pair], order[pair + 1]  # half-edges: corner index t * 3 + k runs from tris[t, k]
    t1, t2 = h1 // 3, h2 // 3
    keep = (tri_region[t1] == tri_region[t2]) & (t1 != t2)
    h1, h2, t1, t2 = h1[keep], h2[keep], t1[keep], t2[keep]
    # t1 = (p, q, c) with the shared edge p -> q; t2 runs q -> p with its third vertex d.
    k1, k2 = h1 % 3, h2 % 3
    p, q = tris[t1, k1], tris[t1, (k1 + 1) % 3]
    c, d = tris[t1, (k1 + 2) % 3], tris[t2, (k2 + 2) % 3]
    opposite = tris[t2, k2] == q  # a consistently wound pair
    normals = _normals(verts, tris)
    flat = np.einsum("ij,ij->i", normals[t1], normals[t2]) >= FLAT_COS
    existing = np.isin(np.minimum(c, d) * n + np.maximum(c, d), skey)
    ok = opposite & flat & ~existing & (c != d)
    new1 = np.stack([p, d, c], axis=1)
    new2 = np.stack([d, q, c], axis=1)
    before = np.minimum(_min_angles(verts, tris[t1]), _min_angles(verts, tris[t2]))
    after = np.minimum(_min_angles(verts, new1), _min_angles(verts, new2))
    mean = normals[t1] + normals[t2]
    same_way = (np.einsum("ij,ij->i", _normals(verts, new1), mean) > 0) & (
        np.einsum("ij,ij->i", _normals(verts, new2), mean) > 0
    )
    gain = after - before
    chosen = np.flatnonzero(ok & same_way & (gain >= MIN_GAIN))
    if chosen.size == 0:
        return 0
    chosen = chosen[np.argsort(-gain[chosen], kind="stable")]
    # Best first, each triangle in one flip at most: a flip is taken when it is the first (best) claim on
    # both of its triangles.
    claims = np.concatenate([t1[chosen], t2[chosen]])
    rank = np.concatenate([np.arange(chosen.size), np.arange(chosen.size)])
    best = np.full(count, np.iinfo(np.int64).max)
    np.minimum.at(best, claims, rank)
    take = chosen[(best[t1[chosen]] == np.arange(chosen.size)) & (best[t2[chosen]] == np.arange(chosen.size))]
    tris[t1[take]] = new1[take]
    tris[t2[take]] = new2[take]
    return int(take.size)


def flip_slivers(
    verts: np.ndarray, tris: np.ndarray, tri_region: np.ndarray, rounds: int = ROUNDS
) -> tuple[np.ndarray, np.ndarray]:
    """See the module docstring; regions stay with their triangles (a flip keeps both in one region)."""
    out = np.array(tris, dtype=np.int64, copy=True)
    points = np.asarray(verts, dtype=np.float64)
    regions = np.asarray(tri_region, dtype=np.int64)
    for _ in range(rounds):
        if _one_round(points, out, regions) == 0:
            break
    return out, regions
