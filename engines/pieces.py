# SPDX-License-Identifier: GPL-3.0-or-later
"""Every separate part of the source keeps a place in LOD0, however small it is next to the face budget.

Contract: ``plan_pieces(verts, tris, target_faces)`` splits a triangle mesh into its pieces (triangles joined
by vertices, or by vertices at the same place) and gives each piece a face budget in proportion to its share
of the surface area, at least ``MIN_PIECE_FACES``. Pieces whose budget reaches ``LARGE_PIECE_FACES`` go to the
engine together (Instant Meshes or the decimator); the others are made one by one by ``small_pieces`` (the
piece's own triangles when they fit its budget, else ``decimate.small_part`` of that piece alone, which keeps
its borders and genus); in quad mode a budget counts quads and those triangles are paired into quads where
they meet flat enough (``pair_triangles``). ``below_own_faces`` (``plan_pieces(..., remeshed=True)``, a quad
remesh's plan) gives large pieces a budget under their own triangle count, so they are remeshed rather than
kept. What the engine made of the large pieces is checked piece by piece (``partcheck``): those it lost or,
when small, reshaped are made the small way too, and when it joined two, ``each_alone`` makes every large
piece in a run of its own, so pieces in == pieces out. Only when the minimum budgets of many tiny parts
would take the result past ``1 + MAX_OVERSHOOT`` times the target are the smallest parts left out; the
plan counts them (``dropped``) and ``dropped_warning`` says so in one line. Imports numpy and the engine's
own modules only; never touches bpy and runs in the engine child process.

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

from .decimate import small_part
from .errors import EngineCancelled
from .meshdata import MeshArrays, triangle_areas
from .meshgraph import components, face_components
from .partcheck import with_faces

log = logging.getLogger(__name__)

CancelledFn = Callable[[], bool]

# A tetrahedron, the smallest closed triangle mesh: the least a kept part costs.
MIN_PIECE_FACES = 4
# Pieces with a smaller budget skip Instant Meshes. 100 icospheres remeshed together lost 11 parts at 8
# faces each, 2 at 16 and none at 24, 32 or 48 (at 32 a sphere's output edge is about 0.6 of its radius);
# at the 5 faces each of 1,000 icospheres got in a 5,000-face job, 41% came back without a face. A large
# piece the engine still loses is made the small way (``partcheck.lost_pieces``).
LARGE_PIECE_FACES = 32
# Bits of a piece made on its own that hold less than this share of its faces are dropped (``_one_part``).
STRAY_SHARE = 0.1
# Vertices closer than this share of the bounding-box diagonal are at the same place (float32 round-off of
# object coordinates, with room to spare); 1e6 steps per axis also keep a cell's int64 key from overflowing.
WELD = 1e-6
# Triangles whose normals are further apart than this stay triangles (a cube's edges are 90 degrees).
PAIR_MAX_ANGLE = 90.0
# Pairs re-paired at most along one alternating path when the greedy pass leaves a triangle alone.
PAIR_SEARCH = 4
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


def plan_pieces(
    verts: np.ndarray, tris: np.ndarray, target_faces: int, *, remeshed: bool = False
) -> PiecePlan:
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
    plan = PiecePlan(labels, budgets, large)
    return below_own_faces(plan) if remeshed else plan


def below_own_faces(plan: PiecePlan) -> PiecePlan:
    """``plan`` with every large piece whose budget reaches its own triangle count given one face less, so a
    quad remesh makes it anew. Kept as it is, its triangles are only paired into quads where they meet flat
    enough: the Utah teapot (992 triangles, three parts) asked for 800 quads came back with 472 faces, its
    body as it was."""
    faces = np.bincount(plan.labels, minlength=plan.count)
    lighter = plan.large & (plan.budgets >= faces) & (faces - 1 >= LARGE_PIECE_FACES)
    return PiecePlan(plan.labels, np.where(lighter, faces - 1, plan.budgets), plan.large)


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
    *,
    quads: bool = False,
    cancelled: CancelledFn | None = None,
) -> MeshArrays:
    """Each of ``pieces`` (int piece ids) within its budget of faces, all in one MeshArrays: the piece's own
    triangles when they fit, else a decimation of the piece alone. With ``quads`` neighbouring triangles
    are paired into quads (``pair_triangles``) from twice the budget's triangles, fewer when pairing
    leaves triangles alone and the faces exceed the budget (one more try)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(budgets.shape[0] + 1))
    made: list[MeshArrays] = []
    for n, piece in enumerate(np.asarray(pieces, dtype=np.int64)):
        if n % 64 == 0 and cancelled is not None and cancelled():
            raise EngineCancelled("the job was cancelled")
        own = tris[order[bounds[piece] : bounds[piece + 1]]]
        ids, local = np.unique(own, return_inverse=True)
        pv, pt = verts[ids].astype(np.float64), local.reshape(-1, 3)
        budget = int(budgets[piece])
        mesh = _within(pv, pt, 2 * budget if quads else budget, quads)
        excess = mesh.face_count - budget
        if quads and excess > 0 and 2 * budget - 2 * excess >= MIN_PIECE_FACES:
            fewer = _within(pv, pt, 2 * budget - 2 * excess, quads)
            if fewer.face_count < mesh.face_count:
                mesh = fewer
        made.append(mesh)
    if not made:
        return MeshArrays(np.zeros((0, 3)), np.zeros(0), np.zeros(0))
    return merged(*made)


