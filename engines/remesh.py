# SPDX-License-Identifier: GPL-3.0-or-later
"""Field-aligned quad (or isotropic triangle) remeshing to a face budget, via Instant Meshes.

Contract: ``quad_remesh(source, target_faces)`` takes a ``MeshArrays`` in object units and returns a new
``MeshArrays`` in the same units whose vertices lie on the source surface and whose face count lands within
10% of ``target_faces`` (counting quads when ``quads=True``, triangles otherwise). With quads the result is
all quads. With ``reproducible=True`` (Linux) the same input and ``seed`` give the same result in a fresh
process; otherwise Instant Meshes uses every core and runs may differ slightly. Imports numpy, the engine's
own modules and, lazily, pynanoinstantmeshes (EngineUnavailable if it is missing); never touches bpy and
runs in the engine child process. Instant Meshes writes its log to the process's native
stdout, which the child process redirects away from its protocol stream.

Pipeline: normalise -> inflate thin parts (``thickness``) -> (dense sources only) cluster to an even
resolution a few times finer than the output edge, or quadric-decimate far denser ones -> Instant Meshes,
re-run with a corrected vertex budget when the face count misses (and, on a closed source whose result is
broken, with other seeds, then thin parts inflated further: ``retries``) -> project the vertices onto the
full-resolution source and (quads) relax them along it (``sharp.onto_source``) -> drop degenerate faces
(and, on a closed source, debris beside the surface: ``blobs``) -> close the extraction's holes, open the
source's covered ones again. The source's borders are its open loops but for cracks and pinholes narrower
than the output can draw (``openings.narrow_loops``): a source with only those is a closed one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .blobs import without_blobs
from .density import DensityField
from .doublets import without_doublets
from .errors import EngineCancelled, EngineError, EngineInputError
from .features import feature_edges
from .flow import improve_quads
from .holes import boundary_half_edges, fill_every_hole, fill_small_holes, open_edges
from .instant import FACES_PER_VERTEX, Runner, calibrated_runs, rescaled
from .meshdata import MeshArrays
from .meshgraph import mean_edge
from .openings import BorderLoops, on_cut, open_borders, real_borders, reopen_covered_holes
from .progress import ProgressFn
from .project import TriangleIndex
from .quality import topology, topology_change
from .relax import PASSES, relax, spread_collapsed
from .retries import best_attempt
from .sharp import FeatureCurves, onto_source, source_borders
from .unfold import unfold
from .workcopy import output_edge, working_copy

log = logging.getLogger(__name__)

# Provenance of a remeshed level (the result's ``retopo_hub_engine``).
ENGINE_NAME = "instant-meshes"

CancelledFn = Callable[[], bool]

MIN_TARGET = 4
MAX_TARGET = 1_000_000
# The filling's vertices of holes left after the retries (``retries``) are relaxed this many times.
HOLE_RELAX = 10
# Instant Meshes' crease normals: creaseAngle >= 0 turns them on, and at 0 every edge that is not exactly
# flat is a crease. That is what this engine passes, for every mesh: on the bench's machined part it aligns
# the field with the part's edges (Hausdorff 1.66% against 3.92% with them off, 95th-percentile corner
# deviation 28.6 against 42.6 degrees); off on organic meshes (told apart by their flat area) there were
# fewer poles but a larger Hausdorff distance on most, and two user options lost ground (bench/TOPOLOGY.md,
# "Instant Meshes' crease normals"). At the user's Hard Edges angle it cut a chamfered part into 12 pieces;
# feature lines are followed by snapping (sharp.FeatureCurves).
IM_CREASE = 0.0
# A result vertex this close to a feature segment (unit-diagonal units: float32 round-off of object
# coordinates) was snapped onto it.
ON_CURVE = 1e-5
# A border loop of a part cut for symmetry with more than this share of its vertices within an edge of the
# cut is the cut (Instant Meshes aligns it to the plane, with dents); one with fewer is an extraction hole.
CUT_LOOP_SHARE = 0.5


def check_target(target_faces: int, source_faces: int) -> int:
    """Validate a remesh face budget against the source size; returns it as int."""
    upper = min(MAX_TARGET, source_faces - 1)
    if isinstance(target_faces, bool) or not isinstance(target_faces, (int, np.integer)):
        raise EngineInputError(f"target face count must be a whole number; got {target_faces!r}")
    target = int(target_faces)
    if upper < MIN_TARGET:
        raise EngineInputError(
            f"the mesh has only {source_faces} faces, too few to reduce: pick a denser object"
        )
    if not MIN_TARGET <= target <= upper:
        raise EngineInputError(
            f"target face count must be from {MIN_TARGET} to {upper:,} (below the source's "
            f"{source_faces:,} faces); got {target:,}"
        )
    return target


def _drop_degenerate(verts: np.ndarray, faces: np.ndarray | MeshArrays) -> MeshArrays:
    """Remove faces that repeat a vertex or collapsed to zero area after projection; ``faces`` is an
    (F, k) array over ``verts`` or a MeshArrays of mixed sizes (whose own vertices are then ``verts``)."""
    if isinstance(faces, MeshArrays):
        keep = np.ones(faces.face_count, dtype=bool)
        starts = faces.face_starts
        for size in np.unique(faces.face_sizes):
            rows = np.flatnonzero(faces.face_sizes == size)
            corners = faces.corner_verts[starts[rows, None] + np.arange(size)]
            keep[rows] = _kept(verts, corners)
        return MeshArrays(verts, faces.face_sizes, faces.corner_verts).select_faces(keep).compact()
    return MeshArrays.from_faces(verts, faces[_kept(verts, faces)]).compact()


def _kept(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    k = faces.shape[1]
    keep = np.ones(faces.shape[0], dtype=bool)
    for i in range(k):
        for j in range(i + 1, k):
            keep &= faces[:, i] != faces[:, j]
    p = verts[faces]
    # Vector area: diagonals' cross product for quads, edges' for triangles; zero means no area.
    if k == 4:
        cross = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1])
    else:
        cross = np.cross(p[:, 1] - p[:, 0], p[:, k - 1] - p[:, 0])
    keep &= np.einsum("ij,ij->i", cross, cross) > 0.0
    if not keep.all():
        log.debug("dropped %d degenerate faces", int((~keep).sum()))
    return keep


def _unfolded_and_sharp(
    result: MeshArrays, index: TriangleIndex, curves: FeatureCurves | None, center: np.ndarray, scale: float
) -> tuple[MeshArrays, np.ndarray, int]:
    """``result`` with its doublets dissolved (two quads folded onto each other, ``doublets``) and its
    folds undone (``unfold``; vertices on feature curves and borders stay), the vertex pairs along feature
    curves to mark sharp, and how many doublets went."""
    result, doublets = without_doublets(result)
    unit = (result.verts.astype(np.float64) - center) / scale
    on_curve = np.zeros(result.vert_count, dtype=bool)
    if curves is not None:
        on_curve = curves.index.query(unit)[1] <= ON_CURVE
    unit = unfold(unit, result, index, on_curve | _border_vertices(result))
    unit = spread_collapsed(unit, result, index)[0]
    sharp = np.zeros((0, 2), dtype=np.int32)
    if curves is not None:
        sharp = curves.sharp_edges(MeshArrays(unit, result.face_sizes, result.corner_verts), on_curve)
    return MeshArrays(unit * scale + center, result.face_sizes, result.corner_verts), sharp, doublets


def _on_borders(mesh: MeshArrays, borders: FeatureCurves, center: np.ndarray, scale: float) -> np.ndarray:
    """Vertices of ``mesh`` (object units) lying on the source's open borders (unit units, as snapped)."""
    unit = (mesh.verts.astype(np.float64) - center) / scale
    return borders.index.query(unit, within=ON_CURVE)[1] <= ON_CURVE


