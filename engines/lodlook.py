# SPDX-License-Identifier: GPL-3.0-or-later
"""LoD levels that keep LOD0's look: its material slots and its UVs, seams and material borders kept.

Contract: ``Look.of(lod0, corner_uvs, face_materials)`` describes LOD0's look (either may be None; corner
UVs in Blender's loop layout, one material slot per face); ``decimate_keeping(look, previous, target)``
decimates ``previous`` (LOD0 or a level made by this module, as a ``Dressed``) to about ``target``
triangles and returns a ``Dressed`` level: a triangle ``MeshArrays``, its corner UVs (None when LOD0 has
none) and its face materials (None when LOD0 has none); ``Look.dress_nearest`` dresses a level made
otherwise (each face takes the region of LOD0's nearest triangle). ``uv_drift(look, level)`` measures how
far a level's texture samples land from LOD0's (the look test). Imports numpy and the engine's own modules
only; never touches bpy and runs in the engine child process.

How. LOD0's faces are cut into regions: a region is one UV island of one material (``uvstats.island_labels``;
a material border is a seam, as the unwrap makes it). fast_simplification cannot be told to keep an edge, but
it lets a vertex on an open border collapse only into another border vertex, placed at one of the two or their
midpoint, never at a free optimum, and each triangle's plane stays in its vertices' quadrics for the whole
pass. So every edge between two regions, and every open border, gets a "fin" (fins.py): a triangle standing on
the edge, along the surface normal, which makes both ends border vertices and adds the fin's plane (penalising
a move across the seam) to their quadrics. The mesh stays welded, so the two sides of a seam can never drift
apart (no crack); collapses along a seam keep it a seam, and interior vertices can no longer collapse into a
seam. Fins collapse at no cost into their base and are dropped from the result; edge flips then widen the thin
triangles a seam leaves (flips.py). With ``return_collapses`` each surviving triangle is known to be one of
the input's (fast_simplification only deletes the triangles a collapse makes degenerate, and keeps the others
in order), so it keeps its region and material exactly. Where the passes stall above the budget (a mesh of
needles), collapse.py goes on with the regions' borders as its feature lines, keeping triangles as they are.
Each corner's UV is then the UV of its vertex's
closest point on LOD0, among the triangles of the face's own region only (the regions are moved apart in space
for that query), interpolated barycentrically: a vertex that moved along the surface samples the map where
LOD0 has that point, and a vertex on a seam gets each side's own UV of that point.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .collapse import collapse_edges
from .decimate import COMPARED_UP_TO, TOLERANCE, collapse_map, shape_of
from .fins import fin_edges, put_back, specks_aside, without_fins
from .flaps import doubled
from .flips import flip_slivers
from .meshdata import DRAWN_SPLIT, MeshArrays
from .project import TriangleIndex
from .transfer import barycentric
from .uvstats import corner_triangles, island_labels, triangle_face

log = logging.getLogger(__name__)

# Aggression of the passes, each from where the last stopped with fresh fins and quadrics, until the budget
# is met. Seams block many collapses, so a pass at 3 stalls well above a low budget; jumping to 5-10 then
# (as decimate.py does) doubled the error of the last levels, whereas more gentle passes first kept it at
# about 2x a plain decimation's on a 6K-triangle torus with 46 islands (a third of its vertices on seams):
# Hausdorff to LOD0 8.1/11.7/31/30 (x1e-3 units) at 0.5/0.33/0.22/0.15 against plain 3.4/10/12/15 and
# 9.8/25/64/75 with decimate.py's steps; texture drift p95 0.1/0.3/0.6/2.3 texels at 1024.
LOOK_STEPS = (1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 4.0, 5.0, 7.0, 10.0)


@dataclass(frozen=True, eq=False)
class Dressed:
    """A triangle level with its corner UVs (C, 2) float32 or None and face materials (F,) int32 or None;
    ``regions`` int64 (F,) is each face's region of LOD0 (see the module docstring)."""

    mesh: MeshArrays
    corner_uvs: np.ndarray | None
    face_materials: np.ndarray | None
    regions: np.ndarray


