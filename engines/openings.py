# SPDX-License-Identifier: GPL-3.0-or-later
"""The source's holes that a remesh covered over, opened again, so the result keeps its boundary loops.

Instant Meshes spreads its field over an opening narrower than about two of its edges and extracts faces
across it: the Stanford bunny scan's five holes under its base all closed at 1,000 quads, three at 4,000.
Here each border loop of the source that no border of the result follows is opened again: the result faces
hanging over it are taken away (a face whose centre's nearest source point lies on that loop, further from
it than ``OVERHANG`` of the face's size), or, when none does, the one face nearest the loop's middle; the
new border's vertices then go onto the source's border (``sharp.mesh_onto_borders``). An opening that would
cut the result into more pieces, or leave it with more borders than the source has, is not made.

Contract: ``BorderLoops(verts, half_edges)`` labels a source's border half-edges (``holes.
boundary_half_edges``) by loop, in the order ``sharp.source_borders`` makes its segments, and keeps each
loop's middle. ``reopen_covered_holes(mesh, index, borders, loops)`` takes a result ``MeshArrays`` and the
source in the same units (``index``, a ``TriangleIndex`` over its triangles; ``borders``, the
``FeatureCurves`` of its open borders; ``loops``, its ``BorderLoops``) and returns ``(mesh, opened)``: a
new mesh without the faces taken away (unused vertices dropped) and how many loops were opened.
``on_cut(points, a, b, axes)`` says which edges lie on a symmetry cut. ``open_borders(verts, tris, edge)``
gives the open half-edges but for the loops ``narrow_loops`` finds, and how many loops those were.
``real_borders(verts, tris, cut)`` gives the ``(FeatureCurves, BorderLoops)`` of the borders that stay
open once vertices at the same place are joined (a glTF or FBX import splits them along UV seams and hard
edges, a triangle soup everywhere: those are no holes), leaving out a symmetry cut's and those narrower
than ``MIN_HOLE_WIDTH`` of an output ``edge`` (``narrow_loops``), or None. Imports numpy and the engine's
own modules only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .holes import boundary_half_edges
from .meshdata import MeshArrays
from .meshgraph import components, face_centroids, face_components, joined_mesh, same_place, unique_edges
from .project import TriangleIndex
from .sharp import FeatureCurves, mesh_onto_borders

# A face is over an opening when its centre is further than this share of the face's size from the source
# and the nearest source point is on the opening's border.
OVERHANG = 0.25
# A result border vertex this close to a source loop (share of the result's median edge) follows that loop.
FOLLOWS = 0.25
# Slack (share of the face's size) within which a border counts as the nearest source point.
ON_BORDER = 1e-3
# A source loop is followed by a result border with at least this many edges along it.
FOLLOWED_EDGES = 2
# A source loop enclosing less than a disc this share of an output edge across is a crack or a pinhole the
# result cannot draw, no border to keep: every one of the 801 loops of a vertex-clustered scan (the Stanford
# dragon's dragon_vrip_res3.ply; 788 under half a 5,000-quad edge, all under 0.8) was kept open or torn open
# again, and its result had 310 holes. The bunny scan's smallest hole is 1.04 edges across at 1,000 quads.
MIN_HOLE_WIDTH = 0.5
# A loop is around empty space when its rim is at most this many times as far from its middle as the
# nearest surface (the bunny scan's deepest hole: 1.07).
HOLLOW = 1.5


class BorderLoops:
    """Loop label of each border half-edge (joined through their vertices) and each loop's middle."""

    def __init__(self, verts: np.ndarray, half_edges: tuple[np.ndarray, np.ndarray]) -> None:
        a, b = (np.asarray(x, dtype=np.int64) for x in half_edges)
        points = np.asarray(verts, dtype=np.float64)
        label = components(np.stack([a, b], axis=1), points.shape[0])[a]
        self.labels, self.of_segment = np.unique(label, return_inverse=True)
        self.of_segment = self.of_segment.ravel()
        count = np.bincount(self.of_segment, minlength=self.labels.shape[0])[:, None]
        self.middles = np.zeros((self.labels.shape[0], 3))
        np.add.at(self.middles, self.of_segment, points[a])
        self.middles /= np.maximum(count, 1)

    @property
    def count(self) -> int:
        return int(self.labels.shape[0])