def _reopened(
    mesh: MeshArrays, index: TriangleIndex, borders: FeatureCurves, loops: BorderLoops, center, scale
) -> tuple[MeshArrays, int]:
    """``openings.reopen_covered_holes`` on a result in object units."""
    unit = MeshArrays((mesh.verts.astype(np.float64) - center) / scale, mesh.face_sizes, mesh.corner_verts)
    opened, count = reopen_covered_holes(unit, index, borders, loops)
    if count:
        log.debug("opened %d source holes the remesh had covered", count)
    return MeshArrays(opened.verts * scale + center, opened.face_sizes, opened.corner_verts), count


def _clean_topology(verts: np.ndarray, tris: np.ndarray) -> dict[str, int] | None:
    """The topology of an open source with no non-manifold edge, which a remesh is held to (``retries``)."""
    made = topology(MeshArrays.from_triangles(verts, tris))
    return None if made["nonmanifold_edges"] else made


def _border_vertices(mesh: MeshArrays) -> np.ndarray:
    a, b = boundary_half_edges(mesh)
    border = np.zeros(mesh.vert_count, dtype=bool)
    border[a], border[b] = True, True
    return border


def _near_cut(mesh: MeshArrays, planes: dict[int, float]) -> np.ndarray:
    """Vertices of ``mesh`` within one of its mean edges of a symmetry cut (``planes``: axis -> where)."""
    verts = np.asarray(mesh.verts, dtype=np.float64)
    reach = mean_edge(mesh)
    near = np.zeros(mesh.vert_count, dtype=bool)
    for axis, at in planes.items():
        near |= np.abs(verts[:, axis] - at) <= reach
    return near


