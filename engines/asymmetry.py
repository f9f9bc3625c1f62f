# SPDX-License-Identifier: GPL-3.0-or-later
"""How far a source is from symmetric across the planes Symmetry mirrors it on, and the warning that says so.

Contract: ``asymmetry(source, axes)`` returns (axis, share) for the plane of ``axes`` (0 = X, the object's
local planes through its origin, as ``symmetry``) that the source is least symmetric across: the share of
its surface whose mirror image lies more than about ``ASYMMETRY_CELL`` of its bounding-box diagonal from
it. ``not_symmetric(axis, share)`` is the one-line warning LOD0 carries when that share is over
``ASYMMETRY_WARN``. Symmetry keeps the + side, so a slightly asymmetric scan still comes out fine; this
catches the source it cannot serve (an origin off the middle, a posed or one-sided mesh). Imports numpy and
the engine's own modules only; never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .quality import sample_surface
from .symmetry import AXES

# A source with more than ASYMMETRY_WARN of its surface mirrored further than about ASYMMETRY_CELL of its
# diagonal from itself is not the slightly asymmetric scan symmetry is for: the result's - side will not
# follow it (an origin off the middle, a pose), and LOD0 says so.
ASYMMETRY_WARN = 0.05
ASYMMETRY_CELL = 0.015
ASYMMETRY_SAMPLES = 50_000


def asymmetry(source: MeshArrays, axes: tuple[int, ...]) -> tuple[int, float]:
    """(axis, share) of the plane the source is least symmetric across: the share of its surface (at most
    ``ASYMMETRY_SAMPLES`` points) whose mirror image has none of the surface in the 27 cells of side
    ``ASYMMETRY_CELL`` of the diagonal around it, i.e. lies more than about that far from it. Cells, not
    closest points: far from a surface a closest-point query is slow, and a warning needs no more."""
    points = sample_surface(source.verts, source.triangles(), ASYMMETRY_SAMPLES, vertex_cap=0)
    if points.shape[0] == 0:
        return axes[0], 0.0
    # Cells counted from the box's middle, but from the planes along their axes, so mirrored points fall in
    # the same grid and every cell number stays small wherever the object sits.
    lo, hi = points.min(axis=0), points.max(axis=0)
    middle = (lo + hi) / 2.0
    middle[list(axes)] = 0.0
    points = points - middle
    cell = ASYMMETRY_CELL * (float(np.linalg.norm(hi - lo)) or 1.0)
    occupied = np.unique(_cell_keys(np.floor(points / cell).astype(np.int64)))
    around = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    worst = (axes[0], 0.0)
    for axis in axes:
        mirrored = points.copy()
        mirrored[:, axis] *= -1.0
        home = np.floor(mirrored / cell).astype(np.int64)
        near = np.zeros(points.shape[0], dtype=bool)
        for offset in around:
            keys = _cell_keys(home + offset)
            slot = np.minimum(np.searchsorted(occupied, keys), occupied.shape[0] - 1)
            near |= occupied[slot] == keys
        worst = max(worst, (axis, 1.0 - float(near.mean())), key=lambda item: item[1])
    return worst


def not_symmetric(axis: int, share: float) -> str:
    """The one-line warning for a source ``asymmetry`` found far from symmetric across ``axis``."""
    return (
        f"the source is not symmetric across its local {AXES[axis].upper()} plane ({share:.0%} of it is "
        f"more than {ASYMMETRY_CELL:.1%} of its size from its mirror image), so the mirrored side does not "
        "follow it: check the object's origin and rotation, or turn that symmetry off"
    )


def _cell_keys(cells: np.ndarray) -> np.ndarray:
    """One int64 per integer cell (I, J, K), for cells within a million of the middle (here: about 70)."""
    shifted = cells + (1 << 20)
    return (shifted[:, 0] << 42) | (shifted[:, 1] << 21) | shifted[:, 2]
