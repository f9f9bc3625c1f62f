# SPDX-License-Identifier: GPL-3.0-or-later
"""Carry the source's attributes over to every result level: materials, vertex group weights, hard edges.

Contract: ``load_source_attributes(path, triangle_count)`` reads what the snapshot file holds besides the
mesh (all optional): ``face_materials`` int (F,) slot per source polygon; ``group_names`` str (G,) and the
sparse weights ``weight_verts``/``weight_groups``/``weight_values`` (one row per (source vertex, group,
weight)); ``sharp_edges`` int (S, 2) source vertex pairs marked sharp. ``transfer_level`` gives, for one
result ``MeshArrays``:

- ``face_materials`` int32 (F,): the slot of the source polygon nearest each result face's centroid;
- ``weight_verts``, ``weight_groups`` int32 and ``weight_values`` float32: each result vertex's weights,
  interpolated (barycentric) on the nearest source triangle, rows under ``MIN_WEIGHT`` dropped, sorted by
  (vertex, group);
- ``hard_edges`` int32 (E, 2) result vertex pairs, smaller first, to mark sharp: edges whose faces turn by
  at least ``shading.HARD_EDGE_ANGLE``, edges lying along an edge the source marks sharp, and the caller's
  own (the remesh's ``sharp_edges``).

``transfer_results`` does it for every level and names the arrays as the engine's result file does
(``lod{i}_...``, plus ``group_names`` and ``attributes``, the layout version Blender's side checks).
``python -m engines.transfer_cli`` does it for meshes the engine did not make (a cloud service's). The
source triangles are the snapshot's own (polygons fanned as ``MeshArrays.triangles`` does), so vertex and
polygon indices are the snapshot's. Imports numpy and the engine's own modules only; never touches bpy and
runs in the engine child process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

import numpy as np

from .errors import EngineCancelled, EngineInputError
from .features import edges_of_two_faces
from .features import face_normals as triangle_face_normals
from .forked import InCopy
from .meshdata import MeshArrays
from .meshgraph import face_edges, unique_edges
from .project import TriangleIndex
from .shading import HARD_EDGE_ANGLE

log = logging.getLogger(__name__)

# Weights below this carry no visible deformation; dropping them keeps the vertex groups as sparse as the
# source's (barycentric blending otherwise spreads every weight one triangle further).
MIN_WEIGHT = 1e-3
# A result edge lies along a source sharp edge when both its ends and its midpoint are within this share of
# its length from one: a row of vertices beside a rim is a whole edge length away, an edge crossing the rim
# has at least one end half a length away.
ALONG_SHARE = 0.25
# Result vertices per weight batch: each spreads to ~3 corners x ~4 groups, so memory stays ~100 MB.
WEIGHT_BATCH = 1 << 18
LAYOUT_VERSION = 1
# With this many result faces in all, half the levels are transferred on the second core (forked.py).
SPLIT_FACES = 400_000


@dataclass(frozen=True, eq=False)
class SourceAttributes:
    tri_face: np.ndarray  # int64 (T,) source polygon of each triangle
    face_materials: np.ndarray | None = None  # int32 (F,)
    group_names: np.ndarray | None = None  # str (G,)
    weight_verts: np.ndarray | None = None  # int64 (K,)
    weight_groups: np.ndarray | None = None  # int64 (K,)
    weight_values: np.ndarray | None = None  # float64 (K,)
    sharp_edges: np.ndarray | None = None  # int64 (S, 2)

    @property
    def has_weights(self) -> bool:
        return self.weight_verts is not None and self.weight_verts.size > 0

    @property
    def mixed_materials(self) -> bool:
        fm = self.face_materials
        return fm is not None and fm.size > 0 and int(fm.min()) != int(fm.max())


def load_source_attributes(path: str | os.PathLike[str], triangle_count: int) -> SourceAttributes:
    """The optional attribute arrays of the snapshot file ``path``; rows that do not fit are dropped."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise EngineInputError(f"could not read the mesh file {path}: {exc}") from exc
    if "face_sizes" in arrays and "tris" not in arrays:
        sizes = arrays["face_sizes"].astype(np.int64).ravel()
        tri_face = np.repeat(np.arange(sizes.shape[0], dtype=np.int64), np.maximum(sizes - 2, 0))
        polygons = sizes.shape[0]
    else:
        tri_face = np.arange(triangle_count, dtype=np.int64)
        polygons = triangle_count
    if tri_face.shape[0] != triangle_count:
        raise EngineInputError("the mesh file's faces and triangles disagree: submit the job again")
    face_materials = arrays.get("face_materials")
    if face_materials is not None and face_materials.shape != (polygons,):
        log.warning("ignoring face_materials of shape %s for %d faces", face_materials.shape, polygons)
        face_materials = None
    sharp = arrays.get("sharp_edges")
    found = SourceAttributes(
        tri_face=tri_face,
        face_materials=None if face_materials is None else face_materials.astype(np.int32),
        sharp_edges=None if sharp is None else sharp.astype(np.int64).reshape(-1, 2),
    )
    names = arrays.get("group_names")
    if names is None or names.size == 0:
        return found
    weights = [arrays.get(k) for k in ("weight_verts", "weight_groups", "weight_values")]
    if any(w is None for w in weights) or len({w.size for w in weights}) != 1:
        log.warning("ignoring vertex weights of mismatched lengths")
        return replace(found, group_names=names.astype(str))
    wv, wg = (w.astype(np.int64).ravel() for w in weights[:2])
    ww = weights[2].astype(np.float64).ravel()
    vert_count = int(arrays["verts"].shape[0]) if "verts" in arrays else 0
    ok = (wv >= 0) & (wv < vert_count) & (wg >= 0) & (wg < names.shape[0]) & np.isfinite(ww) & (ww > 0)
    return replace(
        found, group_names=names.astype(str), weight_verts=wv[ok], weight_groups=wg[ok], weight_values=ww[ok]
    )


