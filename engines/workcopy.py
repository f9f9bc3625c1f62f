# SPDX-License-Identifier: GPL-3.0-or-later
"""The working copy Instant Meshes remeshes: ``working_copy``.

Contract: ``working_copy(unit, tris, target, quads, report, thin_radius)`` takes a source normalised to a
unit bounding-box diagonal (float (N, 3), int (T, 3)) and a face budget and returns ``(verts, tris,
moved)``: the source with its thin parts inflated (``thickness``), itself or, when it is much denser than
the output needs, a copy clustered to cells a few times finer than the output edge or quadric-decimated,
and how many source vertices the inflation moved. ``surface_area``, ``edge_length`` and ``output_edge`` are
the sizes it plans with (Instant Meshes' own edge for a vertex or face budget). Imports numpy and the
engine's own modules; runs in the engine child process.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .cluster import cluster_vertices
from .decimate import simplify_triangles
from .instant import FACES_PER_VERTEX
from .meshdata import MeshArrays, triangle_areas
from .meshgraph import unique_edges
from .progress import ProgressFn
from .quality import topology
from .thickness import inflate_thin_parts

log = logging.getLogger(__name__)

# A copy smaller than a tetrahedron is no surface to remesh.
MIN_TRIANGLES = 4
# Clustering cell = output edge / this. Finer keeps more detail for the field, coarser is faster. Measured
# against QuadriFlow at 5K quads (bunny, 82K sphere, raw face scan): at 3 every mesh stayed at or under
# QuadriFlow's Hausdorff and mean distance and Instant Meshes took a quarter less time than at 4; at 2.5 it
# began to leave holes (seed retries, a Hausdorff 1.1x QuadriFlow's on the sphere).
CLUSTER_DIVISIONS = 3.0
# Cluster only when that shrinks the input at least this much; otherwise it is not worth the detour.
CLUSTER_MIN_GAIN = 1.2
# Above this reduction grid clustering merges dozens of vertices per cell and leaves non-manifold fans that
# Instant Meshes extracts with holes (1.3M-triangle sphere -> 10K quads: Hausdorff 3x QuadriFlow's), so the
# working copy comes from quadric decimation instead, to this share of the clustering budget: there the
# same job met QuadriFlow's Hausdorff (0.10% against 0.12%) in 3.1 s against 5.1 s. Below it clustering
# is the faster of the two at the same fidelity.
DECIMATE_ABOVE_GAIN = 10.0
DECIMATED_SHARE = 0.6
# A clustered copy with more non-manifold edges than this share of its triangles is no longer a surface, and
# the decimated copy is used instead. Cells wider than a thin feature fuse both its sides: the bench's
# chamfered part clustered for 6,000 quads had 4,280 non-manifold edges in 19,846 triangles (22%), and
# Instant Meshes made 20 pieces of it; the decimated copy gave one closed piece, faster. Smooth meshes stay
# well under the limit (bunny 0.02%, 82K sphere 0.2-1%, face scan 1.1%).
CLUSTER_MAX_NONMANIFOLD = 0.05
# A decimated copy left more than this many times its budget stalled on long, thin triangles (a CAD
# tessellation's strips: notices.stall_warning). Instant Meshes then splits every edge longer than half its
# own first (110,166 of them on a strip cylinder, 385,537 faces) on each of its runs, so the clustered copy,
# whose triangles are about a cell wide, is used instead when it is a surface.
STALLED_GAIN = 2.0


def surface_area(verts: np.ndarray, tris: np.ndarray) -> float:
    return float(triangle_areas(verts, tris).sum(dtype=np.float64))


def edge_length(area: float, vertex_count: int, quads: bool) -> float:
    """Instant Meshes' own target edge length for a vertex budget (square or equilateral faces)."""
    if quads:
        return math.sqrt(area / vertex_count)
    return math.sqrt(2.0 * area / (math.sqrt(3.0) * vertex_count))


def output_edge(unit: np.ndarray, tris: np.ndarray, target: int, quads: bool) -> float:
    """Instant Meshes' own edge length for a face budget on this surface."""
    return edge_length(surface_area(unit, tris), max(1, round(target / FACES_PER_VERTEX[quads])), quads)


def _open_edges(verts: np.ndarray, tris: np.ndarray) -> int:
    """Open edges of the surface a triangle mesh shows (vertices at one place joined, as the quality report
    counts them)."""
    return int(topology(MeshArrays.from_triangles(verts, tris))["boundary_edges"])


def working_copy(
    unit: np.ndarray, tris: np.ndarray, target: int, quads: bool, report: ProgressFn, thin_radius: float = 0.0
) -> tuple[np.ndarray, np.ndarray, int]:
    """What Instant Meshes gets: the source with its thin parts inflated to ``thin_radius`` Instant Meshes
    edges (``thickness``; before any clustering, which would fuse them first), itself or, for dense
    sources, a clustered or decimated copy of it; and how many source vertices the inflation moved."""
    area = surface_area(unit, tris)
    edge = output_edge(unit, tris, target, quads)
    unit, moved = inflate_thin_parts(unit, tris, thin_radius * edge)
    cell = edge / CLUSTER_DIVISIONS
    work_v, work_t = unit, tris
    expected = 2.0 * area / (cell * cell)

    def decimated() -> tuple[np.ndarray, np.ndarray]:
        budget = max(MIN_TRIANGLES, round(DECIMATED_SHARE * expected))
        made = simplify_triangles(unit, tris, budget)
        log.debug("decimated %d -> %d triangles for Instant Meshes", tris.shape[0], made[1].shape[0])
        return made

    def clustered() -> tuple[np.ndarray, np.ndarray] | None:
        made = cluster_vertices(unit, tris, cell)
        log.debug("clustered %d -> %d triangles for Instant Meshes", tris.shape[0], made[1].shape[0])
        _, counts, _ = unique_edges(MeshArrays.from_triangles(*made))
        return None if np.count_nonzero(counts > 2) > CLUSTER_MAX_NONMANIFOLD * made[1].shape[0] else made

    if tris.shape[0] > DECIMATE_ABOVE_GAIN * expected:
        report(0.02, "preparing a lighter copy for Instant Meshes")
        work_v, work_t = decimated()
        if work_t.shape[0] > STALLED_GAIN * DECIMATED_SHARE * expected:
            # Strips longer than a cell have no vertex along them to cluster: their copy tears open.
            made = clustered()
            if made is not None and _open_edges(*made) <= _open_edges(unit, tris):
                work_v, work_t = made
    elif tris.shape[0] > CLUSTER_MIN_GAIN * expected:
        report(0.02, "preparing a lighter copy for Instant Meshes")
        work_v, work_t = clustered() or decimated()
    return work_v, work_t, moved