@dataclass(frozen=True, eq=False)
class Look:
    """LOD0's look as the levels need it: LOD0 as triangles with its corner UVs per triangle corner, and
    region/material per triangle."""

    verts: np.ndarray  # float64 (N, 3)
    tris: np.ndarray  # int64 (T, 3) LOD0 vertex indices
    tri_uvs: np.ndarray | None  # float64 (T, 3, 2)
    tri_region: np.ndarray  # int64 (T,)
    region_material: np.ndarray | None  # int32 (R,)
    region_count: int
    # (shifted LOD0 triangles, their TriangleIndex), built by the first ``uvs_at``.
    _index: tuple | None = field(default=None, repr=False)

    @property
    def keeps_anything(self) -> bool:
        return self.tri_uvs is not None or self.region_material is not None

    @classmethod
    def of(cls, lod0: MeshArrays, corner_uvs: np.ndarray | None, face_materials: np.ndarray | None) -> Look:
        ctris = corner_triangles(lod0, DRAWN_SPLIT)  # the levels start from LOD0 as it is drawn
        tri_face = triangle_face(lod0)
        tris = lod0.corner_verts[ctris].astype(np.int64)
        uvs = None
        if corner_uvs is not None and len(corner_uvs) == lod0.corner_verts.shape[0]:
            uvs = np.asarray(corner_uvs, dtype=np.float64)
        materials = None
        if face_materials is not None and len(face_materials) == lod0.face_count:
            materials = np.asarray(face_materials, dtype=np.int64)
        islands = island_labels(lod0, uvs) if uvs is not None else np.zeros(lod0.face_count, np.int64)
        mats = materials if materials is not None else np.zeros(lod0.face_count, np.int64)
        keys, face_region = np.unique(np.stack([islands, mats], axis=1), axis=0, return_inverse=True)
        face_region = face_region.ravel()
        return cls(
            verts=np.asarray(lod0.verts, dtype=np.float64),
            tris=tris,
            tri_uvs=None if uvs is None else uvs[ctris],
            tri_region=face_region[tri_face],
            region_material=None if materials is None else keys[:, 1].astype(np.int32),
            region_count=int(keys.shape[0]),
        )

    def level0(self) -> Dressed:
        """LOD0 itself as a triangle ``Dressed`` (the start of the chain)."""
        mesh = MeshArrays.from_triangles(self.verts, self.tris)
        return self.dress(mesh, self.tri_region)

    def dress(self, mesh: MeshArrays, tri_region: np.ndarray) -> Dressed:
        """UVs and materials of a triangle level whose faces keep the regions ``tri_region``."""
        materials = None if self.region_material is None else self.region_material[tri_region]
        uvs = None if self.tri_uvs is None else self.corner_uvs(mesh, tri_region)
        return Dressed(mesh, uvs, materials, np.asarray(tri_region, dtype=np.int64))

    def dress_nearest(self, mesh: MeshArrays) -> Dressed:
        """``dress`` for a triangle level made without this module: each face takes the region of the LOD0
        triangle closest to its centroid."""
        tris = mesh.corner_verts.reshape(-1, 3)
        _, _, tri = TriangleIndex(self.verts, self.tris).query(mesh.verts[tris].mean(axis=1))
        return self.dress(mesh, self.tri_region[tri])

    def corner_uvs(self, mesh: MeshArrays, tri_region: np.ndarray) -> np.ndarray:
        """Each corner's UV: that of its vertex's closest point on LOD0 within its face's region."""
        regions = np.repeat(np.asarray(tri_region, dtype=np.int64), 3)
        # A vertex has one UV per region it touches: about six corners share each, so project those once.
        key = mesh.corner_verts.astype(np.int64) * max(self.region_count, 1) + regions
        unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        del unique
        uvs = self.uvs_at(mesh.verts[mesh.corner_verts[first]], regions[first])
        return uvs[inverse.ravel()].astype(np.float32)

    def uvs_at(self, points: np.ndarray, regions: np.ndarray) -> np.ndarray:
        """UV (Q, 2) float64 of LOD0 at the closest point to each point among its region's triangles."""
        lo, hi = self.verts.min(axis=0), self.verts.max(axis=0)
        # Regions side by side along x, a clear gap apart: the closest point to a query moved by its
        # region's offset is always in that region.
        step = np.array([3.0 * float(hi[0] - lo[0]) + float(np.linalg.norm(hi - lo)) + 1e-9, 0.0, 0.0])
        if self._index is None:
            shifted = self.verts[self.tris] + self.tri_region[:, None, None] * step
            index = TriangleIndex(shifted.reshape(-1, 3), np.arange(self.tris.size).reshape(-1, 3))
            object.__setattr__(self, "_index", (shifted, index))
        shifted, index = self._index
        queries = np.asarray(points, dtype=np.float64) + np.asarray(regions, dtype=np.float64)[:, None] * step
        closest, _, tri = index.query(queries)
        abc = shifted[tri]
        weights = barycentric(closest, abc[:, 0], abc[:, 1], abc[:, 2])
        return np.einsum("qk,qkj->qj", weights, self.tri_uvs[tri])