class SourceSurface:
    """The source's triangles, indexed (on first use) for closest-point queries answering with barycentric
    coordinates."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray) -> None:
        self.verts = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
        self.tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
        self._index: TriangleIndex | None = None

    def index(self) -> TriangleIndex:
        """The closest-point index over the triangles, built on the first call."""
        if self._index is None:
            self._index = TriangleIndex(self.verts, self.tris)
        return self._index

    def locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest source triangle (index into ``tris``, (Q,)) and barycentric weights (Q, 3) of each
        point. A zero-area triangle found nearest answers with its first corner (``barycentric``)."""
        closest, _dist, tri = self.index().query(points)
        corners = self.verts[self.tris[tri]]
        return tri, barycentric(closest, corners[:, 0], corners[:, 1], corners[:, 2])


def barycentric(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Weights (Q, 3) of a, b, c that give each p (points on the triangles); clipped to [0, 1], summing
    to 1."""
    v0, v1, v2 = b - a, c - a, p - a
    d00 = np.einsum("ij,ij->i", v0, v0)
    d01 = np.einsum("ij,ij->i", v0, v1)
    d11 = np.einsum("ij,ij->i", v1, v1)
    d20 = np.einsum("ij,ij->i", v2, v0)
    d21 = np.einsum("ij,ij->i", v2, v1)
    den = d00 * d11 - d01 * d01
    flat = ~(den > 1e-30 * (d00 * d11))  # zero area (or a sliver float64 cannot resolve)
    den = np.where(flat, 1.0, den)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    out = np.clip(np.stack([1.0 - v - w, v, w], axis=1), 0.0, 1.0)
    out[flat] = (1.0, 0.0, 0.0)  # no area to interpolate over: its first corner speaks for it
    return out / out.sum(axis=1, keepdims=True)


def face_centroids(mesh: MeshArrays) -> np.ndarray:
    """Mean of each face's corners, float64 (F, 3)."""
    corners = mesh.verts[mesh.corner_verts].astype(np.float64)
    return np.add.reduceat(corners, mesh.face_starts, axis=0) / mesh.face_sizes[:, None]


def face_normals(mesh: MeshArrays) -> np.ndarray:
    """Unit normal of each polygon by Newell's method (exact for planar faces, robust for warped quads);
    zero for faces without area. float64 (F, 3)."""
    if mesh.face_count and mesh.tri_count == mesh.face_count:
        # Newell's sum for a triangle is its edge cross product; this skips the centroid pass.
        return triangle_face_normals(mesh.verts, mesh.corner_verts.reshape(-1, 3))
    starts = mesh.face_starts
    nxt = np.arange(mesh.corner_verts.shape[0], dtype=np.int64) + 1
    nxt[starts + mesh.face_sizes - 1] = starts
    p = mesh.verts[mesh.corner_verts].astype(np.float64)
    p -= np.repeat(face_centroids(mesh), mesh.face_sizes, axis=0)  # keeps far-from-origin faces exact
    n = np.add.reduceat(np.cross(p, p[nxt]), starts, axis=0)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0)