def _closed(
    result: MeshArrays,
    index: TriangleIndex,
    center: np.ndarray,
    scale: float,
    keep: np.ndarray | None = None,
    keep_share: float = 0.0,
) -> MeshArrays:
    """``result`` with every hole the extraction left closed (``fill_every_hole``), but those with more
    than ``keep_share`` of their vertices in ``keep`` (any: on an open source's border)."""

    def onto_surface(points: np.ndarray) -> np.ndarray:
        return index.query((points - center) / scale)[0] * scale + center

    def relaxed(verts: np.ndarray, mesh: MeshArrays, pinned: np.ndarray) -> np.ndarray:
        unit = relax((verts - center) / scale, mesh, index, HOLE_RELAX, pinned=pinned)
        return unit * scale + center

    return fill_every_hole(result, onto_surface, relaxed, keep, keep_share)


def _holes_settled(
    result: MeshArrays, index: TriangleIndex, center, scale, *, fill_holes: bool, closed: bool, holes, planes
) -> MeshArrays:
    """``result`` with the extraction's holes closed: small ones off the source's borders (``holes``), and
    on a closed source every one; ``fill_holes=False`` (a part cut for symmetry) closes only those off the
    cut of a closed source's part (``planes``), leaving the cut for the mirror."""
    if fill_holes:
        on_border = None if holes is None else _on_borders(result, holes[0], center, scale)
        result = fill_small_holes(result, keep=on_border)
        if closed and open_edges(result):
            return _closed(result, index, center, scale)
        if holes is not None and open_edges(result):
            # A loop off every source border is a hole the extraction opened (a thin plate's): close it.
            return _closed(result, index, center, scale, _on_borders(result, holes[0], center, scale))
    elif planes and open_edges(result):
        # Holes the extraction opened off the cut close now; the cut's loop, mostly on the plane, stays.
        return _closed(result, index, center, scale, _near_cut(result, planes), keep_share=CUT_LOOP_SHARE)
    return result


def quad_remesh(source: MeshArrays, target_faces: int, **options: Any) -> MeshArrays:
    """Remesh ``source`` to about ``target_faces`` quads (or triangles with ``quads=False``); the keyword
    options are ``remesh_detailed``'s."""
    return remesh_detailed(source, target_faces, **options).mesh


