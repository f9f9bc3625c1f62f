# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure a finished job's results against its source, whichever provider made them, and show the answer.

Contract: ``request(record, objects)`` writes each result's arrays, in the coordinates of the job's source
snapshot, into the job's folder and asks the worker host to measure them (``engines.report``): the geometry
work runs there, never here. ``apply(answers)``, called by the step function, stores each result's quality
report on the record (``details["quality"][name]``) and on the object (``retopo_hub_quality``, JSON), with
``target_faces`` and ``target_exceeded`` (faces / target - 1 above the target, else 0) added for LOD0, and
queues its heatmap: the per-vertex distance to the source painted as the color attribute
``retopo_distance``, green on the source, red at ``HEAT_SPAN_PCT`` % of the source's bounding-box diagonal
or further. Each call paints ``HEATMAPS_PER_STEP`` of the queued heatmaps (``queued()`` says some wait). A
job is ``pending`` until its report is on it and its heatmaps are painted. The local engine's LoDs
(``lod`` >= 1) are not measured: their error against LOD0 is on them already and sets their switch
distances. A job without a source snapshot (attached by id, or a CSM mesh URL) is not measured; a failed
measurement is a warning on the job and never fails it. Main thread only.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import bpy
import numpy as np

from ..blender_io.importer import PROP_PREFIX, find_source
from ..blender_io.mesh_arrays import read_arrays
from ..worker.ipc import SNAPSHOT_NAME
from . import records, session, specs

log = logging.getLogger(__name__)

DISTANCE_ATTRIBUTE = "retopo_distance"
QUALITY_KEY = "retopo_hub_quality"
HEAT_SPAN_PCT = 1.0  # the distance, in % of the source's diagonal, that shows fully red
TARGET_TOLERANCE = 0.10  # results land within 10% of Target Faces (its description says so)
# Reading a result's distances and painting them costs about 1 ms per 100K vertices: one heatmap a step
# keeps the UI timer's step short when many jobs finish together (bench/ui.py); the rest wait a tick.
HEATMAPS_PER_STEP = 1


def request(record, objects) -> bool:
    """Ask for the quality of ``objects`` (the job's imported results); False when it cannot be measured."""
    work = Path(record.work_dir)
    source_npz = work / SNAPSHOT_NAME
    if not source_npz.is_file():
        return False
    source = find_source(record.source_name, record.source_uid)
    results = {}
    # A local LoD is judged by its error against LOD0 (its switch distance comes from it), not against the
    # source: measuring every level of a 1M-triangle chain against the source took 2-5x making the chain.
    # A service's LoDs have no such figure, so they are measured.
    skip_lods = record.provider == "local"
    measured = [o for o in objects if o.type == "MESH" and len(o.data.polygons)
                and not (skip_lods and o.get(PROP_PREFIX + "lod"))]  # fmt: skip
    for index, obj in enumerate(measured):
        # The snapshot holds the source's own coordinates: bring the result into them if it sits elsewhere.
        into_source = None
        if source is not None and obj.matrix_world != source.matrix_world:
            into_source = source.matrix_world.inverted_safe() @ obj.matrix_world
        verts, sizes, corners = read_arrays(obj.data, into_source)
        path = work / f"measure-{index}.npz"
        np.savez(path, verts=verts, face_sizes=sizes, corner_verts=corners)
        results[obj.name] = str(path)
    if not results:
        return False
    measure_id = uuid.uuid4().hex[:12]
    session.worker_host().measure(measure_id, str(source_npz), results, specs.python_paths())
    session.measuring()[measure_id] = record.job_id
    return True


def pending(job_id: str) -> bool:
    """The job's quality report or its heatmap is still to come."""
    return job_id in session.measuring().values() or any(unit[0] == job_id for unit in session.measured())


def queued() -> bool:
    """Heatmaps wait for a later ``apply`` to paint them."""
    return bool(session.measured())


