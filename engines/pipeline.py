# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole local job: validate, build LOD0, derive the LoD chain.

Contract: ``run(params, verts, tris)`` takes vertex coordinates (N, 3) in object units and triangle indices
(M, 3) and returns one ``LodResult`` per level, LOD0 first. LOD0 is a quad/triangle remesh (``mode='quad'``)
or a decimation (``mode='decimate'``) to ``target_faces`` (a source already within 2% of the target is kept as
it is). A source of several separate parts gives each part its area share of the budget (``pieces``): parts
too small for the engine are made one by one (in quad mode, quads as far as their triangles pair up), and only
parts beyond what 1.5x the target can hold are left out, which LOD0's ``warnings`` then say (the LoD chain
below decimates the whole of LOD0 and may still lose parts at its lower budgets). LOD i >= 1 is a triangle
mesh with ``round(ratio_i * T0)`` triangles, where T0 is LOD0's triangle count (its face count for triangle
meshes, twice its quad count for quad meshes) so a ratio means the same rendering cost in both modes. Each
level is decimated from the previous one, not from the source, unless ``dress`` gives LOD0's look (UVs,
materials): then each level is decimated from LOD0 keeping its UV seams and material borders and carries
LOD0's UVs and slots (lodlook.py); and unless ``workers`` >= 2 on a large decimate-mode job without a look:
then the first levels are decimated from the source here after LOD0, and the others in a second process while
LOD0 is made, the first of them from the source and the rest chained from it (branch.py). Measured on a
1M-triangle bumpy torus with 4 levels down to 0.15: the chain took 0.03-0.3 s against 3.8-4.5 s for decimating
the source each time, and its Hausdorff distance was equal or lower at every level (e.g. 0.14% vs 0.15% of the
diagonal at the last level from a 20K LOD0). It also keeps every LoD an approximation of LOD0, the mesh the
user sees, and each level's ``error`` is its symmetric Hausdorff distance to LOD0 in object units
(``quality.level_errors``), from which the worker derives switch distances (core/lodmath.py).
``progress(fraction, message)`` is called along the way and ``cancelled()`` is polled between stages
(EngineCancelled). Imports numpy and the engine's own modules only; never touches bpy and runs in the engine
child process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

from .asymmetry import ASYMMETRY_WARN, asymmetry, not_symmetric
from .branch import Branch, branch_levels, plan_branch
from .decimate import ENGINE_NAME as DECIMATOR
from .decimate import decimate
from .density import DensityField
from .errors import EngineCancelled, EngineInputError
from .forked import can_fork
from .lod import lod_ratios, switch_thresholds
from .lodchain import chain_levels
from .lodlook import Look
from .meshdata import MeshArrays
from .notices import EDGE_FLOW_SKIPPED, stall_warning, topology_changed
from .params import EngineParams
from .partcheck import fused_pieces, left_for_small_way, nearest_piece
from .pieces import dropped_warning, each_alone, merged, plan_pieces, select_pieces, small_pieces
from .progress import ProgressFn, monotonic, scaled
from .quality import level_errors, topology_change
from .remesh import ENGINE_NAME as REMESHER
from .remesh import MIN_TARGET, check_target, remesh_detailed
from .splits import drawn_manifold
from .symmetry import axes_of, build_level
from .validate import clean_input_mapped, join_split_vertices

log = logging.getLogger(__name__)

CancelledFn = Callable[[], bool]

# A tetrahedron is the smallest closed triangle mesh; coarser LoD budgets are raised to this.
MIN_LOD_TRIANGLES = 4
# In decimate mode a source at most this fraction above the target is used as LOD0 as it is (on a 1M mesh
# that saves a ~0.7 s pass that would remove under 2% of the triangles).
SKIP_DECIMATION = 0.02
# Share of the progress bar per stage; LOD0 dominates the run time.
LOD0_SPAN = (0.03, 0.8)
# Provenance of a LOD0 that is the cleaned source itself (decimate mode, already at the budget).
KEPT = "source"


