# SPDX-License-Identifier: GPL-3.0-or-later
"""Figures of a UV layout: utilization, islands, texel-density spread, overlaps, seams on hard edges.

Contract: every function takes a ``MeshArrays`` and ``corner_uvs`` float (C, 2), one UV per face corner in
Blender's loop layout (the layout ``uv.unwrap`` returns and Blender's ``uv_layers[...].uv`` holds), and
returns plain numbers or numpy arrays; nothing is modified.

- ``utilization``: summed UV area of the faces, clipped to nothing: the share of the unit square they
  cover when no two overlap (``overlap_fraction`` says whether they do).
- ``islands``: UV-connected faces: two faces are one island when they share an edge whose two ends have
  the same UV on both sides (within ``SAME_UV``).
- ``density_spread``: coefficient of variation (std / mean) across islands of UV area per surface area,
  each island weighted by its surface area; 0 means every island gets the same texels per square unit of
  surface.
- ``overlap_fraction``: texels of a ``resolution`` x ``resolution`` grid whose centres lie strictly inside
  two or more UV triangles, over the texels covered at all. Overlaps thinner than a texel are below what a
  bake of that size can see, so they are not counted; faces that only touch along an edge never are.
- ``seam_fraction``: of the given vertex-pair edges (hard edges), the share that are UV seams.

``layout_stats`` gathers them as the JSON-able dict the engine reports. Imports numpy and the engine's
own modules only; never touches bpy (the Blender tests and the bench use it on meshes read from Blender).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import components, face_edges

# Two UVs closer than this (in units of the whole square) are the same point: ~1/500 of a texel at 8K.
SAME_UV = 1e-6
# Default texel grid of the overlap check: half the default bake size (its cost grows with the texels).
OVERLAP_RESOLUTION = 1024
# Texel samples handled at a time by the overlap check (bounds its memory to tens of MB).
OVERLAP_CHUNK = 4_000_000


def corner_triangles(mesh: MeshArrays, quad_split: str = "shorter") -> np.ndarray:
    """Triangles as corner indices (T, 3), split exactly as ``MeshArrays.triangles(quad_split)`` splits
    the faces."""
    count = mesh.corner_verts.shape[0]
    corners = MeshArrays(mesh.verts[mesh.corner_verts], mesh.face_sizes, np.arange(count))
    return corners.triangles(quad_split).astype(np.int64)


def triangle_face(mesh: MeshArrays) -> np.ndarray:
    """Face index of each triangle of ``corner_triangles`` (fans keep the face order)."""
    per_face = mesh.face_sizes.astype(np.int64) - 2
    return np.repeat(np.arange(mesh.face_count, dtype=np.int64), per_face)


def _uv_areas(uvs: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = (uvs[tris[:, k]].astype(np.float64) for k in range(3))
    return 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def surface_areas(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = (points[tris[:, k]].astype(np.float64) for k in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def utilization(mesh: MeshArrays, corner_uvs: np.ndarray) -> float:
    return float(_uv_areas(np.asarray(corner_uvs), corner_triangles(mesh)).sum())


@dataclass(frozen=True)
class HalfEdges:
    """A polygon mesh's half-edges: corner k runs from vertex ``a[k]`` to ``b[k]`` (its next corner
    ``nxt[k]``) in face ``face[k]``; ``first``/``second`` pair the half-edges of one undirected edge (keyed
    by ``key``), in sorted order, so an edge with three faces gives two pairs."""

    a: np.ndarray
    b: np.ndarray
    nxt: np.ndarray
    face: np.ndarray
    key: np.ndarray
    first: np.ndarray
    second: np.ndarray


def half_edges(mesh: MeshArrays) -> HalfEdges:
    a, b = face_edges(mesh)
    starts, sizes = mesh.face_starts, mesh.face_sizes.astype(np.int64)
    nxt = np.arange(a.shape[0], dtype=np.int64) + 1
    nxt[starts + sizes - 1] = starts
    face = np.repeat(np.arange(mesh.face_count, dtype=np.int64), sizes)
    n = max(mesh.vert_count, 1)
    key = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.argsort(key, kind="stable")
    same = key[order[1:]] == key[order[:-1]]
    return HalfEdges(a, b, nxt, face, key, order[:-1][same], order[1:][same])


def island_labels(mesh: MeshArrays, corner_uvs: np.ndarray) -> np.ndarray:
    """Island of each face, int64 (F,), labels 0..islands-1."""
    if mesh.face_count == 0:
        return np.zeros(0, dtype=np.int64)
    uvs = np.asarray(corner_uvs, dtype=np.float64)
    h = half_edges(mesh)
    first, second, nxt, face = h.first, h.second, h.nxt, h.face
    # Opposite half-edges run the other way: corner k of one meets the next corner of the other.
    forward = h.a[first] == h.a[second]
    lo_first = uvs[first]
    hi_first = uvs[nxt[first]]
    lo_second = np.where(forward[:, None], uvs[second], uvs[nxt[second]])
    hi_second = np.where(forward[:, None], uvs[nxt[second]], uvs[second])
    joined = (np.abs(lo_first - lo_second).max(axis=1) <= SAME_UV) & (
        np.abs(hi_first - hi_second).max(axis=1) <= SAME_UV
    )
    pairs = np.stack([face[first[joined]], face[second[joined]]], axis=1)
    labels = components(pairs, mesh.face_count)
    return np.unique(labels, return_inverse=True)[1].ravel()


def density_spread(mesh: MeshArrays, corner_uvs: np.ndarray, labels: np.ndarray | None = None) -> float:
    """Surface-weighted coefficient of variation of UV area / surface area across islands (0 for one)."""
    tris = corner_triangles(mesh)
    if tris.shape[0] == 0:
        return 0.0
    labels = island_labels(mesh, corner_uvs) if labels is None else labels
    island = labels[triangle_face(mesh)]
    uv_area = np.bincount(island, _uv_areas(np.asarray(corner_uvs), tris))
    surface = np.bincount(island, surface_areas(mesh.verts[mesh.corner_verts], tris))
    keep = surface > 0
    if keep.sum() < 2:
        return 0.0
    density, weight = uv_area[keep] / surface[keep], surface[keep]
    # Weighted by surface: a sliver island of almost no area would otherwise outweigh the whole mesh.
    mean = float(np.average(density, weights=weight))
    spread = float(np.sqrt(np.average((density - mean) ** 2, weights=weight)))
    return spread / mean if mean > 0 else 0.0


def overlap_fraction(mesh: MeshArrays, corner_uvs: np.ndarray, resolution: int = OVERLAP_RESOLUTION) -> float:
    """Share of covered texels claimed by two or more triangles; see the module docstring."""
    tris = corner_triangles(mesh)
    uvs = np.asarray(corner_uvs, dtype=np.float64) * resolution - 0.5  # texel centres at whole numbers
    a, b, c = (uvs[tris[:, k]] for k in range(3))
    lo = np.floor(np.minimum(np.minimum(a, b), c)).astype(np.int64) + 1
    hi = np.floor(np.maximum(np.maximum(a, b), c)).astype(np.int64)
    lo = np.clip(lo, 0, resolution - 1)
    hi = np.clip(hi, -1, resolution - 1)
    width = np.maximum(hi[:, 0] - lo[:, 0] + 1, 0)
    samples = width * np.maximum(hi[:, 1] - lo[:, 1] + 1, 0)
    hits = np.zeros(resolution * resolution, dtype=np.int32)
    cumulative = np.cumsum(samples)
    start = 0
    while start < tris.shape[0]:
        base = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, base + OVERLAP_CHUNK, side="right"))
        stop = max(stop, start + 1)
        _count_hits(hits, a, b, c, lo, width, samples, start, stop, resolution)
        start = stop
    covered = int((hits > 0).sum())
    return float((hits > 1).sum() / covered) if covered else 0.0


def _count_hits(hits, a, b, c, lo, width, samples, start, stop, resolution) -> None:
    counts = samples[start:stop]
    total = int(counts.sum())
    if total == 0:
        return
    tri = np.repeat(np.arange(start, stop), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    w = width[tri]
    x = lo[tri, 0] + offset % w
    y = lo[tri, 1] + offset // w
    pa, pb, pc = a[tri], b[tri], c[tri]

    def edge(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return (q[:, 0] - p[:, 0]) * (y - p[:, 1]) - (q[:, 1] - p[:, 1]) * (x - p[:, 0])

    e0, e1, e2 = edge(pa, pb), edge(pb, pc), edge(pc, pa)
    # Strictly inside, either winding: a centre on a shared edge belongs to neither face.
    eps = 1e-9
    inside = ((e0 > eps) & (e1 > eps) & (e2 > eps)) | ((e0 < -eps) & (e1 < -eps) & (e2 < -eps))
    np.add.at(hits, (y[inside] * resolution + x[inside]), 1)


def seam_fraction(mesh: MeshArrays, corner_uvs: np.ndarray, edges: np.ndarray | None) -> float | None:
    """Share of ``edges`` (vertex pairs) between two faces whose UVs differ across them; None if none."""
    if edges is None or len(edges) == 0:
        return None
    labels_uv = np.asarray(corner_uvs, dtype=np.float64)
    a, b = face_edges(mesh)
    n = max(mesh.vert_count, 1)
    key = np.minimum(a, b) * n + np.maximum(a, b)
    pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    wanted = np.unique(pairs.min(axis=1) * n + pairs.max(axis=1))
    # UV of each corner's own vertex and its edge's far end, as seen by that face.
    count = a.shape[0]
    starts, sizes = mesh.face_starts, mesh.face_sizes.astype(np.int64)
    nxt = np.arange(count, dtype=np.int64) + 1
    nxt[starts + sizes - 1] = starts
    mine = np.isin(key, wanted)
    k = np.flatnonzero(mine)
    order = np.argsort(key[k], kind="stable")
    k = k[order]
    same = key[k[1:]] == key[k[:-1]]
    first, second = k[:-1][same], k[1:][same]
    if first.size == 0:
        return None
    forward = a[first] == a[second]
    lo2 = np.where(forward[:, None], labels_uv[second], labels_uv[nxt[second]])
    hi2 = np.where(forward[:, None], labels_uv[nxt[second]], labels_uv[second])
    apart = (np.abs(labels_uv[first] - lo2).max(axis=1) > SAME_UV) | (
        np.abs(labels_uv[nxt[first]] - hi2).max(axis=1) > SAME_UV
    )
    return float(apart.mean())


def layout_stats(
    mesh: MeshArrays,
    corner_uvs: np.ndarray,
    hard_edges: np.ndarray | None = None,
    resolution: int = OVERLAP_RESOLUTION,
) -> dict[str, Any]:
    """The figures above as the JSON-able dict of the engine's report."""
    labels = island_labels(mesh, corner_uvs)
    inside = np.asarray(corner_uvs)
    stats: dict[str, Any] = {
        "utilization": round(utilization(mesh, corner_uvs), 4),
        "islands": int(labels.max()) + 1 if labels.size else 0,
        "density_spread": round(density_spread(mesh, corner_uvs, labels), 4),
        "overlap": round(overlap_fraction(mesh, corner_uvs, resolution), 6),
        "in_square": bool(inside.size == 0 or ((inside >= -SAME_UV) & (inside <= 1 + SAME_UV)).all()),
    }
    seams = seam_fraction(mesh, corner_uvs, hard_edges)
    if seams is not None:
        stats["hard_edges_on_seams"] = round(seams, 4)
    return stats
