# SPDX-License-Identifier: GPL-3.0-or-later
"""Goal 1 (and 4): the local quad remesh against Blender's QuadriFlow at the same target face count.

OUR side is what a user waits for: ``bpy.ops.retopo_hub.submit()`` on the source object (blocking EXEC path:
snapshot, child process, import of ``<name>_retopo``), wall time. QuadriFlow is
``bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=N, seed=0)`` on a copy of the source (the copy
is made outside the timing). Both results are then read back in object space and compared with the source
(``fidelity``): achieved faces, quad fraction, symmetric Hausdorff and mean surface distance as % of the
bounding-box diagonal. Ratios are medians of our runs over medians of QuadriFlow's, taken in this run on
this input, alternating the two so machine noise hits both. On the big mesh one extra, untimed run of ours
is where the engine child's peak RSS is taken (goal 4, ``memory``).
"""

from __future__ import annotations

import importlib
from typing import Any

import bpy
import numpy as np
from fidelity import SourceSurface, open_edges, triangulate
from harness import (
    copy_object,
    face_counts,
    median,
    mesh_arrays,
    product_phases,
    remove_object,
    remove_results,
    say,
    select_only,
    timed,
)
from memory import ChildPeak

GOAL_TIME_RATIO = 0.15
GOAL_QUAD_FRACTION = 0.95
GOAL_FACE_TOLERANCE = 0.10


def _ours_measured(addon, obj: bpy.types.Object, target: int) -> tuple[float, Any, ChildPeak]:
    """One product run with the engine child's memory sampled (kept out of the timings)."""
    with ChildPeak() as peak:
        seconds, arrays, _ = _ours(addon, obj, target)
    return seconds, arrays, peak


def _ours(addon, obj: bpy.types.Object, target: int) -> tuple[float, Any, dict[str, float]]:
    """One product run: (seconds, (verts, sizes, corners) of the imported LOD0, main-thread phases)."""
    settings = obj.retopo_hub
    settings.provider, settings.mode, settings.quads = "local", "quad", True
    settings.target_faces, settings.lod_levels = target, 0
    remove_results(obj.name)
    select_only(obj)
    with product_phases(addon) as phases:
        seconds, result = timed(bpy.ops.retopo_hub.submit)
    out = bpy.data.objects.get(f"{obj.name}_retopo")
    if result != {"FINISHED"} or out is None:
        record = bpy.context.scene.retopo_hub.jobs[-1]
        raise RuntimeError(f"local remesh of {obj.name} failed: {record.message}")
    arrays = mesh_arrays(out.data)
    remove_results(obj.name)
    return seconds, arrays, phases.seconds | {"in_scene": phases.until["import"]}


def _quadriflow(obj: bpy.types.Object, target: int) -> tuple[float, Any]:
    copy = copy_object(obj, f"{obj.name}_quadriflow")
    select_only(copy)
    try:
        with bpy.context.temp_override(active_object=copy, object=copy, selected_objects=[copy]):
            seconds, result = timed(
                lambda: bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=target, seed=0)
            )
        faces = len(copy.data.polygons)
        if result != {"FINISHED"} or faces == len(obj.data.polygons):
            raise RuntimeError(f"QuadriFlow did not remesh {obj.name} ({result})")
        return seconds, mesh_arrays(copy.data)
    finally:
        remove_object(copy)
        select_only(obj)


def _engine_only(addon, obj: bpy.types.Object, target: int) -> float:
    """The engine's own compute for the same job, in this process: what the product path adds is the rest."""
    pipeline = importlib.import_module(addon.__name__ + ".engines.pipeline")
    verts, sizes, corners = mesh_arrays(obj.data)
    params = pipeline.EngineParams(mode="quad", target_faces=target, quads=True)
    tris = triangulate(sizes, corners).astype(np.int32)
    seconds, _ = timed(lambda: pipeline.run(params, verts, tris))
    return seconds


def _shape(arrays) -> dict[str, Any]:
    sizes = arrays[1]
    faces = int(sizes.shape[0])
    quads = int((sizes == 4).sum())
    boundary, nonmanifold = open_edges(arrays[1], arrays[2])
    return {
        "faces": faces,
        "quads": quads,
        "quad_fraction": quads / faces if faces else 0.0,
        "boundary_edges": boundary,
        "nonmanifold_edges": nonmanifold,
    }