def _within(verts: np.ndarray, tris: np.ndarray, triangles: int, quads: bool) -> MeshArrays:
    """The piece's triangles (decimated to ``triangles`` when it has more), paired into quads if asked."""
    if tris.shape[0] > triangles:
        dv, dt = small_part(verts, tris, triangles)
        # A collapse can flatten a tiny part to nothing; it then keeps its own triangles.
        if dt.shape[0] >= min(MIN_PIECE_FACES, tris.shape[0]):
            verts, tris = dv, dt
    return pair_triangles(verts, tris) if quads else MeshArrays.from_triangles(verts, tris)


def pair_triangles(verts: np.ndarray, tris: np.ndarray) -> MeshArrays:
    """Merge neighbouring triangles into convex quads (normals at most ``PAIR_MAX_ANGLE`` apart): flattest
    pairs first, then short alternating paths re-pair neighbours so that a triangle left alone finds a
    partner; the rest stay triangles. A cube's 12 triangles become its 6 quads."""
    v = np.asarray(verts, dtype=np.float64)
    t = np.asarray(tris, dtype=np.int64)
    normals = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    # Directed edge i -> i+1 of triangle f, opposite corner i+2; its twin runs the other way in a neighbour.
    f = np.repeat(np.arange(t.shape[0]), 3)
    k = np.tile(np.arange(3), t.shape[0])
    a, b, c = t[f, k], t[f, (k + 1) % 3], t[f, (k + 2) % 3]
    n = max(v.shape[0], 1)
    forward = {key: i for i, key in enumerate((a * n + b).tolist())}
    twins = np.array([forward.get(key, -1) for key in (b * n + a).tolist()], dtype=np.int64)
    half = np.flatnonzero((twins > np.arange(twins.shape[0])) & (f != f[np.maximum(twins, 0)]))
    other = twins[half]
    d = c[other]
    flat = np.einsum("ij,ij->i", normals[f[half]], normals[f[other]])
    # Quad (b, c, a, d): convex when c and d lie on either side of a-b and a and b on either side of c-d.
    up = normals[f[half]] + normals[f[other]]

    def side(p, q, r):
        return np.einsum("ij,ij->i", np.cross(v[q] - v[p], v[r] - v[p]), up)

    convex = (side(c[half], d, a[half]) * side(c[half], d, b[half]) < 0) & (
        side(a[half], b[half], c[half]) * side(a[half], b[half], d) < 0
    )
    keep = convex & (flat >= np.cos(np.radians(PAIR_MAX_ANGLE)))
    mate = np.full(t.shape[0], -1, dtype=np.int64)
    quad_of: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    neighbours: dict[int, list[int]] = {}
    for h in half[keep][np.argsort(-flat[keep], kind="stable")].tolist():
        f1, f2 = int(f[h]), int(f[twins[h]])
        quad_of[(f1, f2)] = quad_of[(f2, f1)] = (int(b[h]), int(c[h]), int(a[h]), int(c[twins[h]]))
        neighbours.setdefault(f1, []).append(f2)
        neighbours.setdefault(f2, []).append(f1)
        if mate[f1] < 0 and mate[f2] < 0:  # flattest pairs first
            mate[f1], mate[f2] = f2, f1
    # Then short alternating paths pair up what the greedy pass left (u - x = y - w becomes u = x - y = w).
    for u in [int(x) for x in np.flatnonzero(mate < 0) if int(x) in neighbours]:
        if mate[u] < 0:
            _augment(u, mate, neighbours, [u])
    used = mate >= 0
    quads = [quad_of[(i, int(mate[i]))] for i in np.flatnonzero(used).tolist() if i < mate[i]]
    rest = t[~used]
    sizes = np.concatenate([np.full(len(quads), 4), np.full(rest.shape[0], 3)])
    corners = np.concatenate([np.asarray(quads, dtype=np.int64).reshape(-1), rest.reshape(-1)])
    return MeshArrays(v, sizes, corners)


