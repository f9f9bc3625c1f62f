# SPDX-License-Identifier: GPL-3.0-or-later
"""Put a remesh's edge loops on the source's feature (hard) edges and say which result edges are sharp.

Contract: ``FeatureCurves(verts, feature_edges)`` indexes source feature edges (int (K, 2) source vertex
pairs, see ``features``) as segments. ``snap(mesh)`` returns new positions (N, 3) float64 and a bool (N,)
mask of vertices moved onto a feature: a vertex is snapped when its nearest feature point is closer than
``SNAP_SHARE`` of its shortest edge (so one row of vertices follows each feature, not both rows beside
it). ``sharp_edges(mesh, snapped)`` returns int32 (E, 2) result vertex pairs (smaller first) of edges whose
ends are both snapped and whose midpoint lies on a feature too. ``source_borders(verts, tris)`` indexes a
source's open borders the same way (None when it is closed), and ``mesh_onto_borders(mesh, borders)``
moves a result's border vertices onto the nearest source border, so open borders stay where they were, and
says which vertices moved;
``onto_source`` does all of it to Instant Meshes' output: surface, then borders, then (optionally
relaxed along the surface, ``relax``) feature curves.
Imports numpy and the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .holes import boundary_half_edges
from .meshdata import MeshArrays
from .meshgraph import unique_edges
from .project import TriangleIndex
from .relax import kept_apart, relax

SNAP_SHARE = 0.5
# An edge is on a feature when its midpoint is within this share of its length of a feature segment.
ON_FEATURE = 0.1
# A result border vertex moves onto the source's border when that is within this many median edge lengths.
BORDER_REACH = 1.0
# A face folding or turning by more than this after the feature snap has its snapped corners put back
# (up to FOLD_PASSES rounds, since putting one back can fold a neighbour).
FOLD_DEG = 60.0
FOLD_PASSES = 3
# Relaxation passes around the vertices a feature snap moved (the rest of the mesh settles around them).
FEATURE_RELAX = 2


def _shortest_edge(mesh: MeshArrays, edges: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(mesh.verts[edges[:, 0]].astype(np.float64) - mesh.verts[edges[:, 1]], axis=1)
    shortest = np.full(mesh.vert_count, np.inf)
    np.minimum.at(shortest, edges[:, 0], length)
    np.minimum.at(shortest, edges[:, 1], length)
    return shortest


class FeatureCurves:
    def __init__(self, verts: np.ndarray, feature_edges: np.ndarray) -> None:
        edges = np.asarray(feature_edges, dtype=np.int64).reshape(-1, 2)
        self.count = edges.shape[0]
        # A triangle (a, b, b) has no area, so its closest point is the closest point of segment ab.
        self.index = (
            TriangleIndex(verts, np.stack([edges[:, 0], edges[:, 1], edges[:, 1]], axis=1))
            if self.count
            else None
        )

    def snap(self, mesh: MeshArrays) -> tuple[np.ndarray, np.ndarray]:
        p = mesh.verts.astype(np.float64)
        if self.index is None:
            return p, np.zeros(mesh.vert_count, dtype=bool)
        edges, _, _ = unique_edges(mesh)
        near, dist, _ = self.index.query(p)
        snapped = dist < SNAP_SHARE * _shortest_edge(mesh, edges)
        moved = p.copy()
        moved[snapped] = near[snapped]
        return kept_apart(p, moved, snapped, edges)

    def sharp_edges(self, mesh: MeshArrays, snapped: np.ndarray) -> np.ndarray:
        if self.index is None:
            return np.zeros((0, 2), dtype=np.int32)
        edges, _, _ = unique_edges(mesh)
        both = edges[snapped[edges[:, 0]] & snapped[edges[:, 1]]]
        if both.shape[0] == 0:
            return np.zeros((0, 2), dtype=np.int32)
        a, b = mesh.verts[both[:, 0]].astype(np.float64), mesh.verts[both[:, 1]].astype(np.float64)
        dist = self.index.query((a + b) / 2.0)[1]
        on = dist <= ON_FEATURE * np.linalg.norm(b - a, axis=1)
        return both[on].astype(np.int32)


def source_borders(
    verts: np.ndarray, tris: np.ndarray, half_edges: tuple[np.ndarray, np.ndarray] | None = None
) -> FeatureCurves | None:
    """The open borders of a triangle mesh as segments to snap onto; None when it has none. ``half_edges``:
    its ``holes.boundary_half_edges`` when the caller has them already."""
    if half_edges is None:
        half_edges = boundary_half_edges(MeshArrays.from_triangles(verts, tris))
    a, b = half_edges
    return FeatureCurves(verts, np.stack([a, b], axis=1)) if a.shape[0] else None


def mesh_onto_borders(mesh: MeshArrays, borders: FeatureCurves) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's border vertices moved onto the nearest point of ``borders`` when it lies within
    ``BORDER_REACH`` median edges: (positions float64 (N, 3), bool (N,) which moved). A border vertex further
    away is an extraction hole's (filled later), which must not be dragged across the surface to a real
    border."""
    points = np.asarray(mesh.verts)
    moved = points.astype(np.float64, copy=True)
    snapped = np.zeros(points.shape[0], dtype=bool)
    a, _b = boundary_half_edges(mesh)
    if a.shape[0] == 0 or borders.index is None:
        return moved, snapped
    on_border = np.unique(a)
    edges, _, _ = unique_edges(mesh)
    reach = BORDER_REACH * float(np.median(np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)))
    near, dist, _ = borders.index.query(points[on_border].astype(np.float64))
    close = dist <= reach
    moved[on_border[close]] = near[close]
    snapped[on_border[close]] = True
    return kept_apart(points.astype(np.float64), moved, snapped, edges)


