# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality measures of a remesh against its source: edge flow, topology, distance, hard-edge recall.

Contract: every function takes ``MeshArrays`` (any polygon mesh) and plain numpy arrays and returns numbers
or new arrays; ``quality_report`` returns a plain JSON-able dict (str keys, int/float/None/dict values).
Imports numpy and the engine's own modules only; never touches bpy.

Rules, so the numbers mean the same thing everywhere:
- Irregular share: among *interior* vertices (every edge at the vertex has exactly two faces), the share
  whose valence (distinct edges) is not the regular one: 4 on a mesh of mostly quads, 6 on a mesh of
  mostly triangles (a decimated LOD0, a triangle remesh), where every vertex of valence 4 would otherwise
  count as a pole. Vertices on a boundary or non-manifold edge, and loose vertices, are excluded: a border
  vertex of valence 3 is regular there.
- Corner-angle deviation: |angle - 90 deg| at every corner of every quad (other faces are ignored); the
  report gives its 95th percentile in degrees.
- Pieces: faces sharing a vertex are one piece. Boundary loops: connected groups of boundary edges (edges
  of one face); two loops touching at one vertex count as one. Genus per piece from its Euler
  characteristic, chi = V - E + F, as g = (2 - chi - b) / 2 with b its boundary loops, i.e. an open piece
  counts as the closed surface got by capping each loop with a disc. The report sums genus over pieces.
  With non-manifold edges (three or more faces) genus is not well defined; their count is reported.
- Topology kept (``topology_change``): the source's pieces, its boundary loops but for the cracks the remesh
  closed on purpose, and its genus unless it has non-manifold edges.
- Distances: points sampled on both surfaces (area-weighted, fixed seed, plus every vertex) and their
  closest points on the other surface; Hausdorff is the larger of both directions' maxima, mean the mean
  over all samples of both directions, both as % of the source's bounding-box diagonal.
- Hard-edge recall: points every 0.25% of the diagonal along given source edges; the share that lie within
  0.5% of the diagonal of some result edge.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .forked import InCopy, distances_in_halves
from .meshdata import DRAWN_SPLIT, MeshArrays, triangle_areas
from .meshgraph import components, unique_edges, valences, weld_seams
from .project import TriangleIndex

log = logging.getLogger(__name__)

DISTANCE_SAMPLES = 40_000
# Points measured per direction when a LoD is measured against LOD0: half random surface samples, half
# vertices (all of them when fewer). A budget, not every vertex, keeps the cost flat whatever the mesh size
# (about 20 us per point; every vertex of a 1M-triangle LOD0 would take about a minute for 5 levels).
# Sampling finds a lower bound of the true distance. Measured on bumpy tori, 4 levels down to 0.15:
# 20K-face LOD0: 1.3 s, errors 0.00078 / 0.00122 / 0.00353 / 0.00500 units (40,000 points: 3.1 s, 0.00095 /
# 0.00131 / 0.00358 / 0.00541); 250K-face LOD0: 1.8 s, 0.00007 / 0.00011 / 0.00025 / 0.00050 (40,000
# points: 5.8 s, 0.00010 / 0.00012 / 0.00032 / 0.00051). The first levels, whose worst spot is small, read
# up to 30% low, which moves their switch distance as much closer.
LEVEL_POINTS = 12_000
RECALL_TOLERANCE = 0.005
# From this many result faces a report measures the result's edge flow and topology in a forked copy.
SHAPE_COPY_FACES = 200_000
RECALL_STEP = 0.0025


def diagonal(verts: np.ndarray) -> float:
    v = np.asarray(verts, dtype=np.float64)
    return float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if v.size else 0.0


