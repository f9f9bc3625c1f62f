# SPDX-License-Identifier: GPL-3.0-or-later
"""Pieces that cover huge triangles, for a loose grid of closest-point queries: ``cover``.

Contract: ``cover(corners, huge, radius, cap)`` takes the corners (H, 3, 3) of triangles numbered ``huge``
(H,) and returns ``(boxes (P, 6) lo/hi, triangle of each piece (P,), triangles left whole)``: pieces of the
triangles, cut until each piece's box fits within ``radius`` of its centre, which together cover their
triangle; a triangle whose pieces would take the total past ``cap`` is left whole and listed instead.
Imports numpy only; runs wherever project.py does (the engine child process).

Why: project.py's grid stores a triangle in the cell of its box's centre when the box fits within the
grid's loose radius, and a query finds it through that cell. A piece of a triangle stands for the whole
triangle the same way, so a triangle many cells long (a CAD tessellation's fans and strips) is found
through its nearest piece instead of being tested against every query.
"""

from __future__ import annotations

import numpy as np


def cover(
    corners: np.ndarray, huge: np.ndarray, radius: float, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pieces of the module docstring: each round cuts every piece still too wide at the midpoints of
    its two longest edges into three."""
    boxes: list[np.ndarray] = [np.zeros((0, 6))]
    owners: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    pieces, owner = corners, huge
    while pieces.shape[0]:
        lo = np.minimum(np.minimum(pieces[:, 0], pieces[:, 1]), pieces[:, 2])
        hi = np.maximum(np.maximum(pieces[:, 0], pieces[:, 1]), pieces[:, 2])
        wide = np.einsum("ij,ij->i", hi - lo, hi - lo) > 4.0 * radius * radius
        boxes.append(np.concatenate([lo[~wide], hi[~wide]], axis=1))
        owners.append(owner[~wide])
        if sum(o.shape[0] for o in owners) + 3 * int(wide.sum()) > cap:
            # The most-cut triangles cost the most pieces: keep the others' pieces, list those whole.
            left = np.unique(owner[wide])
            box, tri = np.concatenate(boxes), np.concatenate(owners)
            kept = ~np.isin(tri, left)
            return box[kept], tri[kept], left
        cut, owner = pieces[wide], owner[wide]
        # Turn each piece so that corner 0 is shared by its two longest edges (opposite the shortest), then
        # cut both at their midpoints: a half-size copy at corner 0 and the rest in two. A needle's pieces
        # halve in length each round, so it takes about length / radius of them, not its area's worth.
        length = np.linalg.norm(np.roll(cut, -1, axis=1) - cut, axis=2)  # edge k: corner k to k + 1
        apex = (np.argmin(length, axis=1) + 2) % 3
        order = (apex[:, None] + np.arange(3)) % 3
        v, u, w = np.moveaxis(np.take_along_axis(cut, order[:, :, None], axis=1), 1, 0)
        mu, mw = 0.5 * (v + u), 0.5 * (v + w)
        pieces = np.concatenate([np.stack([v, mu, mw], 1), np.stack([mu, u, w], 1), np.stack([mu, w, mw], 1)])
        owner = np.tile(owner, 3)
    return np.concatenate(boxes), np.concatenate(owners), np.zeros(0, dtype=np.int64)