@dataclass(frozen=True)
class LodResult:
    lod: int
    mesh: MeshArrays
    target_faces: int
    switch_threshold: float
    engine: str  # what made this level: see remesh.ENGINE_NAME, decimate.ENGINE_NAME, KEPT
    # int32 (E, 2) result vertex pairs on source hard edges (LOD0 of a quad remesh; empty otherwise).
    sharp_edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int32))
    # JSON-able figures of how the level was made (see remesh.Remeshed.info, and ``pieces`` when the source
    # has several); {} for decimated levels.
    info: dict[str, Any] = field(default_factory=dict)
    # One line each for the user, e.g. separate parts too small to keep (see pieces.dropped_warning).
    warnings: tuple[str, ...] = ()
    # Symmetric Hausdorff distance to LOD0 in object units (0.0 for LOD0); see ``level_errors``.
    error: float = 0.0
    # LoDs >= 1 made to keep LOD0's look (``dress``; lodlook.py): float32 (C, 2) corner UVs and int32 (F,)
    # material slots per face into LOD0's maps and slots; None when LOD0 has none of them.
    corner_uvs: np.ndarray | None = None
    face_materials: np.ndarray | None = None


def triangle_equivalent(mesh: MeshArrays) -> int:
    """Triangles the mesh renders as (quads count twice, n-gons n - 2)."""
    return int((mesh.face_sizes.astype(np.int64) - 2).sum())


def lod_targets(lod0: MeshArrays, ratios: list[float]) -> list[int]:
    """Triangle budget per LoD >= 1, relative to LOD0's triangle count."""
    base = triangle_equivalent(lod0)
    return [max(MIN_LOD_TRIANGLES, round(r * base)) for r in ratios[1:]]


def _marked_on_clean(marked: np.ndarray | None, vertex_map: np.ndarray) -> np.ndarray | None:
    """Marked edges renumbered to the cleaned source; pairs touching dropped or unknown vertices go."""
    if marked is None:
        return None
    pairs = np.asarray(marked, dtype=np.int64).reshape(-1, 2)
    inside = ((pairs >= 0) & (pairs < vertex_map.shape[0])).all(axis=1)
    pairs = vertex_map[pairs[inside]]
    return pairs[(pairs >= 0).all(axis=1)]


def _density_field(
    params: EngineParams, source: MeshArrays, weights: np.ndarray | None, vertex_map: np.ndarray
) -> DensityField | None:
    """The quad remesh's density field over the cleaned source, or None when density control is off."""
    if params.mode != "quad" or not params.quads or (weights is None and not params.adaptive):
        return None
    clean = None
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if weights.shape[0] != vertex_map.shape[0]:
            raise EngineInputError("the density weights do not match the mesh: submit the job again")
        clean = np.zeros(source.vert_count)
        kept = vertex_map >= 0
        clean[vertex_map[kept]] = weights[kept]
    field = DensityField(source.verts, source.triangles(), clean, float(params.adaptive))
    return field if field.active else None


def _build_lod0(
    params: EngineParams,
    source: MeshArrays,
    target: int,
    marked: np.ndarray | None,
    progress: ProgressFn | None,
    cancelled: CancelledFn | None,
    whole: bool = True,
    attempt: int = 0,
    density: DensityField | None = None,
) -> tuple[MeshArrays, np.ndarray, dict[str, Any]]:
    """LOD0 of ``source`` at ``target`` faces: (mesh, hard-edge vertex pairs, info with its "engine");
    ``whole=False`` for a part cut for symmetry (its cut is left open for the mirror to close)."""
    if params.mode == "quad":
        remeshed = remesh_detailed(
            source,
            target,
            quads=params.quads,
            progress=progress,
            cancelled=cancelled,
            seed=params.seed + attempt,
            reproducible=params.reproducible,
            sharp_angle=float(params.sharp_angle),
            flow=bool(params.edge_flow),
            marked_edges=marked,
            fill_holes=whole,
            keep_boundaries=bool(params.keep_boundaries),
            density=density,
            cut_axes=() if whole else axes_of(params.symmetry),
        )
        return remeshed.mesh, remeshed.sharp_edges, {**remeshed.info, "engine": REMESHER}
    no_edges = np.zeros((0, 2), dtype=np.int32)
    check_target(target, source.face_count)
    if source.face_count <= target * (1.0 + SKIP_DECIMATION):
        # Already at the budget: a full collapse pass over the mesh would change almost nothing.
        return source, no_edges, {"engine": KEPT}
    return decimate(source, target, progress=progress), no_edges, {"engine": DECIMATOR}