def interior_vertices(
    mesh: MeshArrays, edge_counts: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Bool (N,): the vertex is used and every edge at it has exactly two faces. ``edge_counts``: the
    mesh's (edges, faces per edge) from ``unique_edges`` when the caller has them already."""
    edges, counts = edge_counts if edge_counts is not None else unique_edges(mesh)[:2]
    used = np.zeros(mesh.vert_count, dtype=bool)
    used[mesh.corner_verts] = True
    bad = np.zeros(mesh.vert_count, dtype=bool)
    bad[edges[counts != 2].ravel()] = True
    return used & ~bad


def irregular_share(mesh: MeshArrays) -> tuple[float, int]:
    """(share of interior vertices whose valence is not the regular one, interior vertex count); see the
    module rules."""
    edges, counts, _ = unique_edges(mesh)
    inside = interior_vertices(mesh, (edges, counts))
    total = int(inside.sum())
    if total == 0:
        return 0.0, 0
    regular = 6 if mesh.tri_count > mesh.quad_count else 4
    val = valences(edges, mesh.vert_count)
    return float(np.count_nonzero(val[inside] != regular)) / total, total


def quad_corner_deviation(mesh: MeshArrays) -> np.ndarray:
    """|corner angle - 90| in degrees at every corner of every quad, float64 (4 * quads,)."""
    quads = np.flatnonzero(mesh.face_sizes == 4)
    if quads.size == 0:
        return np.zeros(0)
    c = mesh.corner_verts[mesh.face_starts[quads, None] + np.arange(4)]
    p = mesh.verts.astype(np.float64)[c]
    prev = np.roll(p, 1, axis=1) - p
    nxt = np.roll(p, -1, axis=1) - p
    cross = np.linalg.norm(np.cross(prev, nxt), axis=2)
    dot = np.einsum("qkj,qkj->qk", prev, nxt)
    return np.abs(np.degrees(np.arctan2(cross, dot)) - 90.0).ravel()


def topology(mesh: MeshArrays) -> dict[str, int]:
    """Pieces, boundary loops, boundary edges, non-manifold edges and genus (summed over pieces), of the
    surface: vertices split at the same place count as one (``meshgraph.weld_seams``)."""
    mesh = weld_seams(mesh)
    edges, counts, _ = unique_edges(mesh)
    if mesh.face_count == 0:
        return {"pieces": 0, "boundary_loops": 0, "boundary_edges": 0, "nonmanifold_edges": 0, "genus": 0}
    # Faces sharing a vertex are one piece: the vertices' components along the unique edges (half the
    # pairs of every face corner's edge), read at each face's first corner.
    _, piece_of_face = np.unique(
        components(edges, mesh.vert_count)[mesh.corner_verts[mesh.face_starts]], return_inverse=True
    )
    piece_of_face = piece_of_face.ravel()
    pieces = int(piece_of_face.max()) + 1
    piece_of_vert = np.full(mesh.vert_count, -1, dtype=np.int64)
    piece_of_vert[mesh.corner_verts] = np.repeat(piece_of_face, mesh.face_sizes)
    boundary = edges[counts == 1]
    loop_label = components(boundary, mesh.vert_count)
    on_boundary = np.unique(boundary.ravel())
    loop_roots = np.unique(loop_label[on_boundary])
    loops_per_piece = np.bincount(piece_of_vert[loop_roots], minlength=pieces)
    v = np.bincount(piece_of_vert[piece_of_vert >= 0], minlength=pieces)
    e = np.bincount(piece_of_vert[edges[:, 0]], minlength=pieces)
    f = np.bincount(piece_of_face, minlength=pieces)
    chi = v - e + f
    genus = (2 - chi - loops_per_piece) // 2
    return {
        "pieces": pieces,
        "boundary_loops": len(loop_roots),
        "boundary_edges": int(boundary.shape[0]),
        "nonmanifold_edges": int(np.count_nonzero(counts > 2)),
        "genus": int(genus.sum()),
    }


def topology_change(result: MeshArrays, source: MeshArrays, cracks_closed: int = 0) -> dict:
    """``Remeshed.info``'s topology figures. ``cracks_closed``: the source's loops left closed on purpose
    (``openings.open_borders``); the result may have that many fewer. A source with non-manifold edges has no
    genus to keep (its Euler characteristic counts fans, not handles)."""
    keys = ("pieces", "boundary_loops", "genus")
    topo, source_topo = topology(result), topology(source)
    loops = source_topo["boundary_loops"]
    change = {
        "topology": {k: topo[k] for k in keys},
        "source_topology": {k: source_topo[k] for k in keys},
        "topology_kept": topo["pieces"] == source_topo["pieces"]
        and loops - cracks_closed <= topo["boundary_loops"] <= loops
        and (topo["genus"] == source_topo["genus"] or source_topo["nonmanifold_edges"] > 0),
    }
    if not change["topology_kept"]:
        log.warning("remesh changed the topology: %s, source %s", change["topology"], source_topo)
    return change


def sample_surface(
    verts: np.ndarray, tris: np.ndarray, count: int, seed: int = 0, vertex_cap: int | None = None
) -> np.ndarray:
    """``count`` area-weighted random points on the triangles plus every vertex the triangles use (a random
    ``vertex_cap`` of them when there are more), float64 (count + N, 3). Loose vertices are not surface: a
    scan's stray points would otherwise count as source no result can reach (pymeshlab's face scan has 667,
    its airplane 1,617)."""
    corners = np.asarray(verts, dtype=np.float64)
    used = np.zeros(corners.shape[0], dtype=bool)
    used[np.asarray(tris).ravel()] = True
    v = corners if used.all() else corners[used]
    if vertex_cap is not None and v.shape[0] > vertex_cap:
        v = v[np.random.default_rng(seed).choice(v.shape[0], vertex_cap, replace=False)]
    areas = triangle_areas(corners, tris).astype(np.float64)
    total = areas.sum()
    if count <= 0 or total <= 0.0:
        return v.copy()
    rng = np.random.default_rng(seed)
    pick = rng.choice(tris.shape[0], size=count, p=areas / total)
    r1, r2 = rng.random(count), rng.random(count)
    flip = r1 + r2 > 1.0
    r1[flip], r2[flip] = 1.0 - r1[flip], 1.0 - r2[flip]
    a, b, c = (corners[tris[pick, k]] for k in range(3))
    return np.vstack([a + (b - a) * r1[:, None] + (c - a) * r2[:, None], v])


def vertex_distances(result: MeshArrays, source_index: TriangleIndex) -> np.ndarray:
    """Distance of each result vertex to the source surface in object units, float32 (N,)."""
    return distances_in_halves(source_index, result.verts).astype(np.float32)


def surface_distance(
    result: MeshArrays,
    source: MeshArrays,
    samples: int = DISTANCE_SAMPLES,
    source_index: TriangleIndex | None = None,
    vertex_distances_known: np.ndarray | None = None,
    vertex_cap: int | None = None,
) -> tuple[float, float]:
    """(symmetric Hausdorff, mean) as % of the source's diagonal; see the module rules.
    ``vertex_distances_known``: the result's per-vertex distances, already measured (they count instead of
    querying the vertices again); ``vertex_cap``: at most that many vertices of each mesh are measured."""
    src_t = source.triangles().astype(np.int64)
    res_t = result.triangles().astype(np.int64)
    diag = diagonal(source.verts) or 1.0
    index = source_index or TriangleIndex(source.verts, src_t)
    if vertex_distances_known is not None:
        points = sample_surface(result.verts, res_t, samples, seed=1, vertex_cap=0)
        forward = np.concatenate([index.query(points)[1], np.asarray(vertex_distances_known, np.float64)])
    else:
        forward = index.query(sample_surface(result.verts, res_t, samples, seed=1, vertex_cap=vertex_cap))[1]
    points = sample_surface(source.verts, src_t, samples, 2, vertex_cap=vertex_cap)
    backward = distances_in_halves(TriangleIndex(result.verts, res_t), points)
    both = np.concatenate([forward, backward])
    return 100.0 * float(both.max()) / diag, 100.0 * float(both.mean()) / diag


def _budget_points(mesh: MeshArrays, tris: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """``budget // 2`` random surface points and up to ``budget - budget // 2`` of the vertices."""
    verts = np.asarray(mesh.verts, dtype=np.float64)
    surface = budget // 2
    points = sample_surface(verts, tris, surface, seed)[:surface]
    keep = budget - surface
    if verts.shape[0] > keep:
        verts = verts[np.random.default_rng(seed).choice(verts.shape[0], keep, replace=False)]
    return np.vstack([points, verts])


class LevelProbe:
    """LOD0 indexed once, and its ``budget`` probe points, to measure levels against (``level_errors``).

    LOD0's quads are measured split as Blender draws them (``DRAWN_SPLIT``: from their first corner, as glTF
    fans are written too, unless the quad folds over that diagonal), as the LoD chain decimates them: on a
    curved LOD0 the two splits can lie further apart than a level's own error (the bunny at 4K quads: 3.2x
    LOD1's), so a level measured against the other split switched in about 3x too early on screen."""

    def __init__(self, lod0: MeshArrays, budget: int = LEVEL_POINTS) -> None:
        tris = lod0.triangles(DRAWN_SPLIT).astype(np.int64)
        self.budget = budget
        self.index = TriangleIndex(lod0.verts, tris)
        self.backward_points = _budget_points(lod0, tris, budget, seed=2)

    def forward(self, level: MeshArrays) -> float:
        """Largest distance from the level's probe points to LOD0."""
        tris = level.triangles().astype(np.int64)
        return float(self.index.query(_budget_points(level, tris, self.budget, seed=1))[1].max())

    def backward(self, level: MeshArrays) -> float:
        """Largest distance from LOD0's probe points to the level."""
        tris = level.triangles().astype(np.int64)
        return float(TriangleIndex(level.verts, tris).query(self.backward_points)[1].max())

    def error(self, level: MeshArrays) -> float:
        return max(self.forward(level), self.backward(level))


def level_errors(lod0: MeshArrays, levels: list[MeshArrays], budget: int = LEVEL_POINTS) -> list[float]:
    """Each level's symmetric Hausdorff distance to ``lod0`` in object units, from ``budget`` points per
    direction (see LEVEL_POINTS)."""
    if not levels:
        return []
    probe = LevelProbe(lod0, budget)
    return [probe.error(level) for level in levels]


def edge_points(verts: np.ndarray, edges: np.ndarray, step: float) -> np.ndarray:
    """Points along each edge (K, 2) no further apart than ``step``, endpoints excluded, float64."""
    v = np.asarray(verts, dtype=np.float64)
    a, b = v[edges[:, 0]], v[edges[:, 1]]
    per = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / max(step, 1e-30)).astype(np.int64))
    owner = np.repeat(np.arange(edges.shape[0]), per)
    k = np.arange(owner.shape[0]) - np.repeat(np.cumsum(per) - per, per)
    t = (k + 0.5) / per[owner]
    return a[owner] + (b[owner] - a[owner]) * t[:, None]


