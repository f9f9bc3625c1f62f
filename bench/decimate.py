# SPDX-License-Identifier: GPL-3.0-or-later
"""Decimation against Blender's Decimate on low-poly and hard-surface meshes: the engine's ``decimate`` as
it ships (fast_simplification, then ``engines/collapse.py`` where that stalls, or on a small mesh where it
lands closer), the same without collapse.py (fast_simplification alone, as before), and a Decimate
modifier (COLLAPSE) at the same triangle budget, side by side in one run.

    .venv/bin/python bench/decimate.py [--part]

Inputs: Blender's own 128-segment cylinder with fan caps, a box with a bored hole and 3-segment bevels
(booleans and bevels, triangulated: the low-poly hard-surface asset a LoD chain starts from), a 96 x 24
torus, and pymeshlab's cow, airplane, bone and open bunny (public, not in this repository, read as
bench/topology.py reads them); ``--part`` adds bench/topology.py's 215K-triangle machined part. Each is
decimated to 50%, 10% and 2% of its triangles. Reported: triangles, seconds (one run), and the symmetric
Hausdorff distance to the source (% of its diagonal, 100,000 samples a side, bench/fidelity.py), with the
ratio to Decimate's. Runs in the pinned ``bpy`` (the modifier and the importers).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import fidelity  # noqa: E402
import topology as samples  # noqa: E402  (its pymeshlab reader and the machined part)

RATIOS = (0.5, 0.1, 0.02)
SAMPLES = 100_000
PUBLIC = (
    ("cow", "cow.obj"),
    ("airplane", "airplane.obj"),
    ("bone", "bone.ply"),
    ("bunny10k (open)", "bunny10k_textured.obj"),
)


def _evaluated(obj) -> tuple[np.ndarray, np.ndarray]:
    import bpy

    graph = bpy.context.evaluated_depsgraph_get()
    mesh = obj.evaluated_get(graph).to_mesh()
    mesh.calc_loop_triangles()
    verts = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", verts)
    tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
    mesh.loop_triangles.foreach_get("vertices", tris)
    obj.evaluated_get(graph).to_mesh_clear()
    return verts.reshape(-1, 3), tris.reshape(-1, 3)


def _made(operator, modifiers) -> tuple[np.ndarray, np.ndarray]:
    """A primitive from ``operator`` with ``modifiers(obj)`` and a Triangulate applied, as arrays."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    operator()
    obj = bpy.context.active_object
    modifiers(obj)
    obj.modifiers.new("triangulate", "TRIANGULATE")
    out = _evaluated(obj)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return out


def _bored_box(obj) -> None:
    import bpy

    obj.scale = (1.5, 1.0, 0.6)
    bpy.ops.object.transform_apply(scale=True)
    bpy.ops.mesh.primitive_cylinder_add(vertices=64, radius=0.45, depth=3.0)
    cutter = bpy.context.active_object
    cutter.hide_set(True)
    boolean = obj.modifiers.new("hole", "BOOLEAN")
    boolean.operation, boolean.object, boolean.solver = "DIFFERENCE", cutter, "EXACT"
    bevel = obj.modifiers.new("bevel", "BEVEL")
    bevel.width, bevel.segments, bevel.limit_method = 0.08, 3, "ANGLE"
    bevel.angle_limit = math.radians(30)


def cases(with_part: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    import bpy

    made = [
        ("cylinder, 128 segments, fan caps", *_made(
            lambda: bpy.ops.mesh.primitive_cylinder_add(vertices=128, end_fill_type="TRIFAN"), lambda o: None
        )),
        ("box, bored and bevelled", *_made(lambda: bpy.ops.mesh.primitive_cube_add(size=2.0), _bored_box)),
        ("torus 96 x 24", *_made(
            lambda: bpy.ops.mesh.primitive_torus_add(major_segments=96, minor_segments=24), lambda o: None
        )),
    ]  # fmt: skip
    made += [(name, *samples.load_sample(file)) for name, file in PUBLIC]
    if with_part:
        made.append(("machined part (bench)", *samples.hard_part()))
    return [(name, np.asarray(v, np.float64), np.asarray(t, np.int64)) for name, v, t in made]


def blender_decimate(
    verts: np.ndarray, tris: np.ndarray, target: int
) -> tuple[float, np.ndarray, np.ndarray]:
    import bpy

    mesh = bpy.data.meshes.new("source")
    mesh.from_pydata(verts.tolist(), [], tris.tolist())
    obj = bpy.data.objects.new("source", mesh)
    bpy.context.scene.collection.objects.link(obj)
    modifier = obj.modifiers.new("decimate", "DECIMATE")
    modifier.ratio = target / tris.shape[0]
    started = time.perf_counter()
    out = _evaluated(obj)
    seconds = time.perf_counter() - started
    bpy.data.objects.remove(obj)
    bpy.data.meshes.remove(mesh)
    return seconds, *out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", action="store_true", help="also the 215K-triangle machined part (slow)")
    args = parser.parse_args(argv)
    samples._alias_checkout()
    from retopo_hub.engines import decimate
    from retopo_hub.engines.meshdata import MeshArrays
    from retopo_hub.engines.project import TriangleIndex

    shipped, stalled_far = decimate._past_fast_simplification, decimate.STALLED_FAR

    def alone(made, given, target, stalled, progress):
        return made

    print("| mesh | triangles | target | way | made | seconds | Hausdorff % | vs Decimate |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, verts, tris in cases(args.part):
        source = MeshArrays.from_triangles(verts, tris)
        surface = fidelity.SourceSurface(verts, tris, TriangleIndex, SAMPLES)
        for ratio in RATIOS:
            target = max(8, round(ratio * tris.shape[0]))
            rows = []
            seconds, bv, bt = blender_decimate(verts, tris, target)
            rows.append(
                (
                    "Decimate modifier",
                    bt.shape[0],
                    seconds,
                    surface.compare(bv, np.full(len(bt), 3), bt.ravel()),
                )
            )
            for way, patch, far_stall in (
                ("ours", shipped, stalled_far),
                ("fast_simplification alone", alone, float("inf")),
            ):
                decimate._past_fast_simplification, decimate.STALLED_FAR = patch, far_stall
                started = time.perf_counter()
                made = decimate.decimate(source, target)
                seconds = time.perf_counter() - started
                decimate._past_fast_simplification, decimate.STALLED_FAR = shipped, stalled_far
                rows.append(
                    (
                        way,
                        made.face_count,
                        seconds,
                        surface.compare(made.verts, made.face_sizes, made.corner_verts),
                    )
                )
            reference = max(rows[0][3].hausdorff_pct, 1e-12)
            for way, count, seconds, far in rows:
                ratio_text = "-" if way.startswith("Decimate") else f"{far.hausdorff_pct / reference:.2f}x"
                if count > 1.1 * target:
                    ratio_text = "stalled"
                print(
                    f"| {name} | {tris.shape[0]:,} | {target:,} | {way} | {count:,} | {seconds:.2f} | "
                    f"{far.hausdorff_pct:.4f} | {ratio_text} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