def _joined_info(infos: list[dict], made: MeshArrays, source: MeshArrays) -> dict[str, Any]:
    """One LOD0 info for parts made each on its own: counts added up, the topology judged on the whole."""
    info = dict(infos[0])
    info.pop("engine", None)
    for key in ("feature_edges", "sharp_edges", "holes_reopened", "cracks_closed"):
        if key in info:
            info[key] = sum(int(i.get(key, 0)) for i in infos)
    if any(i.get("edge_flow_skipped") for i in infos):
        info["edge_flow_skipped"] = True
    if "topology" in info:
        info.update(topology_change(made, source, info.get("cracks_closed", 0)))
    return info


def _lod0(
    params: EngineParams,
    source: MeshArrays,
    marked: np.ndarray | None,
    progress: ProgressFn | None,
    cancelled: CancelledFn | None,
    density: DensityField | None = None,
) -> tuple[MeshArrays, str, np.ndarray, dict[str, Any], tuple[str, ...]]:
    """(mesh, engine, sharp edges, info, warnings) of LOD0; every separate part of the source gets a face
    budget of its own (``pieces``), so small parts are not lost in a remesh or decimation of the whole."""
    target = int(params.target_faces)  # checked against the source by _make_lod0
    no_sharp = np.zeros((0, 2), dtype=np.int32)
    if params.mode == "decimate" and source.face_count <= target * (1.0 + SKIP_DECIMATION):
        # Already at the budget: a full collapse pass over the mesh would change almost nothing.
        return source, KEPT, no_sharp, {}, ()
    tris = source.triangles()
    plan = plan_pieces(source.verts, tris, target, remeshed=params.mode == "quad")
    if plan.count == 1:
        mesh, sharp, info = _build_lod0(params, source, target, marked, progress, cancelled, density=density)
        return mesh, info.pop("engine"), sharp, info, ()
    quad_faces = params.mode == "quad" and params.quads
    large, large_map = select_pieces(source.verts, tris, plan.labels, plan.large)
    large_target = int(plan.budgets[plan.large].sum())
    made, engine, sharp, info, lost = None, DECIMATOR, no_sharp, {}, np.flatnonzero(plan.large)
    large_labels = plan.labels[plan.large[plan.labels]]

    def build(part: MeshArrays, budget: int, vertex_map: np.ndarray) -> tuple:
        edges = None if marked is None else vertex_map[marked]
        edges = None if edges is None else edges[(edges >= 0).all(axis=1)]
        return _build_lod0(params, part, budget, edges, progress, cancelled, density=density)

    if MIN_TARGET <= large_target < large.face_count:
        made, sharp, info = build(large, large_target, large_map)
        engine = info.pop("engine")
        nearest = nearest_piece(made, large, large_labels)
        fused = fused_pieces(made, nearest)
        if fused.size:
            # Parts the engine joined (within a cell of each other) are made each in a run of its own.
            log.info("%d separate parts were joined: remeshing each on its own", fused.shape[0])
            every = np.flatnonzero(plan.large)
            alone, alone_sharp, infos = each_alone(source.verts, tris, plan, every, build)
            if alone is not None:
                made, sharp, info = alone, alone_sharp, _joined_info(infos, alone, large)
                nearest = nearest_piece(made, large, large_labels)
        made, sharp, lost = left_for_small_way(made, sharp, large, large_labels, nearest, plan.budgets)
    small_ids = np.concatenate([np.flatnonzero(plan.small), lost])
    small = small_pieces(
        source.verts, tris, plan.labels, plan.budgets, small_ids, quads=quad_faces, cancelled=cancelled
    )
    mesh = small if made is None else merged(made, small)
    info = dict(info)
    info["pieces"] = {
        "source": plan.count,
        "by_engine": int(plan.large.sum()) - int(lost.shape[0]) if made is not None else 0,
        "one_by_one": int(small_ids.shape[0]),
        "dropped": plan.dropped,
    }
    if "target_exceeded" in info:
        info["target_exceeded"] = max(0.0, mesh.face_count / target - 1.0)
    if lost.size and "topology" in info:
        # Parts the engine lost or reshaped were made the small way: its verdict was on what it made of them.
        info.update(topology_change(mesh, source, info.get("cracks_closed", 0)))
    warnings = (dropped_warning(plan, target),) if plan.dropped else ()
    for line in warnings:
        log.warning("%s", line)
    return mesh, engine, sharp, info, warnings


