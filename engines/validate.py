# SPDX-License-Identifier: GPL-3.0-or-later
"""Input checks and silent clean-up of the triangle soup handed to the engine.

Contract: ``clean_input(verts, tris)`` takes vertex coordinates (N, 3) in object units and triangle indices
(M, 3); it raises EngineInputError with a one-line, actionable message for meshes no engine can use
(empty, loose vertices only, NaN/inf coordinates, zero size, only degenerate faces) and otherwise returns
a triangle ``MeshArrays`` with degenerate triangles and unreferenced vertices dropped. Non-manifold input
is passed through unchanged (Instant Meshes and the decimator tolerate it). ``join_split_vertices(mesh,
vertex_map)`` joins the vertices a mesh splits at one place (UV seams, hard edges, a triangle soup) where
that closes borders, and composes the input's vertex map with that. Imports numpy and the
engine's own modules only; never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

import logging

import numpy as np

from .errors import EngineInputError
from .meshdata import MeshArrays
from .meshgraph import seam_joins

log = logging.getLogger(__name__)

# Triangles smaller than this fraction of the squared bounding-box diagonal are treated as zero area;
# far below anything float32 coordinates can resolve on a real surface.
AREA_EPSILON = 1e-14


def clean_input(verts: np.ndarray, tris: np.ndarray) -> MeshArrays:
    """Validate and tidy (verts, tris); see the module docstring for what is rejected and what is dropped."""
    return clean_input_mapped(verts, tris)[0]


def clean_input_mapped(verts: np.ndarray, tris: np.ndarray) -> tuple[MeshArrays, np.ndarray]:
    """``clean_input`` plus each input vertex's index in the cleaned mesh (int64 (N,), -1 if dropped)."""
    v = np.asarray(verts)
    t = np.asarray(tris)
    if v.size == 0:
        raise EngineInputError("the mesh is empty: add geometry or pick another object")
    if v.ndim != 2 or v.shape[1] != 3:
        raise EngineInputError(f"vertex array must be (N, 3), got {v.shape}: pass one xyz row per vertex")
    if t.size == 0:
        raise EngineInputError(
            f"the mesh has no faces, only {v.shape[0]} loose vertices: add faces or pick another object"
        )
    if t.ndim != 2 or t.shape[1] != 3 or not np.issubdtype(t.dtype, np.integer):
        raise EngineInputError(
            f"triangle array must be integer (M, 3), got {t.dtype} {t.shape}: triangulate first"
        )
    if int(t.min()) < 0 or int(t.max()) >= v.shape[0]:
        raise EngineInputError(
            "a face refers to a vertex that does not exist: the mesh data is corrupt, rebuild it"
        )
    # Blender hands over float32/int32; staying in those types halves the memory traffic on 1M triangles.
    t = t.astype(np.int32, copy=False)
    v32 = v.astype(np.float32, copy=False)
    used = np.zeros(v.shape[0], dtype=bool)
    used[t] = True
    bad = ~np.isfinite(v32).all(axis=1) & used
    if bad.any():
        raise EngineInputError(
            f"{int(bad.sum())} vertices have NaN or infinite coordinates: fix or delete them and try again"
        )
    lo = v32[used].min(axis=0).astype(np.float64)
    hi = v32[used].max(axis=0).astype(np.float64)
    diag2 = float(np.dot(hi - lo, hi - lo))
    if not diag2 > 0.0:
        raise EngineInputError(
            "the mesh has zero size (all vertices coincide): scale it up or pick another object"
        )
    a = v32[t[:, 0]]
    cross = np.cross(v32[t[:, 1]] - a, v32[t[:, 2]] - a)
    del a
    area2 = np.einsum("ij,ij->i", cross, cross)
    del cross
    keep = (
        (t[:, 0] != t[:, 1])
        & (t[:, 1] != t[:, 2])
        & (t[:, 2] != t[:, 0])
        & (area2 > (AREA_EPSILON * diag2) ** 2)
    )
    kept = int(keep.sum())
    if kept == 0:
        raise EngineInputError(
            f"all {t.shape[0]} faces are degenerate (zero area): the mesh has no surface, "
            "fix it or pick another object"
        )
    if kept < t.shape[0]:
        log.info("dropped %d degenerate triangles of %d", t.shape[0] - kept, t.shape[0])
        t = t[keep]
    mesh = MeshArrays.from_triangles(v32, t).compact()
    kept_verts = np.zeros(v.shape[0], dtype=bool)
    kept_verts[t] = True
    remap = np.where(kept_verts, np.cumsum(kept_verts) - 1, -1)
    if mesh.vert_count < v.shape[0]:
        log.info("dropped %d unreferenced vertices", v.shape[0] - mesh.vert_count)
    return mesh, remap


def join_split_vertices(source: MeshArrays, vertex_map: np.ndarray) -> tuple[MeshArrays, np.ndarray]:
    """The source with vertices split at the same place joined (``meshgraph.seam_joins``), and the input's
    vertex map composed with that.

    Both engines read the surface, not how its vertices were split: a flat-shaded or STL mesh is loose
    triangles to them. The cow as a triangle soup came back from Instant Meshes as 43 pieces and 262 of
    1,500 faces; the bunny as one, decimated to 5,000 triangles, in 1,749 pieces 10% of its size away."""
    joins = seam_joins(source)
    if joins is None:
        return source, vertex_map
    welded, joined = joins
    tris = welded.corner_verts.reshape(-1, 3)
    # Two corners of a triangle at one place make a sliver of no area that the cleaning let through.
    tris = tris[(tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 2] != tris[:, 0])]
    used = np.zeros(welded.vert_count, dtype=bool)
    used[tris] = True
    number = np.where(used, np.cumsum(used) - 1, -1)
    composed = np.where(vertex_map >= 0, number[joined[np.maximum(vertex_map, 0)]], -1)
    log.debug("joined %d vertices split at the same place into %d", source.vert_count, int(used.sum()))
    return MeshArrays.from_triangles(welded.verts[used], number[tris]), composed