def on_cut(points: np.ndarray, a: np.ndarray, b: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Which edges ``a -> b`` lie on a symmetry cut: both ends at the lowest coordinate of one of ``axes``
    (``planes.clip_half`` puts a part's cut exactly there)."""
    found = np.zeros(a.shape[0], dtype=bool)
    for axis in axes:
        at = points[:, axis] == points[:, axis].min(initial=np.inf)
        found |= at[a] & at[b]
    return found


def _narrow_per_loop(
    verts: np.ndarray, a: np.ndarray, b: np.ndarray, edge: float
) -> tuple[np.ndarray, np.ndarray]:
    """(loop of each half-edge ``a -> b``, whether each loop is narrower than ``MIN_HOLE_WIDTH * edge``)."""
    points = np.asarray(verts, dtype=np.float64)
    loops = BorderLoops(points, (a, b))
    middle = loops.middles[loops.of_segment]
    vector_area = np.zeros((loops.count, 3))
    np.add.at(vector_area, loops.of_segment, np.cross(points[a] - middle, points[b] - middle))
    width = np.sqrt(2.0 * np.linalg.norm(vector_area, axis=1) / np.pi)
    return loops.of_segment, width < MIN_HOLE_WIDTH * edge


def narrow_loops(verts: np.ndarray, half_edges: tuple[np.ndarray, np.ndarray], edge: float) -> np.ndarray:
    """Which border half-edges (``holes.boundary_half_edges``) lie on a loop narrower than
    ``MIN_HOLE_WIDTH * edge``: the width of the disc with the loop's vector area (a slit's is about zero)."""
    a, b = (np.asarray(x, dtype=np.int64) for x in half_edges)
    if a.shape[0] == 0 or edge <= 0.0:
        return np.zeros(a.shape[0], dtype=bool)
    of_segment, narrow = _narrow_per_loop(verts, a, b, edge)
    return narrow[of_segment]


def open_borders(unit: np.ndarray, tris: np.ndarray, edge: float) -> tuple[tuple[np.ndarray, ...], int]:
    """The source's open half-edges (``holes.boundary_half_edges``) but for cracks and pinholes narrower than
    an output ``edge`` can draw (``narrow_loops``): those are no borders to keep; and how many loops
    those were."""
    a, b = boundary_half_edges(MeshArrays.from_triangles(unit, tris))
    if a.shape[0] == 0 or edge <= 0.0:
        return (a, b), 0
    of_segment, narrow = _narrow_per_loop(unit, a, b, edge)
    wide = ~narrow[of_segment]
    return (a[wide], b[wide]), int(np.count_nonzero(narrow))


def real_borders(
    verts: np.ndarray,
    tris: np.ndarray,
    cut: tuple[np.ndarray, tuple[int, ...]] | None = None,
    edge: float = 0.0,
) -> tuple[FeatureCurves, BorderLoops] | None:
    """See the module docstring. ``cut``: (the same vertices in object units, axes) of a part cut for
    symmetry, whose border edges at the lowest coordinate of those axes are the cut and are left out.
    ``edge``: the output's edge length; loops narrower than ``MIN_HOLE_WIDTH`` of it are left out."""
    mesh = MeshArrays.from_triangles(np.asarray(verts, dtype=np.float64), tris)
    first, joined = same_place(mesh.verts)
    welded = joined_mesh(mesh, first, joined)
    a, b = boundary_half_edges(welded)
    if cut is not None:
        object_points, axes = cut
        dropped = on_cut(np.asarray(object_points)[first], a, b, axes)
        a, b = a[~dropped], b[~dropped]
    wide = ~narrow_loops(welded.verts, (a, b), edge)
    a, b = a[wide], b[wide]
    if a.shape[0] == 0:
        return None
    half_edges = (a, b)
    return FeatureCurves(welded.verts, np.stack([a, b], axis=1)), BorderLoops(welded.verts, half_edges)


def _followed_loops(mesh: MeshArrays, borders: FeatureCurves, loops: BorderLoops, reach: float) -> set[int]:
    """The source loops (numbered 0..count-1) along which ``mesh`` has at least ``FOLLOWED_EDGES`` border
    edges (both ends on that loop): a border passing by another loop at one vertex does not follow it."""
    a, b = boundary_half_edges(mesh)
    if a.shape[0] == 0:
        return set()
    on, where = np.unique(np.concatenate([a, b]), return_inverse=True)
    _near, dist, segment = borders.index.query(mesh.verts[on].astype(np.float64), within=reach)
    loop_at = np.where(dist <= reach, loops.of_segment[segment], -1)[where.ravel()].reshape(2, -1)
    along = loop_at[0][(loop_at[0] == loop_at[1]) & (loop_at[0] >= 0)]
    counts = np.bincount(along, minlength=loops.count)
    return set(np.flatnonzero(counts >= FOLLOWED_EDGES).tolist())


def _hollow(index: TriangleIndex, borders: FeatureCurves, loops: BorderLoops) -> set[int]:
    """The loops around empty space: from their middle, their own rim is the nearest border and is not much
    further than the nearest surface (``HOLLOW``; a curved hole may have surface nearer than its rim). The
    outline of a flat sheet or of a scan's stray triangle has surface in its middle: no hole to open."""
    _near, to_surface, _tri = index.query(loops.middles)
    _near, to_border, segment = borders.index.query(loops.middles)
    mine = loops.of_segment[segment] == np.arange(loops.count)
    return set(np.flatnonzero(mine & (to_border <= HOLLOW * to_surface)).tolist())


def _shape(mesh: MeshArrays) -> tuple[int, int]:
    """(pieces, border loops) of a small result, cheaply."""
    pieces = int(face_components(mesh).max(initial=-1)) + 1
    a, b = boundary_half_edges(mesh)
    loops = int(np.unique(components(np.stack([a, b], axis=1), mesh.vert_count)[a]).shape[0]) if a.size else 0
    return pieces, loops


def reopen_covered_holes(
    mesh: MeshArrays, index: TriangleIndex, borders: FeatureCurves, loops: BorderLoops
) -> tuple[MeshArrays, int]:
    if borders.index is None or mesh.face_count == 0:
        return mesh, 0
    edges, _, _ = unique_edges(mesh)
    lengths = np.linalg.norm(mesh.verts[edges[:, 0]] - mesh.verts[edges[:, 1]], axis=1)
    reach = FOLLOWS * float(np.median(lengths))
    covered = (set(range(loops.count)) - _followed_loops(mesh, borders, loops, reach)) & _hollow(
        index, borders, loops
    )
    if not covered:
        return mesh, 0
    centres = face_centroids(mesh)
    _near, to_surface, _tri = index.query(centres)
    # The face's size: twice its corners' mean distance from its centre, enough to compare a distance with.
    owner = np.repeat(np.arange(mesh.face_count), mesh.face_sizes)
    spread = np.zeros(mesh.face_count)
    np.add.at(spread, owner, np.linalg.norm(mesh.verts[mesh.corner_verts] - centres[owner], axis=1))
    size = 2.0 * spread / mesh.face_sizes
    # The nearest source point is on a border when the border is as near as the surface. The two distances
    # come from two indexes (segments and triangles) whose round-off differs, hence the slack; and only a
    # border that near matters, so the bounded search gives up early everywhere else.
    bound = to_surface + ON_BORDER * size
    _near, to_border, segment = borders.index.query(centres, within=bound)
    over = (to_border <= bound) & (to_surface > OVERHANG * size)
    loop_of_face = np.where(over, loops.of_segment[segment], -1)
    openings: list[np.ndarray] = []
    for loop in sorted(covered):
        faces = np.flatnonzero(loop_of_face == loop)
        if faces.size == 0:
            # Narrower than the faces: the one face nearest the loop's middle.
            away = np.linalg.norm(centres - loops.middles[loop], axis=1)
            nearest = int(np.argmin(away))
            if away[nearest] > size[nearest]:
                continue
            faces = np.asarray([nearest])
        openings.append(faces)
    if not openings:
        return mesh, 0
    pieces, result_loops = _shape(mesh)

    def allowed(drop: np.ndarray, count: int) -> bool:
        found = _shape(mesh.select_faces(~drop).compact())
        return found[0] <= pieces and found[1] <= min(loops.count, result_loops + count)

    drop = np.zeros(mesh.face_count, dtype=bool)
    drop[np.concatenate(openings)] = True
    opened = len(openings)
    if not allowed(drop, opened):
        # One opening at a time, keeping those that do no harm (one check of the whole mesh each, which is
        # why all of them are tried together first).
        drop[:], opened = False, 0
        for faces in openings:
            trial = drop.copy()
            trial[faces] = True
            if allowed(trial, opened + 1):
                drop, opened = trial, opened + 1
    if not opened:
        return mesh, 0
    opened_mesh = mesh.select_faces(~drop).compact()
    moved, _snapped = mesh_onto_borders(opened_mesh, borders)
    return MeshArrays(moved, opened_mesh.face_sizes, opened_mesh.corner_verts), opened
