# SPDX-License-Identifier: GPL-3.0-or-later
"""The quality report of finished results, whichever provider made them, and their distance to the source.

Contract: ``measure_files(source_npz, results)`` reads the job's source snapshot (``snapshot.npz``: verts,
face_sizes, corner_verts) and each result's arrays (``{name: npz path}``, in the source's coordinates), and
returns ``{name: {"quality": {...}, "distances": path}}``: ``engines.quality.quality_report`` (irregular
share, distances as % of the source's diagonal, pieces / boundary loops / genus beside the source's,
hard-edge recall against the source's edges sharper than ``SHARP_ANGLE_DEG``) plus ``distance_scale``, the
source's diagonal, so a heatmap can say what its colors mean. Each result's per-vertex distance to the
source surface (float32, object units) goes to ``<result npz>.distance.npy`` beside it. ``measure_answer``
wraps it in the wire answer, ``{"results": ...}`` or ``{"error": one line}``. Runs in a warm engine child
or, without one, in a worker host thread (numpy only, never bpy); one source index serves every result of
the job. In an engine child, parts of it run in forked copies on the second core (forked.py: the source's
own figures, half of each set of distances, a large result's edge flow and topology); in the worker
host's thread nothing forks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .features import sharp_edges
from .forked import InCopy
from .meshdata import MeshArrays
from .project import TriangleIndex
from .quality import diagonal, quality_report, topology, vertex_distances

log = logging.getLogger(__name__)

SHARP_ANGLE_DEG = 40.0  # edges of the source sharper than this count as hard edges a result should follow
DISTANCE_SAMPLES = 20_000  # per direction; plenty for a % figure, and quick on a 1M-triangle source
# ... but no more than this many per triangle of the two meshes (every vertex is measured besides). A query
# costs the same whatever the mesh, so 20,000 random points cost a 1,280-triangle job 0.27 s, four times
# its remesh; on that job 4 per triangle gave the same Hausdorff distance and a mean within 1%.
SAMPLES_PER_TRIANGLE = 4
# Source vertices measured besides the surface samples, at most (a random subset beyond): all 1.3M of them
# took 5 s of the 14.6 s a 983K-triangle result's report cost. Every result vertex is measured anyway, for
# the heatmap, and those distances count too.
VERTEX_CAP = 100_000


def load_mesh(path: str | Path) -> MeshArrays:
    with np.load(path) as data:
        return MeshArrays(data["verts"], data["face_sizes"], data["corner_verts"])


def measure(source: MeshArrays, results: Mapping[str, MeshArrays]) -> dict[str, tuple[dict, np.ndarray]]:
    """``{name: (quality report, per-vertex distances)}`` of every result against ``source``. The distance
    figures come from the surface samples, every result vertex (the heatmap's distances) and at most
    ``VERTEX_CAP`` of the source's vertices."""
    tris = source.triangles().astype(np.int64)
    # What is measured of the source alone goes to the second core while this one indexes it.
    source_side = InCopy(
        lambda: (sharp_edges(source.verts, tris, SHARP_ANGLE_DEG), topology(source)), "measure"
    )
    index = TriangleIndex(source.verts, tris)
    features, source_topology = source_side.result()
    measured = {}
    for name, result in results.items():
        if result.face_count == 0:
            raise ValueError(f"{name} has no faces to measure")
        triangles = max(tris.shape[0], int(result.triangles().shape[0]))
        samples = min(DISTANCE_SAMPLES, SAMPLES_PER_TRIANGLE * triangles)
        distances = vertex_distances(result, index)
        report = quality_report(
            result, source, features, samples=samples, source_index=index, source_topology=source_topology,
            vertex_distances_known=distances, vertex_cap=VERTEX_CAP,
        )  # fmt: skip
        report["distance_scale"] = diagonal(source.verts)
        measured[name] = (report, distances)
    return measured


def measure_files(source_npz: str, results: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    source = load_mesh(source_npz)
    measured = measure(source, {name: load_mesh(path) for name, path in results.items()})
    answer = {}
    for name, (report, distances) in measured.items():
        target = Path(results[name]).with_suffix(".distance.npy")
        np.save(target, distances)
        answer[name] = {"quality": report, "distances": str(target)}
    return answer


def measure_answer(source_npz: str, results: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """(``{"results": measure_files(...)}`` or ``{"error": one line}``, whether measuring itself crashed)."""
    try:
        return {"results": measure_files(source_npz, results)}, False
    except (OSError, ValueError, KeyError) as exc:
        return {"error": f"the result could not be measured ({type(exc).__name__}: {exc})"[:240]}, False
    except Exception as exc:
        log.exception("measuring %s crashed", source_npz)
        return {"error": f"internal error while measuring ({type(exc).__name__}); see the log"}, True