def run_case(
    addon,
    index_cls,
    name: str,
    obj: bpy.types.Object,
    target: int,
    *,
    repeats: int,
    qf_repeats: int,
    samples: int,
    track_memory: bool = False,
) -> dict[str, Any]:
    """Measure one (mesh, target) pair; see the module docstring."""
    say(
        f"quad remesh {name} ({len(obj.data.polygons):,} faces) -> {target:,}: "
        f"{repeats} ours, {qf_repeats} QuadriFlow"
    )
    ours_s, qf_s, main_s, memory = [], [], [], None
    ours_arrays = qf_arrays = None
    if track_memory:
        # An extra run, kept out of the timings: it starts a fresh worker host and stops it afterwards.
        seconds, _, memory = _ours_measured(addon, obj, target)
        say(f"  memory run {seconds:.2f}s: engine child peak RSS {memory.mib:.0f} MiB")
    for i in range(max(repeats, qf_repeats)):
        if i < repeats:
            seconds, ours_arrays, phases = _ours(addon, obj, target)
            ours_s.append(seconds)
            main_s.append((phases["submit"], phases["import"], phases["in_scene"]))
            say(f"  ours {seconds:.2f}s, {ours_arrays[1].shape[0]:,} faces")
        if i < qf_repeats:
            seconds, qf_arrays = _quadriflow(obj, target)
            qf_s.append(seconds)
            say(f"  QuadriFlow {seconds:.2f}s, {qf_arrays[1].shape[0]:,} faces")
    engine_s = _engine_only(addon, obj, target)
    say(f"  engine alone (in process) {engine_s:.2f}s")
    say(f"  fidelity ({samples:,} samples per surface)")
    verts, sizes, corners = mesh_arrays(obj.data)
    source = SourceSurface(verts, triangulate(sizes, corners), index_cls, samples)
    ours_fid, qf_fid = source.compare(*ours_arrays), source.compare(*qf_arrays)
    ours, qf = _shape(ours_arrays), _shape(qf_arrays)
    row: dict[str, Any] = {
        "mesh": name,
        "source_faces": face_counts(obj.data)[0],
        "faces_target": target,
        "faces": ours["faces"],
        "quad_fraction": round(ours["quad_fraction"], 4),
        "time_ratio_vs_quadriflow": round(median(ours_s) / median(qf_s), 4),
        "hausdorff_pct": round(ours_fid.hausdorff_pct, 4),
        "hausdorff_pct_quadriflow": round(qf_fid.hausdorff_pct, 4),
        # Which direction the worst distance is in: source -> ours finds holes and lost parts, ours -> source
        # finds spikes and folds.
        "hausdorff_pct_source_to_result": round(ours_fid.forward_max_pct, 4),
        "hausdorff_pct_result_to_source": round(ours_fid.backward_max_pct, 4),
        "mean_pct": round(ours_fid.mean_pct, 5),
        "mean_pct_quadriflow": round(qf_fid.mean_pct, 5),
        "seconds": round(median(ours_s), 3),
        "seconds_quadriflow": round(median(qf_s), 3),
        "seconds_runs": [round(s, 3) for s in ours_s],
        "seconds_engine_only": round(engine_s, 3),
        # Main-thread parts of our runs (medians): the submit (snapshot) and the import of the result.
        "seconds_submit": round(median([m[0] for m in main_s]), 3),
        "seconds_import": round(median([m[1] for m in main_s]), 3),
        # From the click until the results were in the scene; the rest of "seconds" is the quality report,
        # which the blocking operator waits for (the panel shows the results before it).
        "seconds_in_scene": round(median([m[2] for m in main_s]), 3),
        "seconds_runs_quadriflow": [round(s, 3) for s in qf_s],
        "faces_quadriflow": qf["faces"],
        # Edges used by one face (holes, on a closed source) and by three or more (non-manifold).
        "boundary_edges": ours["boundary_edges"],
        "boundary_edges_quadriflow": qf["boundary_edges"],
        "boundary_edges_source": open_edges(sizes, corners)[0],
        "nonmanifold_edges": ours["nonmanifold_edges"],
        "nonmanifold_edges_quadriflow": qf["nonmanifold_edges"],
        "quad_fraction_quadriflow": round(qf["quad_fraction"], 4),
        "samples_per_surface": samples,
    }
    row["goals"] = {
        "time": row["time_ratio_vs_quadriflow"] <= GOAL_TIME_RATIO,
        "hausdorff": row["hausdorff_pct"] <= row["hausdorff_pct_quadriflow"],
        "mean": row["mean_pct"] <= row["mean_pct_quadriflow"],
        "quads": row["quad_fraction"] >= GOAL_QUAD_FRACTION,
        "face_count": abs(row["faces"] - target) <= GOAL_FACE_TOLERANCE * target,
    }
    if memory is not None:
        row["memory"] = {"peak_rss_mb": round(memory.mib, 1), **memory.detail}
    say(
        f"  ratio {row['time_ratio_vs_quadriflow']:.3f}x, Hausdorff {row['hausdorff_pct']:.3f}% vs "
        f"{row['hausdorff_pct_quadriflow']:.3f}%, "
        f"mean {row['mean_pct']:.4f}% vs {row['mean_pct_quadriflow']:.4f}%"
    )
    return row
