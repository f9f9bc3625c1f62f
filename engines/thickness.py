# SPDX-License-Identifier: GPL-3.0-or-later
"""Thin parts made wide enough for Instant Meshes: the working copy's thin limbs are inflated before it runs.

Contract: ``inflate_thin_parts(verts, tris, radius)`` takes a triangle mesh (float (N, 3), int (T, 3)) and
returns (new vertex positions float64 (N, 3), how many vertices moved). Where the surface's half thickness
(half the distance to the opposite side of the part, straight behind against the normal) is under
``radius``, vertices move out along their normal by the difference, at most a third of the gap to any
surface they face (so two fingers never grow into each other); the moves are spread over the neighbours
within ``3 * 2 * radius``, so a limb widens gradually into the body. Faces stay as they are, and so does
every vertex farther than that from a thin part. Open sheets have no opposite side and never move; a mesh
wound inwards is read the other way round. Thickness and moves are measured per cell representative (see
``CELL_SHARE``), not per vertex. Imports numpy only; never touches bpy.

Why: Instant Meshes places vertices about one edge apart on a field it smooths across the surface; around a
limb whose circumference is a few edges or less it cuts the limb off and caps both ends. The cow of
pymeshlab's samples lost four feet and its tail at 1,500 quads (6 pieces, 16 open edges) and its tail at
5,000. A limb at least ``radius`` thick gets enough edges around it; the result is then projected onto the
real, thin surface (the caller's own source index), so the extra edges land on the limb and its quads are
smaller than elsewhere: faces are spent where the budget could not hold the part.
"""

from __future__ import annotations

import numpy as np

# Two normals this far apart (cosine) face each other: the two sides of a part, or of a gap.
OPPOSED_COS = -0.3
# A neighbour counts as straight behind (or in front of) a vertex when this share of its offset lies
# along the vertex's normal.
ALONG_SHARE = 0.5
# A vertex facing another surface across a gap moves at most this share of the gap: both sides may move.
GAP_SHARE = 1.0 / 3.0
# Passes spreading the moves over neighbouring representatives, so a limb's base widens gradually into
# the body.
BLEND_PASSES = 3
# The thickness is measured between representatives, one per cell of this share of the search reach and
# per main normal direction (so the two sides of a part thinner than a cell stay apart): a CAD part's
# slivers put thousands of vertices in one cell, and pairing each with all of its neighbours took 9.7 s.
CELL_SHARE = 0.5
# Representatives queried per batch of the neighbour search, to bound its candidate-pair arrays: up to 27
# cells of up to 8 x 6 representatives each, so at most about 1.3M pairs (some 100 MB) even on a noisy scan.
BATCH = 1024
# Cell coordinates are packed 20 bits per axis: a mesh more than this many representative cells across has
# nothing thin enough to matter at that budget and is left as it is.
MAX_CELLS_ACROSS = (1 << 19) - 2


def vertex_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, float64 (N, 3), pointing out of the enclosed volume (a mesh wound
    inwards, as some exports are, is read the other way round); zero where a vertex has no area around it."""
    v = np.asarray(verts, dtype=np.float64)
    t = np.asarray(tris, dtype=np.int64)
    face = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    if np.einsum("ij,ij->", v[t[:, 0]], face) < 0.0:  # six times the signed volume
        face = -face
    corners = t.ravel()
    normals = np.stack([np.bincount(corners, np.repeat(face[:, k], 3), v.shape[0]) for k in range(3)], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def _cell_keys(cells: np.ndarray) -> np.ndarray:
    c = cells.astype(np.int64) + (1 << 19)
    return (c[:, 0] << 40) | (c[:, 1] << 20) | c[:, 2]


def _representatives(
    points: np.ndarray, normals: np.ndarray, cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions (R, 3), unit normals (R, 3), representative of each point (N,)): the mean of the points
    in one cell whose normals share their largest axis and its sign."""
    axis = np.argmax(np.abs(normals), axis=1)
    positive = normals[np.arange(normals.shape[0]), axis] > 0
    keys = (_cell_keys(np.floor(points / cell)) << 3) | (2 * axis + positive)
    _, owner = np.unique(keys, return_inverse=True)
    owner = owner.ravel()
    count = np.bincount(owner)
    positions = np.stack([np.bincount(owner, points[:, k]) / count for k in range(3)], axis=1)
    summed = np.stack([np.bincount(owner, normals[:, k]) for k in range(3)], axis=1)
    length = np.linalg.norm(summed, axis=1, keepdims=True)
    return positions, np.divide(summed, length, out=np.zeros_like(summed), where=length > 0), owner