def _make_lod0(params, source, marked, axes, stage, cancelled, build, thresholds, density) -> LodResult:
    """LOD0 as a ``LodResult``: mirrored when ``axes``, else with a face budget per separate part."""
    warnings: tuple[str, ...] = ()
    # The whole's target against the whole source, before a symmetric build checks its half's.
    check_target(int(params.target_faces), source.face_count)
    if axes:
        # Built on the + side only and mirrored: LOD0 is mirror-exact (symmetry.py). A seam that fails is
        # built again, so the bar must not run back: it shows the furthest point reached.
        stage = monotonic(stage)
        mirrored = build_level(source, axes, params.target_faces, partial(build, whole=False), marked)
        lod0, lod0_sharp, lod0_info = mirrored.mesh, mirrored.sharp_edges, mirrored.info
        if "target_exceeded" in lod0_info:  # the part's figures, made the whole's
            lod0_info["target_exceeded"] = max(0.0, lod0.face_count / params.target_faces - 1.0)
        if "topology" in lod0_info:
            lod0_info.update(topology_change(lod0, source, lod0_info.get("cracks_closed", 0)))
        lod0_engine = lod0_info.pop("engine")
        axis, share = asymmetry(source, axes)
        if share > ASYMMETRY_WARN:
            warnings = (not_symmetric(axis, share),)
    else:
        # Every separate part gets a face budget of its own (pieces.py), so small parts are not lost.
        lod0, lod0_engine, lod0_sharp, lod0_info, warnings = _lod0(
            params, source, marked, stage, cancelled, density
        )
    lod0, changed = drawn_manifold(lod0)  # every export and LoD splits quads as Blender draws them
    lod0_info.update(changed)
    if params.mode == "quad" and not params.quads and lod0.tri_count < lod0.face_count:  # fills, seam strips
        lod0 = MeshArrays.from_triangles(lod0.verts, lod0.triangles())
    notices = (EDGE_FLOW_SKIPPED if lod0_info.get("edge_flow_skipped") else None, topology_changed(lod0_info))
    for line in filter(None, notices):
        log.warning("%s", line)
        warnings = (*warnings, line)
    return LodResult(
        0, lod0, int(params.target_faces), thresholds[0], lod0_engine, lod0_sharp, lod0_info, warnings
    )