def apply(answers: dict[str, dict], limit: int = HEATMAPS_PER_STEP) -> None:
    """Put finished measurements on their jobs and result objects, and paint at most ``limit`` heatmaps."""
    for measure_id, answer in answers.items():
        job_id = session.measuring().pop(measure_id, None)
        record = records.find(job_id) if job_id else None
        if record is not None:
            _report(record, answer)
    waiting = session.measured()
    for _ in range(min(limit, len(waiting))):
        job_id, name, path, scale = waiting.popleft()
        obj = bpy.data.objects.get(name)
        if obj is None or obj.type != "MESH":
            continue
        try:
            distances = np.load(path)
        except (OSError, ValueError) as exc:
            log.warning("job %s: no distances for %s: %s", job_id, name, exc)
            continue
        paint_distances(obj.data, distances, scale)


def _report(record, answer: dict) -> None:
    """One measurement's reports on the job and its objects; their heatmaps are queued for ``apply``."""
    details = records.details(record)
    if "error" in answer:
        log.warning("job %s: %s", record.job_id, answer["error"])
        record.details_json = json.dumps(details | {"quality_error": str(answer["error"])})
        return
    quality = {}
    for name, item in (answer.get("results") or {}).items():
        report = item["quality"]
        obj = bpy.data.objects.get(name)
        if record.faces_requested > 0 and (obj is None or not obj.get(PROP_PREFIX + "lod")):
            # Where the budget could not hold a part (a thin limb kept attached), the result has more
            # faces than asked for: the report says by how much.
            report["target_faces"] = int(record.faces_requested)
            report["target_exceeded"] = round(max(0.0, report["faces"] / record.faces_requested - 1.0), 4)
        quality[name] = report
        if obj is None or obj.type != "MESH":
            continue
        obj[QUALITY_KEY] = json.dumps(report)
        scale = float(report.get("distance_scale") or 0.0)
        session.measured().append((record.job_id, name, item["distances"], scale))
    record.details_json = json.dumps(details | {"quality": quality})


def paint_distances(mesh: bpy.types.Mesh, distances: np.ndarray, diagonal: float) -> None:
    """The ``retopo_distance`` color attribute: green where the result lies on the source, red far off."""
    if len(distances) != len(mesh.vertices):
        return  # the result was edited meanwhile: its vertices are not the measured ones
    span = max(diagonal * HEAT_SPAN_PCT / 100.0, 1e-12)
    colors = np.empty((len(distances), 4), dtype=np.float32)  # filled in place: it runs in the UI's step
    np.clip(np.asarray(distances, dtype=np.float32) / np.float32(span), 0.0, 1.0, out=colors[:, 0])
    np.subtract(1.0, colors[:, 0], out=colors[:, 1])
    colors[:, 2], colors[:, 3] = 0.0, 1.0
    attribute = mesh.color_attributes.get(DISTANCE_ATTRIBUTE)
    if attribute is None:
        attribute = mesh.color_attributes.new(DISTANCE_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    attribute.data.foreach_set("color", colors.ravel())


def summary(report: dict) -> str:
    """One line of a quality report for the panel and the CLI."""
    quads = report.get("quad_share")
    irregular = report.get("irregular_share")
    exceeded = float(report.get("target_exceeded") or 0.0)
    parts = [
        f"{report.get('faces', 0):,} faces",
        # Within the usual landing tolerance it is not news; beyond it, the faces went somewhere on purpose.
        f"{exceeded * 100:.0f}% over the face target" if exceeded > TARGET_TOLERANCE else "",
        f"{quads * 100:.0f}% quads" if quads is not None else "",
        f"poles {irregular * 100:.1f}%" if irregular is not None else "",
        f"distance {report['mean_distance_pct']:.2f}% (max {report['hausdorff_pct']:.2f}%)"
        if report.get("hausdorff_pct") is not None
        else "",
    ]
    return " · ".join(p for p in parts if p)