@dataclass(frozen=True, eq=False)
class Remeshed:
    """A remesh with what the Blender side marks on it and how the job went.

    ``sharp_edges`` int32 (E, 2): result vertex pairs lying on source feature edges (mark them sharp).
    ``info``: JSON-able figures for the job summary: ``feature_edges`` (source feature edges used),
    ``target_exceeded`` (faces / target - 1 when above the target, else 0.0), and ``topology`` /
    ``source_topology`` (pieces, boundary loops, genus; see ``quality.topology``) with ``topology_kept``.
    """

    mesh: MeshArrays
    sharp_edges: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def remesh_detailed(
    source: MeshArrays,
    target_faces: int,
    *,
    quads: bool = True,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    seed: int = 0,
    reproducible: bool = False,
    flow: bool = False,
    sharp_angle: float = 0.0,
    marked_edges: np.ndarray | None = None,
    fill_holes: bool = True,
    keep_boundaries: bool = True,
    density: DensityField | None = None,
    cut_axes: tuple[int, ...] = (),
) -> Remeshed:
    """``quad_remesh`` with feature edges (``sharp_angle`` degrees, ``marked_edges`` source vertex pairs).

    ``fill_holes=False`` leaves small border loops open (a part cut for symmetry, whose cut must stay open).
    ``keep_boundaries``: Instant Meshes aligns to the source's open borders and the result's border vertices
    are moved onto them (``sharp.mesh_onto_borders``); off, borders are remeshed like any other surface.
    ``cut_axes``: the part's symmetry cuts (``openings.on_cut``); its other borders are kept as a whole
    mesh's are: snapped onto, and a hole the extraction covered is opened again.
    ``density`` (quads only; in object units): more or fewer faces where it asks (``density``); implies
    the edge-flow pass, which splits the coarse mesh per place instead of everywhere. Instant Meshes is
    re-run until the count after that split is near the target. A piece with open borders may then keep
    one triangle (an odd number of border edges cannot be closed with quads alone).
    """
    tris = source.triangles().astype(np.int64)
    target = check_target(target_faces, tris.shape[0])

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    verts = source.verts.astype(np.float64)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    center = (lo + hi) / 2.0
    scale = float(np.linalg.norm(hi - lo)) or 1.0
    # Instant Meshes works in float32; a unit-sized, centred copy keeps its precision independent of
    # where and how large the object is.
    unit = (verts - center) / scale
    index = TriangleIndex(unit, tris)
    features = feature_edges(unit, tris, sharp_angle, marked_edges)
    curves = FeatureCurves(unit, features) if features.shape[0] else None
    # A part cut for symmetry (fill_holes=False) has the cut as a border, made of cut triangles that end at
    # the other side's vertices: the mirror closes it, and snapping onto it would pull the seam that way.
    # The source's open borders (about 0.9 s on 1.3M triangles), asked once: for the snap below and for the
    # extraction-hole retries.
    edge = output_edge(unit, tris, target, quads)
    source_open, cracks = open_borders(unit, tris, edge)
    cut_at = () if fill_holes else cut_axes
    own = ~on_cut(verts, *source_open, cut_at)
    own_open = (source_open[0][own], source_open[1][own])
    borders = source_borders(unit, tris, own_open) if keep_boundaries and own_open[0].shape[0] else None

    density = density if quads and density is not None and density.active else None
    # What the edge-flow pass reports (flow.improve_quads): density levels, and whether pairing was skipped.
    pass_stats: dict[str, Any] = {}

    def to_object(points: np.ndarray) -> np.ndarray:
        return points * scale + center

    def improved(out_v: np.ndarray, out_f: np.ndarray) -> MeshArrays | None:
        mesh = improve_quads(out_v, out_f, index, curves=curves, density=density, to_field=to_object,
                             stats=pass_stats, borders=borders)  # fmt: skip
        if mesh is None:
            return None
        return _drop_degenerate(to_object(mesh.verts.astype(np.float64)), mesh)

    def built(seed_offset: int, work_v: np.ndarray, work_t: np.ndarray) -> MeshArrays:
        runner = Runner(work_v, work_t, quads, seed + seed_offset, reproducible, IM_CREASE, keep_boundaries)
        if density is not None:
            report(0.1, "Instant Meshes with density control")
            guess = FACES_PER_VERTEX[True] * density.expected_multiplier()
            made = rescaled(
                lambda count: improved(*runner.run(count)), target, round(target / guess), cancelled
            )
            if made is None:
                raise EngineError(
                    "density control could not be applied to this mesh: set Adaptive to 0 and "
                    "clear Density Group"
                )
            return made
        out_v, out_f = calibrated_runs(runner, target, report, cancelled)
        if cancelled is not None and cancelled():
            raise EngineCancelled("remeshing was cancelled")
        report(0.85, "projecting onto the original surface")
        if quads and out_f.shape[1] == 4 and flow:
            return improved(out_v, out_f)
        placed = onto_source(index, MeshArrays.from_faces(out_v, out_f), borders, curves, PASSES * quads)
        return _drop_degenerate(to_object(placed), out_f)

    closed = not len(source_open[0])

    def attempt(seed_offset: int, work_v: np.ndarray, work_t: np.ndarray) -> MeshArrays:
        made = built(seed_offset, work_v, work_t)
        # On a closed source a small bit beside the surface is debris (blobs.py): gone before the attempt is
        # judged, or it counts as a piece that came off and the hole filling closes it.
        return without_blobs(made, index, unit, tris, source_open, (center, scale))[0] if closed else made

    # A closed source's part cut for symmetry has the cut as its only border, which the mirror closes: it is
    # held to its topology as a closed source is, the cut's open edges aside (a thin horn came off the cow).
    planes = {axis: float(verts[:, axis].min()) for axis in cut_at} if not closed and not own.any() else {}
    result, thin = best_attempt(
        attempt,
        lambda radius: working_copy(unit, tris, target, quads, report, radius),
        closed=(lambda: topology(MeshArrays.from_triangles(unit, tris))) if closed or planes else None,
        open_source=None if closed or planes else _clean_topology(unit, tris),
        report=report,
        part_cut=bool(planes),
    )
    reopened = 0
    # The source's own holes (borders once split vertices are joined) stay open: a small loop on one is not
    # filled, one the extraction covered is opened again (a part cut for symmetry: the mirror fills).
    holes = real_borders(unit, tris, (verts, cut_at), edge) if borders is not None and not closed else None
    result = _holes_settled(result, index, center, scale, fill_holes=fill_holes, closed=closed, holes=holes,
                            planes=planes)  # fmt: skip
    if holes is not None:
        result, reopened = _reopened(result, index, *holes, center, scale)
    blobs = 0
    if not closed and not planes:
        result, blobs = without_blobs(result, index, unit, tris, source_open, (center, scale))
    report(1.0, f"remeshed to {result.face_count:,} faces")
    result, sharp, doublets = _unfolded_and_sharp(result, index, curves, center, scale)
    info: dict = {
        "feature_edges": int(features.shape[0]),
        "sharp_edges": int(sharp.shape[0]),
        "target_exceeded": max(0.0, result.face_count / target - 1.0),
        "thin_parts": thin,
        **({"holes_reopened": reopened} if reopened else {}),
        **({"blobs_dropped": blobs} if blobs else {}),
        **({"doublets_dissolved": doublets} if doublets else {}),
        **({"cracks_closed": cracks} if cracks else {}),
        **({"edge_flow_skipped": True} if pass_stats.pop("edge_flow_skipped", False) else {}),
    }
    if density is not None:
        info["density"] = pass_stats
    if flow or curves is not None or density is not None:
        # The topology check costs about 2 s per million source triangles (the whole source's edge graph),
        # so it runs only with the passes it is there to watch; the quality report will make it general.
        info.update(topology_change(result, source, cracks))
    return Remeshed(result, sharp, info)
