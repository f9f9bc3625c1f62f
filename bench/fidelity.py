# SPDX-License-Identifier: GPL-3.0-or-later
"""Geometric fidelity of a mesh against its source: symmetric Hausdorff and mean surface distance.

Both surfaces are sampled with area-weighted uniform points (fixed seed, so every run and both methods see
the same source samples); each sample's unsigned distance to the other surface comes from the product's own
closest-point index (``engines.project.TriangleIndex``, passed in as ``index_cls``). Reported:

- ``hausdorff_pct``: max over both directions of the largest sample distance,
- ``mean_pct``: mean of the two directions' mean sample distances,

both as a percentage of the source's bounding-box diagonal. Sampling makes the Hausdorff figure a lower
bound of the true one; the same sample counts are used for every method compared, so ratios are fair.
Pure numpy: no bpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 20240601


def triangulate(face_sizes: np.ndarray, corner_verts: np.ndarray) -> np.ndarray:
    """Fan-triangulate Blender's loop layout into int64 (T, 3)."""
    sizes = np.asarray(face_sizes, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    counts = np.maximum(sizes - 2, 0)
    owner = np.repeat(np.arange(sizes.shape[0]), counts)
    k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    base = starts[owner]
    corners = np.stack([base, base + k + 1, base + k + 2], axis=1)
    return np.asarray(corner_verts, dtype=np.int64)[corners]


def open_edges(face_sizes: np.ndarray, corner_verts: np.ndarray) -> tuple[int, int]:
    """(boundary edges: used by one face, non-manifold edges: used by three or more) of a polygon mesh.

    On a closed source, boundary edges in a result are holes the remesh made.
    """
    sizes = np.asarray(face_sizes, dtype=np.int64)
    corners = np.asarray(corner_verts, dtype=np.int64)
    starts = np.repeat(np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    local = np.arange(corners.shape[0]) - starts
    following = starts + (local + 1) % np.repeat(sizes, sizes)
    edges = np.sort(np.stack([corners, corners[following]], axis=1), axis=1)
    _, uses = np.unique(edges, axis=0, return_counts=True)
    return int((uses == 1).sum()), int((uses > 2).sum())


def sample_surface(verts: np.ndarray, tris: np.ndarray, count: int, seed: int = SEED) -> np.ndarray:
    """``count`` points spread uniformly by area over the triangles (float64 (count, 3))."""
    v = np.asarray(verts, dtype=np.float64)
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    areas = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    cdf = np.cumsum(areas)
    rng = np.random.default_rng(seed)
    # Inverse-CDF sampling is exact for any area distribution and cheap for a million triangles.
    picks = np.minimum(np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right"), len(cdf) - 1)
    r1 = np.sqrt(rng.random(count))
    r2 = rng.random(count)
    # The square root on r1 is what makes the barycentric samples uniform over each triangle.
    wa, wb, wc = 1.0 - r1, r1 * (1.0 - r2), r1 * r2
    return a[picks] * wa[:, None] + b[picks] * wb[:, None] + c[picks] * wc[:, None]


@dataclass(frozen=True)
class Distances:
    hausdorff_pct: float
    mean_pct: float
    forward_max_pct: float  # source samples -> candidate surface
    backward_max_pct: float  # candidate samples -> source surface


class SourceSurface:
    """A source mesh prepared once (samples, closest-point index, diagonal), compared to many candidates."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, index_cls, samples: int) -> None:
        self.verts = np.asarray(verts, dtype=np.float64)
        self.tris = np.asarray(tris, dtype=np.int64)
        self.samples = samples
        self.diagonal = float(np.linalg.norm(self.verts.max(axis=0) - self.verts.min(axis=0)))
        self.points = sample_surface(self.verts, self.tris, samples)
        self.index_cls = index_cls
        self.index = index_cls(self.verts, self.tris)

    def compare(self, verts: np.ndarray, face_sizes: np.ndarray, corner_verts: np.ndarray) -> Distances:
        cand_v = np.asarray(verts, dtype=np.float64)
        cand_t = triangulate(face_sizes, corner_verts)
        forward = self.index_cls(cand_v, cand_t).query(self.points)[1]
        backward = self.index.query(sample_surface(cand_v, cand_t, self.samples, seed=SEED + 1))[1]
        scale = 100.0 / self.diagonal
        fmax, bmax = float(forward.max()) * scale, float(backward.max()) * scale
        return Distances(
            hausdorff_pct=max(fmax, bmax),
            mean_pct=0.5 * (float(forward.mean()) + float(backward.mean())) * scale,
            forward_max_pct=fmax,
            backward_max_pct=bmax,
        )
