# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender's own QuadriFlow and Decimate, when the local engine's wheels are missing on this platform.

Main thread only, and blocking (it is the fallback, not the fast path). It writes the same ``result.npz``
layout as the engine child, so the results go through the one importer: same names, collection, transform,
materials and provenance. Temporary objects and meshes are removed whatever happens. The LoD curve and
switch thresholds are the engine's own (``engines.lod``: stdlib only, so safe to import here), and so is
the measure of each level's error against LOD0 (``engines.quality``: numpy only), from which the job's
Switch Rule places the levels (core/lodswitch.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from ..core.errors import RetopoError
from ..core.jobs import ResultFile
from ..core.lodswitch import level_switches
from ..engines.lod import lod_ratios, switch_thresholds
from ..engines.meshdata import MeshArrays
from ..engines.quality import level_errors
from .mesh_arrays import read_arrays, triangle_count

log = logging.getLogger(__name__)

# Provenance of each level (the result's ``retopo_hub_engine``), so a fallback is never silent.
QUADRIFLOW, DECIMATE = "quadriflow", "decimate"


def _evaluated_copy(obj: bpy.types.Object, modifier: dict[str, Any] | None) -> bpy.types.Mesh:
    if modifier:
        mod = obj.modifiers.new("retopo_hub_fallback", "DECIMATE")
        for key, value in modifier.items():
            setattr(mod, key, value)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    return bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))


def run_fallback(source: bpy.types.Object, options: dict[str, Any], work_dir: Path) -> list[ResultFile]:
    target = int(options.get("target_faces") or 5000)
    levels = int(options.get("lod_levels") or 0)
    temp_meshes: list[bpy.types.Mesh] = []
    depsgraph = bpy.context.evaluated_depsgraph_get()
    copy = bpy.data.meshes.new_from_object(source.evaluated_get(depsgraph))
    temp = bpy.data.objects.new("retopo_hub_fallback", copy)
    temp_meshes.append(temp.data)
    bpy.context.scene.collection.objects.link(temp)
    try:
        quads = options.get("mode", "quad") == "quad" and options.get("quads", True)
        lod0, lod0_engine = None, DECIMATE
        if quads:
            with bpy.context.temp_override(active_object=temp, object=temp, selected_objects=[temp]):
                try:
                    bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=target, seed=0)
                    lod0, lod0_engine = temp.data.copy(), QUADRIFLOW
                except RuntimeError:
                    log.warning("QuadriFlow refused %s (not manifold?): decimating instead", source.name)
        if lod0 is None:
            ratio = min(1.0, target / max(1, triangle_count(temp.data)))
            lod0 = _evaluated_copy(temp, {"decimate_type": "COLLAPSE", "ratio": ratio})
            temp.modifiers.clear()
        temp_meshes.append(lod0)
        levels_data = [read_arrays(lod0)]
        base_triangles = triangle_count(lod0)
        temp.data = lod0
        for ratio in lod_ratios(levels, float(options.get("lod_final_ratio", 0.15)))[1:]:
            wanted = ratio * base_triangles / max(1, triangle_count(lod0))
            mesh = _evaluated_copy(temp, {"decimate_type": "COLLAPSE", "ratio": min(1.0, wanted)})
            temp.modifiers.clear()
            temp_meshes.append(mesh)
            levels_data.append(read_arrays(mesh))
        engines = [lod0_engine] + [DECIMATE] * (len(levels_data) - 1)
        return _write(levels_data, engines, options, work_dir)
    except RuntimeError as exc:
        raise RetopoError(f"Blender's own remesher failed on '{source.name}': {exc}") from exc
    finally:
        bpy.data.objects.remove(temp, do_unlink=True)
        for mesh in temp_meshes:
            if mesh.users == 0:
                bpy.data.meshes.remove(mesh)


def _write(
    levels_data: list, engines: list[str], options: dict[str, Any], work_dir: Path
) -> list[ResultFile]:
    work_dir.mkdir(parents=True, exist_ok=True)
    count = len(levels_data)
    thresholds = switch_thresholds(count - 1, float(options.get("lod_max_threshold", 50.0)))
    arrays: dict[str, np.ndarray] = {}
    for i, (verts, sizes, corners) in enumerate(levels_data):
        arrays[f"lod{i}_verts"] = verts
        arrays[f"lod{i}_face_sizes"] = sizes
        arrays[f"lod{i}_corner_verts"] = corners
    meshes = [MeshArrays(*level) for level in levels_data]
    errors = [0.0, *level_errors(meshes[0], meshes[1:])] if meshes[0].face_count else [0.0] * count
    lod0 = np.asarray(levels_data[0][0], dtype=np.float64).reshape(-1, 3)
    low, high = (lod0.min(axis=0), lod0.max(axis=0)) if lod0.size else (np.zeros(3), np.zeros(3))
    switches = level_switches(options, errors, thresholds, low.tolist(), high.tolist())
    path = work_dir / "result.npz"
    tmp = work_dir / "result.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return [
        ResultFile(
            path=str(path),
            kind="arrays",
            lod=i,
            switch_threshold=switches[i].switch_distance,
            engine=engines[i],
            error=errors[i],
            screen_coverage=switches[i].screen_coverage,
        )
        for i in range(count)
    ]