def onto_source(
    index: TriangleIndex,
    mesh: MeshArrays,
    borders: FeatureCurves | None,
    curves: FeatureCurves | None,
    relax_iterations: int = 0,
) -> np.ndarray:
    """A remesh's vertices (``mesh``: positions near the source, and the connectivity) on the source
    surface, then on its open borders and its feature curves: float64 (N, 3). With ``relax_iterations``, the
    surface's vertices are relaxed along it (``relax``) before the snap and, around the snapped ones, after
    it; border and snapped vertices stay where they were put. No edge is left collapsed to a point
    (``relax.kept_apart``)."""
    start = mesh.verts.astype(np.float64)
    projected = index.query(start)[0]
    # Two ends of an edge can land on one point of the source (a crease of a scan); one stays put.
    everyone = np.ones(len(projected), dtype=bool)
    projected = kept_apart(start, projected, everyone, unique_edges(mesh)[0])[0]
    # One mesh for the connectivity throughout; it holds float32 positions, so ``projected`` stays float64.
    mesh = MeshArrays(projected, mesh.face_sizes, mesh.corner_verts)
    pinned = np.zeros(projected.shape[0], dtype=bool)
    if borders is not None:
        projected, pinned = mesh_onto_borders(mesh, borders)
    if relax_iterations > 0:
        projected = relax(projected, mesh, index, relax_iterations, pinned=pinned)
    if curves is not None:
        snapped, moved = curves.snap(MeshArrays(projected, mesh.face_sizes, mesh.corner_verts))
        quads = mesh.corner_verts.reshape(-1, 4) if (mesh.face_sizes == 4).all() else None
        if quads is not None:
            _undo_folds(projected, snapped, moved, quads)
        projected = snapped
        if relax_iterations > 0 and moved.any():
            projected = relax(projected, mesh, index, FEATURE_RELAX, pinned=pinned | moved)
    return projected


def _undo_folds(before: np.ndarray, snapped: np.ndarray, moved: np.ndarray, quads: np.ndarray) -> None:
    """Put back (in place) the snapped corners of quads the feature snap folded or turned: three corners of
    a quad pulled onto one feature line, say. A folded quad shades and unwraps badly, a missed loop does
    not."""
    folded_before = _folds(before, quads)
    for _ in range(FOLD_PASSES):
        broken = _folds(snapped, quads) & ~folded_before
        broken |= _turns(before, snapped, quads)
        undo = np.zeros(len(snapped), dtype=bool)
        undo[quads[broken].ravel()] = True
        undo &= moved
        if not undo.any():
            break
        snapped[undo], moved[undo] = before[undo], False


def _corner_normals(points: np.ndarray, faces: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Normals of the two triangles of each face split along the diagonal from corner ``first``."""
    k = faces.shape[1]
    a, b, c = (points[faces[:, (first + i) % k]] for i in range(3))
    d = points[faces[:, (first + 3) % k]] if k == 4 else c
    return np.cross(b - a, c - a), np.cross(c - a, d - a)


def _cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
    return np.einsum("ij,ij->i", u, v) / np.maximum(norms, 1e-30)


def _folds(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Quads whose two triangles meet at more than ``FOLD_DEG`` along either diagonal (bool (F,))."""
    if faces.shape[1] != 4:
        return np.zeros(faces.shape[0], dtype=bool)
    limit = np.cos(np.radians(FOLD_DEG))
    return (
        np.minimum(_cosine(*_corner_normals(points, faces, 0)), _cosine(*_corner_normals(points, faces, 1)))
        < limit
    )


def _turns(before: np.ndarray, after: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces whose first triangle turned by more than ``FOLD_DEG`` (bool (F,))."""
    return _cosine(_corner_normals(before, faces, 0)[0], _corner_normals(after, faces, 0)[0]) < np.cos(
        np.radians(FOLD_DEG)
    )
