# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's closest-point index on a CAD tessellation: huge triangles cut into pieces, against the same
triangles tested against every query (``project.MAX_PIECES = 0``, what the index did before), side by side
in one run.

    .venv/bin/python bench/index.py [--repeats N]

The input is generated (``tests/unit/shapes.cad_cylinder``): a cylinder of radius 1 and height 3 as a CAD
exporter writes it, its sides cut into fine strips (128 segments, 300 rows) and each cap fanned from one rim
vertex, whose triangles run across the whole cap (77,052 triangles). Measured, each way: building the
index, 2,000 closest-point queries near the surface, and the local quad remesh to 800 faces
(``engines.pipeline.run``, reproducible, the engine alone), whose projection and relaxation make such
queries. The two ways must give the same distances (exit 1 otherwise). The remeshes have the same faces;
their vertices may differ a little, since where a point is as near to two triangles (on their shared edge)
each way may name the other, and the relaxation goes on from that triangle. numpy and the engine only (no
Blender).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from shapes import cad_cylinder  # noqa: E402  (the same cylinder the index's unit test is exact on)


def _engine():
    import importlib.util

    if "retopo_hub" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "retopo_hub", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["retopo_hub"] = module
    from retopo_hub.engines import pipeline, project

    return pipeline, project


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    pipeline, project = _engine()
    verts, tris = cad_cylinder(128, 300)
    rng = np.random.default_rng(0)
    near = verts[rng.integers(0, verts.shape[0], 2000)] + rng.normal(scale=0.02, size=(2000, 3))
    cap = project.MAX_PIECES
    times: dict[str, dict[str, list[float]]] = {
        way: {"build": [], "query": [], "remesh": []} for way in ("pieces", "listed")
    }
    answers: dict[str, tuple] = {}
    for _ in range(args.repeats):
        for way in ("pieces", "listed"):  # alternated, so load on the machine hits both alike
            project.MAX_PIECES = cap if way == "pieces" else 0
            started = time.perf_counter()
            index = project.TriangleIndex(verts, tris)
            times[way]["build"].append(time.perf_counter() - started)
            started = time.perf_counter()
            dist = index.query(near)[1]
            times[way]["query"].append(time.perf_counter() - started)
            params = pipeline.EngineParams(mode="quad", target_faces=800, reproducible=True)
            started = time.perf_counter()
            mesh = pipeline.run(params, verts, tris)[0].mesh
            times[way]["remesh"].append(time.perf_counter() - started)
            answers[way] = (dist, mesh.face_count, mesh.verts)
            listed, entries = index.big.size, index.entry_tri.size
            print(f"{way}: huge triangles listed {listed}, entries {entries:,}", file=sys.stderr)
    project.MAX_PIECES = cap
    print(f"CAD cylinder: {tris.shape[0]:,} triangles; medians of {args.repeats} (seconds)")
    print("| what | pieces | listed (before) | ratio |")
    print("|---|---:|---:|---:|")
    for what in ("build", "query", "remesh"):
        a, b = statistics.median(times["pieces"][what]), statistics.median(times["listed"][what])
        print(f"| {what} | {a:.3f} | {b:.3f} | {a / b:.2f}x |")
    same_distances = np.array_equal(answers["pieces"][0], answers["listed"][0])
    faces = (answers["pieces"][1], answers["listed"][1])
    moved = "-"
    if answers["pieces"][2].shape == answers["listed"][2].shape:
        moved = f"{float(np.abs(answers['pieces'][2] - answers['listed'][2]).max()):.4f}"
    print(f"same distances: {same_distances}; remesh faces {faces[0]} / {faces[1]}, vertices moved {moved}")
    return 0 if same_distances else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