def _decimate_pass(
    verts: np.ndarray, tris: np.ndarray, tri_region: np.ndarray, target: int, aggression: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tips, fins = fin_edges(verts, tris, tri_region)
    all_verts = np.concatenate([verts, tips]) if tips.size else verts
    all_tris = np.concatenate([tris, fins]) if fins.size else tris
    out = collapse_map(all_verts, all_tris, target + fins.shape[0], aggression)
    out_verts, out_tris, kept = without_fins(*out, tris.shape[0])
    return out_verts, out_tris, tri_region[kept]


def _tidied(verts: np.ndarray, tris: np.ndarray, regions: np.ndarray) -> tuple:
    """A decimated level with its slivers widened and its flaps dropped (flips.py, flaps.py)."""
    # Seam vertices may only land at an end or the middle of a collapsed edge: widen what that left thin.
    tris, regions = flip_slivers(verts, tris, regions)
    kept = ~doubled(tris)
    return verts, tris[kept], regions[kept]


def _fast_simplified(given: tuple, target: int) -> tuple:
    """``given`` (verts, tris, regions) decimated by fast_simplification with fins, harder pass after
    pass, then by collapse.py if it still stands above ``target``; tidied."""
    verts, tris, regions = given
    for aggression in LOOK_STEPS:
        verts, tris, regions = _decimate_pass(verts, tris, regions, target, aggression)
        if tris.shape[0] <= target * (1.0 + TOLERANCE):
            break
        log.debug("aggression %g kept %d of %d triangles with seams", aggression, tris.shape[0], target)
    else:
        # Needles stop fast_simplification (collapse.py), which keeps regions and seams as the fins do.
        verts, tris, kept = collapse_edges(verts, tris, target, regions)
        regions = regions[kept]
    return _tidied(verts, tris, regions)


def decimate_keeping(look: Look, previous: Dressed, target: int) -> Dressed:
    """``previous`` decimated to about ``target`` triangles with LOD0's regions kept (module docstring)."""
    verts = np.asarray(previous.mesh.verts, dtype=np.float64)
    tris = previous.mesh.triangles().astype(np.int64)
    regions = previous.regions
    if tris.shape[0] <= target:
        return previous
    # Specks are kept whole (fins.specks_aside), as decimate.decimate keeps them.
    specks = specks_aside(tris, verts.shape[0], target)
    if specks is not None:
        aside = MeshArrays.from_triangles(verts, tris[specks]).compact()
        aside_regions, tris, regions = regions[specks], tris[~specks], regions[~specks]
        target -= aside.face_count
    given = (verts, tris, regions)
    verts, tris, regions = _fast_simplified(given, target)
    shape = shape_of(given[:2]) if given[1].shape[0] <= COMPARED_UP_TO else None
    if shape is not None and shape_of((verts, tris)) != shape:
        # fast_simplification may pinch a neck or close a hole where collapse.py keeps it, as for plain
        # levels (decimate._closer, on as many triangles): the noisy dumbbell's neck at a fifth.
        kept_verts, kept_tris, kept = collapse_edges(given[0], given[1], target, given[2])
        tidy = _tidied(kept_verts, kept_tris, given[2][kept])
        if tidy[1].shape[0] <= target * (1.0 + TOLERANCE) and shape_of(tidy[:2]) == shape:
            verts, tris, regions = tidy
    if specks is not None:
        verts, tris = put_back(verts, tris, aside)
        regions = np.concatenate([regions, aside_regions])
    return look.dress(MeshArrays.from_triangles(verts, tris).compact(), regions)


def uv_drift(look: Look, level: Dressed, samples_per_face: int = 4, seed: int = 0) -> np.ndarray:
    """How far the level's texture samples land from LOD0's, in UV units (times the map's size: texels):
    for random points on the level's faces, the distance between the UV the level interpolates there and
    the UV LOD0 has at the closest point of the same region. 0 where the level samples the maps exactly
    where LOD0 does; empty when there are no UVs."""
    if look.tri_uvs is None or level.corner_uvs is None:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    faces = np.repeat(np.arange(level.mesh.face_count), samples_per_face)
    weights = rng.random((faces.shape[0], 3)) + 1e-3
    weights /= weights.sum(axis=1, keepdims=True)
    corners = level.mesh.corner_verts.reshape(-1, 3)[faces]
    points = np.einsum("qk,qkj->qj", weights, level.mesh.verts[corners])
    uvs = np.einsum("qk,qkj->qj", weights, level.corner_uvs.reshape(-1, 3, 2)[faces].astype(np.float64))
    return np.linalg.norm(uvs - look.uvs_at(points, level.regions[faces]), axis=1)
