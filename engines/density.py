# SPDX-License-Identifier: GPL-3.0-or-later
"""Density control of a quad remesh: more faces where curvature is high (``adaptive``) or where the user
painted it (a vertex group), by splitting Instant Meshes' coarse quad-dominant mesh per place instead of
everywhere.

Instant Meshes has one global edge length. Its pure-quad output is the one-level split of a coarse
quad-dominant mesh (``coarse``), whose edges are twice the output's. Here that split is made per place
instead of everywhere: each coarse face gets a level 0, 1 or 2 and is split into 4**level faces, so its
edges end up 2x, 1x or 0.5x the uniform output's (0.5x, 1x or 2x the edge density); level 1 everywhere is
Instant Meshes' own output. Neighbouring levels differ by at most one, and a coarser face next to a finer
one takes the finer one's edge midpoint as an extra corner: the polygons that makes at a transition are
paired into quads (``pairing``), so the mesh stays quads (plus at most one triangle on a piece with open
borders) with poles where the density changes. Instant Meshes never runs coarser than for a uniform
result at the same budget, so thin parts it keeps there are kept here.

Contract:
- ``DensityField(verts, tris, weights, adaptive)`` over a source in object units: ``weights`` float (N,)
  per source vertex in 0..1 (0.5 keeps the base density, 1 doubles the edge density, 0 halves it; NaN is
  0.5) or None; ``adaptive`` in 0..1 (0 = off). ``active`` says whether it changes anything.
- ``field.levels(verts, faces, to_field)``: int64 level per coarse face (polygons as vertex-index lists,
  vertices (N, 3); ``to_field`` maps them into the field's units), balanced so that edge neighbours
  differ by at most one.
- ``refine(verts, faces, levels)`` -> (verts (N', 3) float64, polygons): the coarse faces split as above;
  new vertices (edge midpoints, face centres) are appended and lie off the surface until projected.
- ``FACES_PER_LEVEL``: quads per coarse face at each level (4 ** level).
Imports numpy and the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import face_centroids, face_edges, unique_edges
from .project import TriangleIndex
from .transfer import barycentric

MAX_LEVEL = 2
# Base level: 1 (the face keeps the edge length asked for); a painted or adaptive term of +-1 moves it by one.
BASE_LEVEL = 1
FACES_PER_LEVEL = np.array([1, 4, 16])
# Adaptive: log2 of the edge-density multiplier is ``adaptive * clip(log2(bend / median bend), +-ADAPT_SPAN)``
# where a face's bend is the mean angle (radians) between its normal and its neighbours'. BEND_FLOOR keeps
# flat regions (a median of 0) from making every slight bend look infinitely curved.
ADAPT_SPAN = 1.5
BEND_FLOOR = 0.05
ADAPTIVE_GUESS = 0.7
# Passes of averaging the level term with the edge neighbours' before rounding it to levels.
SMOOTHING = 2


class DensityField:
    """Where the remesh should spend more or fewer faces; see the module docstring."""

    def __init__(
        self,
        verts: np.ndarray,
        tris: np.ndarray,
        weights: np.ndarray | None = None,
        adaptive: float = 0.0,
    ) -> None:
        self.adaptive = float(adaptive)
        self.painted = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).reshape(-1)
            w = np.clip(np.where(np.isfinite(w), w, 0.5), 0.0, 1.0)
            if np.any(np.abs(w - 0.5) > 1e-6):
                self.painted = w
                self.verts = np.asarray(verts, dtype=np.float64)
                self.tris = np.asarray(tris, dtype=np.int64)
                self.index = TriangleIndex(self.verts, self.tris)

    def expected_multiplier(self) -> float:
        """A first guess of faces made / faces at the base level, for the remesh's first budget: the
        painted levels over the source's area, times a guess for ``adaptive`` (measured: about 1.7 at 1 on
        the bunny); the remesh corrects it from the count it gets."""
        guess = 1.0 + ADAPTIVE_GUESS * self.adaptive
        if self.painted is None:
            return guess
        a, b, c = (self.verts[self.tris[:, k]] for k in range(3))
        area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
        term = 2.0 * self.painted[self.tris].mean(axis=1) - 1.0
        level = np.clip(np.floor(term + BASE_LEVEL + 0.5), 0, MAX_LEVEL).astype(np.int64)
        share = FACES_PER_LEVEL[level] / FACES_PER_LEVEL[BASE_LEVEL]
        return guess * float((share * area).sum() / max(area.sum(), 1e-300))

    @property
    def active(self) -> bool:
        return self.painted is not None or self.adaptive > 0.0

    def painted_at(self, points: np.ndarray) -> np.ndarray:
        """log2 of the painted edge-density multiplier at ``points`` (0 where nothing is painted)."""
        if self.painted is None:
            return np.zeros(len(points))
        closest, _dist, tri = self.index.query(points)
        corners = self.tris[tri]
        abc = self.verts[corners]
        weights = barycentric(closest, abc[:, 0], abc[:, 1], abc[:, 2])
        return 2.0 * np.einsum("qk,qk->q", weights, self.painted[corners]) - 1.0

    def levels(self, verts: np.ndarray, faces: list[list[int]], to_field=None) -> np.ndarray:
        """Level per coarse face; ``to_field`` maps ``verts`` into the field's units (identity if None)."""
        mesh = MeshArrays.from_polygons(np.asarray(verts, dtype=np.float64), faces)
        owner = np.repeat(np.arange(mesh.face_count), mesh.face_sizes)
        centres = face_centroids(mesh)
        term = self.painted_at(centres if to_field is None else to_field(centres))
        pairs = _face_pairs(mesh)
        count = np.bincount(pairs.ravel(), minlength=mesh.face_count)
        if self.adaptive > 0.0:
            term = term + self.adaptive * _bend_term(mesh, owner, pairs, count)
        # Every change of level costs poles along its border: smoothing first merges islands of one or two
        # faces into their surroundings.
        for _ in range(SMOOTHING):
            total = np.bincount(
                pairs.ravel(), weights=term[pairs[:, ::-1]].ravel(), minlength=mesh.face_count
            )
            term = (term + total) / (1 + count)
        level = np.clip(np.floor(term + BASE_LEVEL + 0.5), 0, MAX_LEVEL).astype(np.int64)
        return _balanced(level, pairs)