def _augment(start: int, mate: np.ndarray, neighbours: dict, path: list[int]) -> bool:
    """Pair ``path[-1]`` (unpaired, or re-paired along the path) through at most ``PAIR_SEARCH`` pairs."""
    here = path[-1]
    for x in neighbours.get(here, ()):
        if x in path:
            continue
        if mate[x] < 0:
            chain = [*path, x]
            for i in range(0, len(chain), 2):
                mate[chain[i]], mate[chain[i + 1]] = chain[i + 1], chain[i]
            return True
        y = int(mate[x])
        if len(path) < 2 * PAIR_SEARCH and y not in path and _augment(start, mate, neighbours, [*path, x, y]):
            return True
    return False


def each_alone(
    verts: np.ndarray, tris: np.ndarray, plan: PiecePlan, pieces: np.ndarray, build: Callable
) -> tuple[MeshArrays | None, np.ndarray, list[dict]]:
    """Each of ``pieces`` (piece ids) made by ``build(mesh, budget, vertex_map)`` -> (mesh, sharp edge
    vertex pairs, info) in a run of its own, all in one MeshArrays with their sharp edges renumbered: (mesh
    or None when none was made, sharp (E, 2), infos). A piece whose budget is not below its own face count
    is left out (``partcheck.lost_pieces`` then finds it for the small way)."""
    made: list[tuple[MeshArrays, np.ndarray, dict]] = []
    for piece in pieces:
        mesh, vertex_map = select_pieces(verts, tris, plan.labels, np.arange(plan.count) == piece)
        budget = int(plan.budgets[piece])
        if MIN_PIECE_FACES <= budget < mesh.face_count:
            made.append(_one_part(*build(mesh, budget, vertex_map)))
    if not made:
        return None, np.zeros((0, 2), dtype=np.int32), []
    offsets = np.cumsum([0] + [m.vert_count for m, _, _ in made[:-1]])
    sharp = np.concatenate([s.astype(np.int64) + o for (_, s, _), o in zip(made, offsets, strict=True)])
    return merged(*(m for m, _, _ in made)), sharp.astype(np.int32), [i for _, _, i in made]


def _one_part(mesh: MeshArrays, sharp: np.ndarray, info: dict) -> tuple[MeshArrays, np.ndarray, dict]:
    """A piece is one part: a few faces the engine cut off it (under STRAY_SHARE of them; an open
    hemisphere of 40 quads lost 2 that way) go, with their sharp edges."""
    parts = face_components(mesh)
    if parts.size == 0 or parts.max() == 0:
        return mesh, sharp, info
    sizes = np.bincount(parts)
    if sizes.max() < (1.0 - STRAY_SHARE) * parts.shape[0]:
        return mesh, sharp, info
    return (*with_faces(mesh, sharp, parts == sizes.argmax()), info)


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