def _neighbours(points: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (i, j), i != j, of points closer than ``reach``, as two int64 arrays."""
    count = points.shape[0]
    cells = np.floor(points / reach).astype(np.int64)
    keys = _cell_keys(cells)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    offsets = np.array([(x, y, z) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)], np.int64)
    owners, others = [], []
    for start in range(0, count, BATCH):
        query = np.arange(start, min(start + BATCH, count))
        around = _cell_keys((cells[query][:, None, :] + offsets[None]).reshape(-1, 3))
        lo = np.searchsorted(sorted_keys, around, side="left")
        sizes = np.searchsorted(sorted_keys, around, side="right") - lo
        owner = np.repeat(np.repeat(query, offsets.shape[0]), sizes)
        first = np.repeat(lo - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        other = order[first + np.arange(int(sizes.sum()))]
        near = (other != owner) & (np.linalg.norm(points[other] - points[owner], axis=1) < reach)
        owners.append(owner[near])
        others.append(other[near])
    return np.concatenate(owners), np.concatenate(others)


def _half_thickness_and_gap(
    points: np.ndarray, normals: np.ndarray, owner: np.ndarray, other: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per point: half the depth to the nearest opposed neighbour straight behind it, and the distance to
    the nearest opposed neighbour straight in front; inf where there is none."""
    half = np.full(points.shape[0], np.inf)
    gap = np.full(points.shape[0], np.inf)
    delta = points[other] - points[owner]
    distance = np.linalg.norm(delta, axis=1)
    along = np.einsum("ij,ij->i", delta, normals[owner])
    opposed = np.einsum("ij,ij->i", normals[other], normals[owner]) < OPPOSED_COS
    behind = opposed & (along < -ALONG_SHARE * distance)
    ahead = opposed & (along > ALONG_SHARE * distance)
    np.minimum.at(half, owner[behind], -along[behind] / 2.0)
    np.minimum.at(gap, owner[ahead], along[ahead])
    return half, gap


def _blended(moves: np.ndarray, owner: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Each pass keeps a point's own move or half its neighbours' mean, whichever is larger."""
    count = moves.shape[0]
    degree = np.maximum(np.bincount(owner, minlength=count), 1)
    for _ in range(BLEND_PASSES):
        moves = np.maximum(moves, 0.5 * np.bincount(owner, moves[other], count) / degree)
    return moves


def inflate_thin_parts(verts: np.ndarray, tris: np.ndarray, radius: float) -> tuple[np.ndarray, int]:
    """See the module docstring."""
    v = np.asarray(verts, dtype=np.float64)
    t = np.asarray(tris, dtype=np.int64)
    if radius <= 0.0 or t.shape[0] == 0:
        return v, 0
    reach = 2.0 * radius
    if float(np.abs(v).max()) / (CELL_SHARE * reach) >= MAX_CELLS_ACROSS:
        return v, 0
    normals = vertex_normals(v, t)
    points, point_normals, represented_by = _representatives(v, normals, CELL_SHARE * reach)
    owner, other = _neighbours(points, reach)
    half, gap = _half_thickness_and_gap(points, point_normals, owner, other)
    moves = np.where(np.isfinite(half), np.maximum(radius - half, 0.0), 0.0)
    if not np.any(moves > 0.0):
        return v, 0
    moves = np.minimum(_blended(moves, owner, other), GAP_SHARE * gap)[represented_by]
    moves[~np.any(normals, axis=1)] = 0.0
    return v + moves[:, None] * normals, int(np.count_nonzero(moves > 0.0))