def run(
    params: EngineParams,
    verts: np.ndarray,
    tris: np.ndarray,
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    marked_edges: np.ndarray | None = None,
    dress: Callable[[LodResult], Look | None] | None = None,
    workers: int = 1,
    density_weights: np.ndarray | None = None,
) -> list[LodResult]:
    """Run the job described by ``params``; see the module docstring.

    ``dress``: called with LOD0 once it is made, when there are LoDs to build; returns LOD0's look (its UVs
    and material slots, ``lodlook.Look``) or None. With a look, every LoD is decimated from LOD0 keeping
    its UV seams and material borders and carries ``corner_uvs``/``face_materials`` (lodlook.py).

    ``workers``: 2 lets a large decimate-mode job make part of its LoDs from the source in a second process
    while LOD0 is made (branch.py); only the engine child passes it, never Blender's process.

    ``marked_edges``: optional int (K, 2) pairs of source vertex indices (into ``verts``) the user marked as
    hard (Blender's sharp edges, seams, material borders); the remesh follows them as it does edges sharper
    than ``params.sharp_angle``. Pairs that are not edges of ``tris`` are ignored.

    ``density_weights``: optional float (N,) per vertex of ``verts`` in 0..1, the painted density of a quad
    remesh (``params.density_group``'s weights; see density.py), combined with ``params.adaptive``.
    """

    def check_cancel() -> None:
        if cancelled is not None and cancelled():
            raise EngineCancelled("the job was cancelled")

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    check_cancel()
    report(0.0, "checking the mesh")
    source, vertex_map = clean_input_mapped(verts, tris)
    source, vertex_map = join_split_vertices(source, vertex_map)
    ratios = lod_ratios(params.lod_levels, params.lod_final_ratio)
    thresholds = switch_thresholds(params.lod_levels, params.lod_max_threshold)
    check_cancel()
    stage = scaled(progress, *LOD0_SPAN)
    marked = _marked_on_clean(marked_edges, vertex_map)
    axes = axes_of(params.symmetry)
    density = _density_field(params, source, density_weights, vertex_map)

    def build(
        part: MeshArrays, target: int, part_marked: np.ndarray | None, attempt: int = 0, whole: bool = True
    ) -> tuple:
        check_cancel()
        return _build_lod0(params, part, target, part_marked, stage, cancelled, whole, attempt, density)

    branch_plan = None
    if workers >= 2 and params.mode == "decimate" and not axes and dress is None and can_fork():
        # Only decimate mode knows LOD0's triangle count (its target) before LOD0 is made.
        branch_plan = plan_branch(source.face_count, int(params.target_faces), ratios)
    branch = None
    if branch_plan is not None:
        planned, _, theirs = branch_plan
        branch = Branch(source.verts, source.triangles(), [planned[level - 1] for level in theirs])
    with branch or nullcontext():
        results = [_make_lod0(params, source, marked, axes, stage, cancelled, build, thresholds, density)]
        lod0 = results[0].mesh
        if branch is not None:
            made = branch_levels(source, lod0, branch_plan, branch, progress, cancelled)
            results += [
                LodResult(level, mesh, branch_plan[0][level - 1], thresholds[level], DECIMATOR, error=error)
                for level, (mesh, error) in sorted(made.items())
            ]
        else:
            targets = lod_targets(lod0, ratios)
            look = dress(results[0]) if dress is not None and targets else None
            chain = chain_levels(lod0, targets, axes, look, progress, check_cancel, LOD0_SPAN[1])
            results += [
                LodResult(level, item.mesh, target, thresholds[level], DECIMATOR, corner_uvs=item.corner_uvs,
                          face_materials=item.face_materials)
                for level, (item, target) in enumerate(zip(chain, targets, strict=True), start=1)
            ]  # fmt: skip
            if len(results) > 1:
                check_cancel()
                report(1.0, "measuring the LoDs")
                errors = level_errors(lod0, [item.mesh for item in results[1:]])
                results[1:] = [replace(item, error=e) for item, e in zip(results[1:], errors, strict=True)]
    report(1.0, "done")
    if stalled := stall_warning(results):
        log.warning("%s", stalled)
        results[0] = replace(results[0], warnings=(*results[0].warnings, stalled))
    for item in results:
        log.info(
            "LoD %d: %d faces (%d quads) for target %d, error %g, switch at %g",
            item.lod,
            item.mesh.face_count,
            item.mesh.quad_count,
            item.target_faces,
            item.error,
            item.switch_threshold,
        )
    return results