def edge_recall(result: MeshArrays, source_verts: np.ndarray, feature_edges: np.ndarray) -> float | None:
    """Share of points along source ``feature_edges`` within 0.5% of the diagonal of a result edge."""
    feature_edges = np.asarray(feature_edges, dtype=np.int64).reshape(-1, 2)
    if feature_edges.shape[0] == 0 or result.face_count == 0:
        return None
    diag = diagonal(source_verts) or 1.0
    points = edge_points(source_verts, feature_edges, RECALL_STEP * diag)
    edges, _, _ = unique_edges(result)
    # A triangle (a, b, b) has no area, so its closest point is the closest point of segment ab.
    segments = np.stack([edges[:, 0], edges[:, 1], edges[:, 1]], axis=1)
    tolerance = RECALL_TOLERANCE * diag
    dist = TriangleIndex(result.verts, segments).query(points, within=tolerance)[1]
    return float(np.count_nonzero(dist <= tolerance)) / points.shape[0]


def quality_report(
    result: MeshArrays,
    source: MeshArrays,
    feature_edges: np.ndarray | None = None,
    samples: int = DISTANCE_SAMPLES,
    *,
    source_index: TriangleIndex | None = None,
    source_topology: dict[str, int] | None = None,
    vertex_distances_known: np.ndarray | None = None,
    vertex_cap: int | None = None,
) -> dict[str, Any]:
    """All measures in one JSON-able dict; topology figures come with the source's beside them. The
    keywords let a caller measuring several results against one source pass what it already has (see
    ``surface_distance``)."""

    def shape() -> tuple[tuple[float, int], dict[str, int]]:
        return irregular_share(result), topology(result)

    # On a large result its edge flow and topology are measured on the second core meanwhile (forked.py).
    shape_work = InCopy(shape, "measure-shape") if result.face_count >= SHAPE_COPY_FACES else None
    deviation = quad_corner_deviation(result)
    hausdorff, mean = surface_distance(
        result, source, samples, source_index, vertex_distances_known, vertex_cap
    )
    (irregular, interior), result_topology = shape_work.result() if shape_work is not None else shape()
    recall = None if feature_edges is None else edge_recall(result, source.verts, feature_edges)
    return {
        "faces": result.face_count,
        "quads": result.quad_count,
        "tris": result.tri_count,
        "quad_share": result.quad_count / result.face_count if result.face_count else 0.0,
        "interior_vertices": interior,
        "irregular_share": irregular,
        "angle_deviation_p95": float(np.percentile(deviation, 95)) if deviation.size else None,
        "topology": result_topology,
        "source_topology": source_topology or topology(source),
        "hausdorff_pct": hausdorff,
        "mean_distance_pct": mean,
        "hard_edge_recall": recall,
    }
