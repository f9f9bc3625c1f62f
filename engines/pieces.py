# SPDX-License-Identifier: GPL-3.0-or-later
"""Every separate part of the source keeps a place in LOD0, however small it is next to the face budget.

Contract: ``plan_pieces(verts, tris, target_faces)`` splits a triangle mesh into its pieces (triangles that
share a vertex) and gives each piece a face budget in proportion to its share of the surface area, at
least ``MIN_PIECE_FACES``. Pieces whose budget reaches ``LARGE_PIECE_FACES`` go to the engine together
(Instant Meshes or the decimator); the others are made one by one by ``small_pieces`` (the piece's own
triangles when they fit its budget, else a decimation of that piece alone) and come back as triangles,
even in quad mode. ``lost_pieces`` finds the large pieces the engine left without a face, to be made the
small way too, so pieces in == pieces out. Only when the minimum budgets of many tiny parts would take
the result past ``1 + MAX_OVERSHOOT`` times the target are the smallest parts left out; the plan counts
them (``dropped``) and ``dropped_warning`` says so in one line. Imports numpy and the engine's own modules
only; never touches bpy and runs in the engine child process.

Why: Instant Meshes places vertices one output edge apart, and a part smaller than that edge gets no
face at all. 1,000 icospheres remeshed together to 5,000 quads (5 each) came back as 588 pieces; a
decimation of the whole set to the same budget also empties pieces, since each collapse is chosen for the
whole mesh's error, not per part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .decimate import simplify_triangles
from .errors import EngineCancelled
from .meshdata import MeshArrays, triangle_areas
from .meshgraph import components
from .project import TriangleIndex

log = logging.getLogger(__name__)

CancelledFn = Callable[[], bool]

# A tetrahedron, the smallest closed triangle mesh: the least a kept part costs.
MIN_PIECE_FACES = 4
# Pieces with a smaller budget skip Instant Meshes: at 32 faces a sphere's output edge is about 0.6 of its
# radius, while at the 5 faces each of 1,000 icospheres got in a 5,000-face job it is 1.6 radii, longer than
# the part (41% of those parts came back without a face).
LARGE_PIECE_FACES = 32
# Vertices closer than this share of the bounding-box diagonal are at the same place (float32 round-off of
# object coordinates, with room to spare); 1e6 steps per axis also keep a cell's int64 key from overflowing.
WELD = 1e-6
# Minimum budgets may take the result this far past the target (many parts at MIN_PIECE_FACES each);
# beyond it the smallest parts are dropped, with a warning on the job.
MAX_OVERSHOOT = 0.5


@dataclass(frozen=True, eq=False)
class PiecePlan:
    """``labels`` int64 (T,): piece of each triangle; ``budgets`` int64 (P,): faces per piece, 0 for a
    dropped one; ``large`` bool (P,): pieces the engine makes together."""

    labels: np.ndarray
    budgets: np.ndarray
    large: np.ndarray

    @property
    def count(self) -> int:
        return int(self.budgets.shape[0])

    @property
    def dropped(self) -> int:
        return int((self.budgets == 0).sum())

    @property
    def small(self) -> np.ndarray:
        return ~self.large & (self.budgets > 0)


def _labels(tris: np.ndarray, vert_count: int) -> tuple[np.ndarray, int]:
    # Two edges per triangle join all three corners, a third cheaper than every edge.
    roots = components(np.concatenate([tris[:, :2], tris[:, 1:]]), vert_count)
    _, labels = np.unique(roots[tris[:, 0]], return_inverse=True)
    labels = labels.ravel().astype(np.int64)
    return labels, int(labels.max()) + 1


def piece_labels(verts: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, int]:
    """(piece of each triangle, labels 0..P-1, int64 (T,); P). Vertices at the same place count as one:
    exporters split vertices along seams and sharp edges (a flat-shaded glTF has three per triangle), and
    those faces are still one part."""
    tris = np.asarray(tris, dtype=np.int64)
    if tris.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 0
    labels, count = _labels(tris, verts.shape[0])
    if count == 1:
        return labels, count  # the common case, without the cost of welding
    v = np.asarray(verts, dtype=np.float64)
    lo = v.min(axis=0)
    step = max(float(np.linalg.norm(v.max(axis=0) - lo)), 1e-30) * WELD
    cells = np.rint((v - lo) / step).astype(np.int64)
    width = int(cells.max()) + 1
    _, place = np.unique((cells[:, 0] * width + cells[:, 1]) * width + cells[:, 2], return_inverse=True)
    return _labels(place.ravel()[tris], int(place.max()) + 1)


def plan_pieces(verts: np.ndarray, tris: np.ndarray, target_faces: int) -> PiecePlan:
    labels, count = piece_labels(verts, tris)
    areas = np.bincount(labels, weights=triangle_areas(verts, tris).astype(np.float64), minlength=count)
    total = float(areas.sum()) or 1.0
    share = np.rint(target_faces * areas / total).astype(np.int64)
    budgets = np.maximum(MIN_PIECE_FACES, share)
    large = share >= LARGE_PIECE_FACES
    # Largest parts first: the cap, if it bites, leaves out the smallest.
    order = np.argsort(-areas, kind="stable")
    within = np.cumsum(budgets[order]) <= target_faces * (1.0 + MAX_OVERSHOOT)
    budgets[order[~within]] = 0
    large &= budgets > 0
    return PiecePlan(labels, budgets, large)


def select_pieces(verts: np.ndarray, tris: np.ndarray, labels: np.ndarray, pieces: np.ndarray):
    """(MeshArrays of the triangles of ``pieces`` (bool (P,)) with only their vertices, vertex map int64
    (N,): each input vertex's index in it, -1 when not used)."""
    sub = tris[pieces[labels]]
    used = np.zeros(verts.shape[0], dtype=bool)
    used[sub] = True
    vertex_map = np.cumsum(used, dtype=np.int64) - 1
    vertex_map[~used] = -1
    return MeshArrays.from_triangles(verts[used], vertex_map[sub]), vertex_map


def small_pieces(
    verts: np.ndarray,
    tris: np.ndarray,
    labels: np.ndarray,
    budgets: np.ndarray,
    pieces: np.ndarray,
    cancelled: CancelledFn | None = None,
) -> MeshArrays:
    """The triangles of each of ``pieces`` (int piece ids) within its budget, all in one MeshArrays."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(budgets.shape[0] + 1))
    out_v, out_t, offset = [], [], 0
    for n, piece in enumerate(np.asarray(pieces, dtype=np.int64)):
        if n % 64 == 0 and cancelled is not None and cancelled():
            raise EngineCancelled("the job was cancelled")
        own = tris[order[bounds[piece] : bounds[piece + 1]]]
        ids, local = np.unique(own, return_inverse=True)
        pv, pt = verts[ids].astype(np.float64), local.reshape(-1, 3)
        budget = int(budgets[piece])
        if pt.shape[0] > budget:
            dv, dt = simplify_triangles(pv, pt, budget)
            # A collapse can flatten a tiny part to nothing; it then keeps its own triangles.
            if dt.shape[0] >= min(MIN_PIECE_FACES, pt.shape[0]):
                pv, pt = dv, dt
        out_v.append(pv)
        out_t.append(pt + offset)
        offset += pv.shape[0]
    if not out_t:
        return MeshArrays(np.zeros((0, 3)), np.zeros(0), np.zeros(0))
    return MeshArrays.from_triangles(np.concatenate(out_v), np.concatenate(out_t))


def lost_pieces(result: MeshArrays, source: MeshArrays, labels: np.ndarray) -> np.ndarray:
    """The piece ids among ``labels`` (one per triangle of ``source``) that no face of ``result`` lies on:
    each result face counts for the piece nearest its first corner."""
    present = np.unique(labels)
    if result.face_count == 0 or present.shape[0] == 0:
        return present
    first = result.verts[result.corner_verts[result.face_starts]]
    nearest = TriangleIndex(source.verts, source.triangles()).query(first)[2]
    hit = np.zeros(int(present[-1]) + 1, dtype=bool)
    hit[labels[nearest]] = True
    return present[~hit[present]]


def merged(*meshes: MeshArrays) -> MeshArrays:
    """One MeshArrays holding ``meshes`` in order (vertex indices of the first stay valid)."""
    offsets = np.cumsum([0] + [m.vert_count for m in meshes[:-1]])
    return MeshArrays(
        np.concatenate([m.verts for m in meshes]),
        np.concatenate([m.face_sizes for m in meshes]),
        np.concatenate([m.corner_verts.astype(np.int64) + o for m, o in zip(meshes, offsets, strict=True)]),
    )


def dropped_warning(plan: PiecePlan, target_faces: int) -> str:
    return (
        f"{plan.dropped:,} of {plan.count:,} separate parts were too small to keep at {target_faces:,} "
        f"faces (each needs at least {MIN_PIECE_FACES}): raise the target face count to keep them"
    )