def hard_edges(mesh: MeshArrays, angle_deg: float = HARD_EDGE_ANGLE) -> np.ndarray:
    """Edges of exactly two faces whose normals differ by at least ``angle_deg``; int64 (E, 2)."""
    if mesh.face_count == 0 or angle_deg <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    a, b = face_edges(mesh)
    n = max(mesh.vert_count, 1)
    face_of_corner = np.repeat(np.arange(mesh.face_count, dtype=np.int64), mesh.face_sizes)
    keys, f1, f2 = edges_of_two_faces(np.minimum(a, b) * n + np.maximum(a, b), face_of_corner)
    normals = face_normals(mesh)
    n1, n2 = normals[f1], normals[f2]
    cos = np.einsum("ij,ij->i", n1, n2)
    flat = ~(n1.any(axis=1) & n2.any(axis=1))  # a zero-area face decides nothing
    sharp = keys[(cos <= np.cos(np.radians(angle_deg))) & ~flat]
    return np.stack([sharp // n, sharp % n], axis=1)


def edges_along(mesh: MeshArrays, source_verts: np.ndarray, source_edges: np.ndarray | None) -> np.ndarray:
    """Result edges lying along the source edges ``source_edges`` (pairs of ``source_verts`` indices)."""
    if source_edges is None or len(source_edges) == 0 or mesh.face_count == 0:
        return np.zeros((0, 2), dtype=np.int64)
    seg = np.asarray(source_edges, dtype=np.int64).reshape(-1, 2)
    seg = seg[((seg >= 0) & (seg < len(source_verts))).all(axis=1) & (seg[:, 0] != seg[:, 1])]
    if seg.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.int64)
    # A triangle (a, b, b) has no area: its closest point is the closest point of the segment ab.
    segments = TriangleIndex(source_verts, np.stack([seg[:, 0], seg[:, 1], seg[:, 1]], axis=1))
    edges, _, _ = unique_edges(mesh)
    a = mesh.verts[edges[:, 0]].astype(np.float64)
    b = mesh.verts[edges[:, 1]].astype(np.float64)
    tolerance = ALONG_SHARE * np.linalg.norm(b - a, axis=1)
    points = np.concatenate([a, b, (a + b) / 2.0])
    dist = segments.query(points, within=np.tile(tolerance, 3))[1].reshape(3, -1).max(axis=0)
    return edges[dist <= tolerance]


def union_edges(vert_count: int, *groups: np.ndarray) -> np.ndarray:
    """All pairs of ``groups`` once, smaller index first, sorted; int32 (E, 2)."""
    n = max(int(vert_count), 1)
    pairs = np.concatenate(
        [np.asarray(g, dtype=np.int64).reshape(-1, 2) for g in groups] or [np.zeros((0, 2))]
    )
    pairs = pairs.astype(np.int64)
    keys = np.unique(np.minimum(pairs[:, 0], pairs[:, 1]) * n + np.maximum(pairs[:, 0], pairs[:, 1]))
    return np.stack([keys // n, keys % n], axis=1).astype(np.int32)


def interpolate_weights(
    attrs: SourceAttributes, corners: np.ndarray, bary: np.ndarray, first_vertex: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse weights at points whose nearest source triangle has vertices ``corners`` (Q, 3) and whose
    barycentric coordinates are ``bary`` (Q, 3); point q is vertex ``first_vertex + q`` of the output."""
    group_count = max(int(attrs.group_names.shape[0]), 1)
    order = np.argsort(attrs.weight_verts, kind="stable")
    w_vert, w_group, w_value = (
        x[order] for x in (attrs.weight_verts, attrs.weight_groups, attrs.weight_values)
    )
    vert_count = int(w_vert.max()) + 1
    count = np.bincount(w_vert, minlength=vert_count)
    start = np.cumsum(count) - count
    c = corners.reshape(-1)
    inside = c < vert_count
    n = np.where(inside, count[np.minimum(c, vert_count - 1)], 0)
    total = int(n.sum())
    point = np.repeat(np.repeat(np.arange(corners.shape[0], dtype=np.int64), 3), n)
    share = np.repeat(bary.reshape(-1), n)
    entry = np.repeat(start[np.minimum(c, vert_count - 1)] - (np.cumsum(n) - n), n) + np.arange(total)
    keys = point * group_count + w_group[entry]
    unique, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=share * w_value[entry], minlength=unique.shape[0])
    keep = sums >= MIN_WEIGHT
    unique, sums = unique[keep], sums[keep]
    return (
        (unique // group_count + first_vertex).astype(np.int32),
        (unique % group_count).astype(np.int32),
        np.minimum(sums, 1.0).astype(np.float32),
    )


def transfer_level(
    surface: SourceSurface | None,
    attrs: SourceAttributes,
    mesh: MeshArrays,
    extra_sharp: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The attribute arrays of one result level; see the module docstring. ``surface`` may be None when
    the source has neither mixed materials nor weights."""
    out: dict[str, np.ndarray] = {}
    fm = attrs.face_materials
    if fm is not None and fm.size and not attrs.mixed_materials:
        out["face_materials"] = np.full(mesh.face_count, int(fm[0]), dtype=np.int32)
    elif attrs.mixed_materials and surface is not None:
        tri, _ = surface.locate(face_centroids(mesh))
        out["face_materials"] = fm[attrs.tri_face[tri]].astype(np.int32)
    if attrs.has_weights and surface is not None:
        parts = []
        for lo in range(0, mesh.vert_count, WEIGHT_BATCH):
            tri, bary = surface.locate(mesh.verts[lo : lo + WEIGHT_BATCH])
            parts.append(interpolate_weights(attrs, surface.tris[tri], bary, lo))
        for k, name in enumerate(("weight_verts", "weight_groups", "weight_values")):
            out[name] = np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, np.int32)
    along = (
        edges_along(mesh, surface.verts, attrs.sharp_edges)
        if surface is not None
        else np.zeros((0, 2), dtype=np.int64)
    )
    out["hard_edges"] = union_edges(
        mesh.vert_count,
        hard_edges(mesh),
        along,
        np.zeros((0, 2), dtype=np.int64) if extra_sharp is None else extra_sharp,
    )
    return out


def transfer_results(
    source_verts: np.ndarray,
    source_tris: np.ndarray,
    attrs: SourceAttributes,
    levels: Sequence[tuple[MeshArrays, np.ndarray | None]],
    *,
    cancelled: Callable[[], bool] | None = None,
    first_lod: int = 0,
) -> dict[str, np.ndarray]:
    """``transfer_level`` for each (mesh, its own sharp edges) of ``levels`` (LOD ``first_lod`` first),
    keyed as the engine's result file names them. With ``SPLIT_FACES`` faces or more in all, the later
    levels are done in a forked copy on the second core (forked.py) meanwhile."""
    surface = SourceSurface(source_verts, source_tris)  # indexed only if a level needs it
    if attrs.mixed_materials or attrs.has_weights:
        surface.index()  # built once here, so that a copy shares it
    arrays: dict[str, np.ndarray] = {"attributes": np.asarray(LAYOUT_VERSION, dtype=np.int64)}
    if attrs.group_names is not None:
        arrays["group_names"] = attrs.group_names
    faces = np.cumsum([mesh.face_count for mesh, _ in levels])
    cut = len(levels)
    if len(levels) >= 2 and faces[-1] >= SPLIT_FACES:
        # The first ``cut`` levels here, the rest in the copy: the split nearest to half the faces each.
        cut = 1 + int(np.argmin(np.maximum(faces[:-1], faces[-1] - faces[:-1])))
    later = levels[cut:]
    work = (
        InCopy(lambda: [transfer_level(surface, attrs, m, x) for m, x in later], "transfer")
        if later
        else None
    )
    with work or nullcontext():
        done = []
        for mesh, extra in levels[:cut]:
            if cancelled is not None and cancelled():
                raise EngineCancelled("the job was cancelled")
            done.append(transfer_level(surface, attrs, mesh, extra))
        done += work.result() if work is not None else []
    for lod, level_arrays in enumerate(done, start=first_lod):
        for name, value in level_arrays.items():
            arrays[f"lod{lod}_{name}"] = value
    return arrays