def _face_pairs(mesh: MeshArrays) -> np.ndarray:
    """(K, 2) pairs of faces sharing an edge (consecutive users of an edge shared by more than two)."""
    _, _, corner_edge = unique_edges(mesh)
    owner = np.repeat(np.arange(mesh.face_count), mesh.face_sizes)
    order = np.argsort(corner_edge, kind="stable")
    edge, face = corner_edge[order], owner[order]
    same = edge[1:] == edge[:-1]
    return np.stack([face[:-1][same], face[1:][same]], axis=1)


def _bend_term(mesh: MeshArrays, owner: np.ndarray, pairs: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per face: clip(log2(bend / median bend), +-ADAPT_SPAN), bends floored at BEND_FLOOR."""
    a, b = face_edges(mesh)
    # Newell's normal: robust for non-planar quads and pentagons.
    normals = np.zeros((mesh.face_count, 3))
    np.add.at(normals, owner, np.cross(mesh.verts[a], mesh.verts[b]))
    normals /= np.maximum(np.linalg.norm(normals, axis=1), 1e-30)[:, None]
    angle = np.arccos(np.clip(np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]]), -1.0, 1.0))
    total = np.bincount(pairs.ravel(), weights=np.repeat(angle, 2), minlength=mesh.face_count)
    bend = total / np.maximum(count, 1) + BEND_FLOOR
    return np.clip(np.log2(bend / np.median(bend)), -ADAPT_SPAN, ADAPT_SPAN)


def _balanced(level: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Raise levels until every pair of edge neighbours differs by at most one (refining never drops)."""
    level = level.copy()
    for _ in range(MAX_LEVEL + 1):
        if not pairs.size:
            break
        a, b = level[pairs[:, 0]], level[pairs[:, 1]]
        np.maximum.at(level, pairs[:, 0], b - 1)
        np.maximum.at(level, pairs[:, 1], a - 1)
    return level


def refine(
    verts: np.ndarray, faces: list[list[int]], levels: np.ndarray
) -> tuple[np.ndarray, list[list[int]]]:
    """Split each face into 4**level faces (midpoints and centre, twice for level 2); see the docstring."""
    points = [np.asarray(v, dtype=np.float64) for v in verts]
    midpoints: dict[tuple[int, int], int] = {}

    def midpoint(a: int, b: int) -> int:
        key = (a, b) if a < b else (b, a)
        found = midpoints.get(key)
        if found is None:
            found = midpoints[key] = len(points)
            points.append((points[a] + points[b]) * 0.5)
        return found

    current = [(list(face), int(level)) for face, level in zip(faces, levels, strict=True)]
    for step in range(1, MAX_LEVEL + 1):
        nxt: list[tuple[list[int], int]] = []
        for face, level in current:
            if level < step:
                nxt.append((face, level))
                continue
            centre = len(points)
            points.append(np.mean([points[v] for v in face], axis=0))
            mids = [midpoint(a, b) for a, b in zip(face, face[1:] + face[:1], strict=True)]
            for i, corner in enumerate(face):
                nxt.append(([corner, mids[i], centre, mids[i - 1]], level))
        current = nxt

    def expand(a: int, b: int) -> list[int]:
        mid = midpoints.get((a, b) if a < b else (b, a))
        return [a] if mid is None else expand(a, mid) + expand(mid, b)

    polygons = []
    for face, _level in current:
        polygon: list[int] = []
        for a, b in zip(face, face[1:] + face[:1], strict=True):
            polygon += expand(a, b)
        polygons.append(polygon)
    return np.array(points), polygons
