# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge flow, topology and fidelity of the local quad remesh against Blender's QuadriFlow, side by side.

python bench/topology.py [--only NAME ...] [--out FILE.md] [--json FILE.json] [--symmetry AXES] [--density]

Meshes: pymeshlab's public sample meshes (bunny, cow, raw face scan; read in a separate process through
pymeshlab and cached as .npz in the temp folder, never committed), the bench's 82K bumpy sphere and a
generated hard-surface part (a box with a cylindrical hole, rims chamfered, densely tessellated) built with
bpy. OURS is ``engines.pipeline.run`` in this process (no child process, no Blender import, so its time is
the engine alone); QUADRIFLOW is ``bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=N, seed=0)``
on the same arrays. Both are measured with ``engines.quality.quality_report``. Times are one run each,
alternating, on a shared 2-core machine: read the ratio, not the seconds. Prints a Markdown table.

``--symmetry AXES`` compares ours with and without that symmetry instead (no QuadriFlow): each mesh is
centred on its bounding box first, so the planes pass through its middle as an artist's origin would; the
table adds the mirror error (largest distance from a vertex's image to the nearest vertex, % of the
diagonal), the seam kind and the time ratio.

``--density`` compares ours even, with Adaptive at 1 and with a painted density group (the upper half of
the longest axis at weight 1, the rest 0) instead (no QuadriFlow): count against the target, irregular
share, topology, Hausdorff, the edge-length ratio of the two halves (4.0 is what the paint asks) and time.

``--params JSON`` (extra ``EngineParams`` fields, e.g. ``{"reproducible": true}``) applies to every run of
ours, in all three tables.

``--file PATH@TARGET`` (repeatable) runs the main table on those files instead of the bench's cases, read
through Blender's own importer as a user's file is (.obj, .ply, .stl, .glb, .gltf, .fbx): the public meshes
outside the repository that bench/TOPOLOGY.md measures (the Stanford dragon, Snowden, the Utah teapot; how
to fetch them is written there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
SAMPLES = SAMPLES / "pymeshlab" / "tests" / "sample_meshes"
CACHE = Path(tempfile.gettempdir()) / "retopo_hub_topology_meshes"
SHARP_ANGLE = 40.0

# name, source, target faces, hard-surface (hard-edge recall is measured)
CASES: list[tuple[str, str, int, bool]] = [
    ("bunny", "bunny.obj", 5000, False),
    ("cow@1500", "cow.obj", 1500, False),
    ("cow@5000", "cow.obj", 5000, False),
    ("sphere82k", "sphere", 5000, False),
    ("face-scan", "rangemaps/face000.ply", 5000, False),
    ("part", "part", 3000, True),
]


def _alias_checkout() -> None:
    """Import this checkout as the package ``retopo_hub`` (as tests/conftest.py does)."""
    import importlib.util

    if "retopo_hub" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "retopo_hub", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["retopo_hub"] = module
    spec.loader.exec_module(module)


def _convert(name: str, out: Path) -> None:
    """Run in a child process: pymeshlab reads a sample mesh; the arrays go to ``out`` (.npz)."""
    import pymeshlab

    ms = pymeshlab.MeshSet()
    ms.load_new_mesh(str(SAMPLES / name))
    mesh = ms.current_mesh()
    np.savez(out, verts=mesh.vertex_matrix().astype(np.float32), tris=mesh.face_matrix().astype(np.int32))


def load_sample(name: str) -> tuple[np.ndarray, np.ndarray]:
    CACHE.mkdir(exist_ok=True)
    out = CACHE / (name.replace("/", "_") + ".npz")
    if not out.exists():
        subprocess.run([sys.executable, __file__, "--convert", name, str(out)], check=True)
    with np.load(out) as data:
        return data["verts"], data["tris"]


def _object_arrays(obj: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # harness imports bpy: only the Blender side of this script may load it (never the --convert child).
    sys.path.insert(0, str(ROOT / "bench"))
    from harness import mesh_arrays

    return mesh_arrays(obj.data)


def _new_object(verts: np.ndarray, tris: np.ndarray, name: str) -> Any:
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], tris.tolist())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _apply_all(obj: Any) -> None:
    import bpy

    with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
        for mod in list(obj.modifiers):
            bpy.ops.object.modifier_apply(modifier=mod.name)


def hard_part() -> tuple[np.ndarray, np.ndarray]:
    """Box 3 x 2 x 1.2 with a vertical cylindrical hole, every rim chamfered, about 100K triangles."""
    import bpy

    bpy.ops.mesh.primitive_cube_add(size=2.0)
    box = bpy.context.active_object
    box.scale = (1.5, 1.0, 0.6)
    bpy.ops.mesh.primitive_cylinder_add(vertices=64, radius=0.45, depth=3.0)
    cyl = bpy.context.active_object
    with bpy.context.temp_override(active_object=box, object=box, selected_objects=[box]):
        bpy.ops.object.transform_apply(scale=True)
    boolean = box.modifiers.new("hole", "BOOLEAN")
    boolean.operation, boolean.object, boolean.solver = "DIFFERENCE", cyl, "EXACT"
    _apply_all(box)
    bpy.data.objects.remove(cyl)
    bevel = box.modifiers.new("chamfer", "BEVEL")
    bevel.width, bevel.segments, bevel.limit_method, bevel.angle_limit = 0.08, 1, "ANGLE", math.radians(30)
    box.modifiers.new("tri", "TRIANGULATE")
    _apply_all(box)
    # Dense, even triangles, as a sculpted or scanned part would have: simple subdivision keeps the shape.
    sub = box.modifiers.new("dense", "SUBSURF")
    sub.subdivision_type, sub.levels, sub.render_levels = "SIMPLE", 4, 4
    box.modifiers.new("tri", "TRIANGULATE")
    _apply_all(box)
    verts, sizes, corners = _object_arrays(box)
    bpy.data.objects.remove(box)
    assert (sizes == 3).all()
    return verts, corners.reshape(-1, 3)


IMPORTERS = {".obj": "obj_import", ".ply": "ply_import", ".stl": "stl_import"}


def load_file(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A user's file through Blender's importer: (verts float32 (N, 3), triangles int32 (T, 3))."""
    import bpy

    suffix = Path(path).suffix.lower()
    before = set(bpy.data.objects)
    if suffix in IMPORTERS:
        getattr(bpy.ops.wm, IMPORTERS[suffix])(filepath=path)
    elif suffix in (".glb", ".gltf"):
        bpy.ops.import_scene.gltf(filepath=path)
    elif suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=path)
    else:
        raise SystemExit(f"{path}: not a mesh file this bench reads (obj, ply, stl, glb, gltf, fbx)")
    meshes = [obj for obj in set(bpy.data.objects) - before if obj.type == "MESH"]
    if len(meshes) != 1:
        raise SystemExit(f"{path}: {len(meshes)} mesh objects; this bench takes files of one")
    verts, _, corners = _object_arrays(meshes[0])
    for obj in set(bpy.data.objects) - before:
        bpy.data.objects.remove(obj)
    return verts, corners.reshape(-1, 3)


def load_case(source: str) -> tuple[np.ndarray, np.ndarray]:
    if source.startswith("file:"):
        return load_file(source[len("file:") :])
    if source == "sphere":
        sys.path.insert(0, str(ROOT / "bench"))
        from meshes import bumpy_sphere

        obj = bumpy_sphere(80_000)
        verts, _, corners = _object_arrays(obj)
        import bpy

        bpy.data.objects.remove(obj)
        return verts, corners.reshape(-1, 3)
    if source == "part":
        return hard_part()
    return load_sample(source)


def run_ours(verts: np.ndarray, tris: np.ndarray, target: int, extra: dict) -> tuple[float, Any, dict]:
    from retopo_hub.engines.pipeline import EngineParams, run

    params = EngineParams(mode="quad", target_faces=target, **extra)
    started = time.perf_counter()
    results = run(params, verts, tris)
    return time.perf_counter() - started, results[0].mesh, getattr(results[0], "info", {}) or {}


def run_quadriflow(verts: np.ndarray, tris: np.ndarray, target: int) -> tuple[float, Any]:
    import bpy
    from retopo_hub.engines.meshdata import MeshArrays

    obj = _new_object(verts, tris, "qf")
    try:
        obj.select_set(True)
        bpy.context.view_layer.objects.active = obj
        with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
            started = time.perf_counter()
            try:
                result = bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=target, seed=0)
            except RuntimeError as exc:
                return time.perf_counter() - started, f"refused: {str(exc).strip().splitlines()[-1]}"
            seconds = time.perf_counter() - started
        v, s, c = _object_arrays(obj)
        if result != {"FINISHED"} or len(s) == len(tris):
            return seconds, f"refused ({result})"
        return seconds, MeshArrays(v, s, c)
    finally:
        bpy.data.objects.remove(obj)


@contextlib.contextmanager
def quiet_native_stdout():
    """Instant Meshes and QuadriFlow log to file descriptor 1; the table should be all that is printed."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _topo(t: dict) -> str:
    return f"{t['pieces']}/{t['boundary_loops']}/{t['genus']}"


def row(name: str, who: str, seconds: float, q: dict) -> str:
    return (
        f"| {name} | {who} | {q['faces']} | {q['quad_share'] * 100:.1f} | {q['irregular_share'] * 100:.2f} "
        f"| {_fmt(q['angle_deviation_p95'], 1)} | {_topo(q['topology'])} | {_topo(q['source_topology'])} "
        f"| {q['topology']['boundary_edges']} | {q['hausdorff_pct']:.3f} | {q['mean_distance_pct']:.4f} "
        f"| {_fmt(q['hard_edge_recall'], 3)} | {seconds:.2f} |"
    )


HEADER = (
    "| mesh | method | faces | quads % | irregular % | p95 angle dev ° | pieces/loops/genus | source p/l/g "
    "| open edges | Hausdorff % | mean % | hard-edge recall | time s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


SYMMETRY_HEADER = (
    "| mesh | symmetry | faces | quads % | irregular % | pieces/loops/genus | source p/l/g | open edges "
    "| mirror error % | seam | Hausdorff % | time s | time ratio |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def symmetry_table(axes: str, only: list[str] | None, extra: dict) -> str:
    """Ours with ``axes`` symmetry against ours without, per case (see the module docstring); ``extra``:
    ``--params``, applied to both."""
    from retopo_hub.engines.meshdata import MeshArrays
    from retopo_hub.engines.planes import mirror_error
    from retopo_hub.engines.quality import diagonal, quality_report
    from retopo_hub.engines.symmetry import axes_of

    lines = [SYMMETRY_HEADER]
    for name, source, target, _hard in CASES:
        if only and name not in only:
            continue
        verts, tris = load_case(source)
        verts = verts - (verts.min(axis=0) + verts.max(axis=0)) / 2.0
        src = MeshArrays.from_triangles(verts, tris)
        print(f"{name}: {tris.shape[0]} triangles -> {target}, symmetry {axes}", file=sys.stderr, flush=True)
        with quiet_native_stdout():
            plain_s, plain_mesh, _ = run_ours(verts, tris, target, extra)
            sym_s, sym_mesh, info = run_ours(verts, tris, target, {**extra, "symmetry": axes})
        sym_seam = info.get("symmetry_seam")
        for label, seconds, mesh, seam in (
            ("-", plain_s, plain_mesh, "-"),
            (axes, sym_s, sym_mesh, sym_seam),
        ):
            q = quality_report(mesh, src, None)
            error = max((mirror_error(mesh, a) for a in axes_of(axes)), default=0.0)
            error_pct = 100.0 * error / diagonal(mesh.verts)
            topo, source_topo = _topo(q["topology"]), _topo(q["source_topology"])
            lines.append(
                f"| {name} | {label} | {q['faces']} | {q['quad_share'] * 100:.1f} "
                f"| {q['irregular_share'] * 100:.2f} | {topo} | {source_topo} "
                f"| {q['topology']['boundary_edges']} | {error_pct:.2g} | {seam} | {q['hausdorff_pct']:.3f} "
                f"| {seconds:.2f} | {seconds / plain_s:.2f} |"
            )
    return "\n".join(lines) + "\n"


DENSITY_HEADER = (
    "| mesh | density | faces | count error % | quads % | irregular % | pieces/loops/genus | source p/l/g "
    "| Hausdorff % | edge ratio (- / + half) | time s | time ratio |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _edge_ratio(mesh: Any, axis: int, middle: float, span: float) -> float:
    """Mean edge length below the middle of ``axis`` over above it (edges within 10% of it left out)."""
    from retopo_hub.engines.meshgraph import unique_edges

    edges, _, _ = unique_edges(mesh)
    a, b = mesh.verts[edges[:, 0]], mesh.verts[edges[:, 1]]
    length, centre = np.linalg.norm(a - b, axis=1), (a + b)[:, axis] / 2
    above, below = centre > middle + 0.1 * span, centre < middle - 0.1 * span
    return float(length[below].mean() / length[above].mean())


def density_table(only: list[str] | None, common: dict) -> str:
    """Ours even, with Adaptive 1, and with a group painting the upper half of the longest axis at 1 and
    the rest at 0 (4x the edge density above): face count against the target, irregular share, topology,
    Hausdorff, the ratio of mean edge lengths below / above the middle (4.0 is the painted goal) and time.
    ``common``: ``--params``, applied to all three."""
    from retopo_hub.engines.meshdata import MeshArrays
    from retopo_hub.engines.params import EngineParams
    from retopo_hub.engines.pipeline import run
    from retopo_hub.engines.quality import quality_report

    lines = [DENSITY_HEADER]
    for name, source, target, _hard in CASES:
        if only and name not in only:
            continue
        verts, tris = load_case(source)
        src = MeshArrays.from_triangles(verts, tris)
        lo, hi = verts.min(axis=0), verts.max(axis=0)
        axis = int(np.argmax(hi - lo))
        middle, span = float(lo[axis] + hi[axis]) / 2, float(hi[axis] - lo[axis])
        painted = (verts[:, axis] > middle).astype(float)
        print(f"{name}: {tris.shape[0]} triangles -> {target}, density", file=sys.stderr, flush=True)
        timed = []
        for label, extra, weights in (
            ("even", {}, None),
            ("adaptive 1", {"adaptive": 1.0}, None),
            ("painted", {"density_group": "upper half"}, painted),
        ):
            with quiet_native_stdout():
                started = time.perf_counter()
                lod0 = run(EngineParams(mode="quad", target_faces=target, **{**common, **extra}), verts, tris,
                           density_weights=weights)[0]  # fmt: skip
                timed.append((label, time.perf_counter() - started, lod0.mesh))
        even_s = timed[0][1]
        for label, seconds, mesh in timed:
            q = quality_report(mesh, src, None)
            lines.append(
                f"| {name} | {label} | {q['faces']} | {100 * (q['faces'] / target - 1):+.1f} "
                f"| {q['quad_share'] * 100:.1f} | {q['irregular_share'] * 100:.2f} | {_topo(q['topology'])} "
                f"| {_topo(q['source_topology'])} | {q['hausdorff_pct']:.3f} "
                f"| {_edge_ratio(mesh, axis, middle, span):.2f} | {seconds:.2f} | {seconds / even_s:.2f} |"
            )
    return "\n".join(lines) + "\n"


def _file_cases(specs: list[str]) -> list[tuple[str, str, int, bool]]:
    """``--file PATH@TARGET`` arguments as ``CASES`` rows."""
    cases = []
    for spec in specs:
        path, _, target = spec.rpartition("@")
        if not path or not target.isdigit():
            raise SystemExit(f"--file {spec}: write PATH@TARGET, e.g. dragon_vrip.ply@5000")
        cases.append((f"{Path(path).stem}@{target}", f"file:{path}", int(target), False))
    return cases


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--params", default="{}", help="extra EngineParams fields as JSON")
    parser.add_argument("--symmetry", default=None, help="compare ours with and without this symmetry")
    parser.add_argument("--density", action="store_true", help="compare ours even, adaptive and painted")
    parser.add_argument("--file", action="append", default=[], help="PATH@TARGET: a file outside the bench")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    cases = _file_cases(args.file) if args.file else CASES
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="retopo-hub-bench-"))
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    _alias_checkout()
    extra = json.loads(args.params)
    if args.symmetry or args.density:
        text = (
            symmetry_table(args.symmetry, args.only, extra)
            if args.symmetry
            else density_table(args.only, extra)
        )
        print(text)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        return 0
    from retopo_hub.engines.features import sharp_edges
    from retopo_hub.engines.meshdata import MeshArrays
    from retopo_hub.engines.quality import quality_report

    lines = [HEADER]
    ratios: list[str] = []
    records: list[dict] = []
    irregular_ratios = []
    for name, source, target, hard in cases:
        if args.only and name not in args.only:
            continue
        verts, tris = load_case(source)
        src = MeshArrays.from_triangles(verts, tris)
        features = sharp_edges(verts, tris, SHARP_ANGLE) if hard else None
        print(f"{name}: {tris.shape[0]} triangles -> {target}", file=sys.stderr, flush=True)
        with quiet_native_stdout():
            ours_s, ours_mesh, info = run_ours(verts, tris, target, extra)
            qf_s, qf_mesh = run_quadriflow(verts, tris, target)
        ours_q = quality_report(ours_mesh, src, features)
        lines.append(row(name, "ours", ours_s, ours_q))
        record = {"mesh": name, "target": target, "ours": ours_q, "ours_s": ours_s, "ours_info": info}
        if isinstance(qf_mesh, str):
            lines.append(f"| {name} | QuadriFlow | {qf_mesh} |" + " |" * 10)
            ratios.append(f"- {name}: QuadriFlow {qf_mesh}; ours took {ours_s:.2f} s")
        else:
            qf_q = quality_report(qf_mesh, src, features)
            lines.append(row(name, "QuadriFlow", qf_s, qf_q))
            record.update(quadriflow=qf_q, quadriflow_s=qf_s)
            irr = ours_q["irregular_share"] / max(qf_q["irregular_share"], 1e-9)
            irregular_ratios.append(max(irr, 1e-3))
            ratios.append(
                f"- {name}: irregular {irr:.2f}x, p95 angle {ours_q['angle_deviation_p95']:.1f}° vs "
                f"{qf_q['angle_deviation_p95']:.1f}°, Hausdorff "
                f"{ours_q['hausdorff_pct'] / qf_q['hausdorff_pct']:.2f}x, mean "
                f"{ours_q['mean_distance_pct'] / qf_q['mean_distance_pct']:.2f}x, time {ours_s / qf_s:.3f}x"
            )
        if info:
            ratios.append(f"  - ours: {json.dumps(info)}")
        records.append(record)
    if irregular_ratios:
        geo = math.exp(sum(math.log(r) for r in irregular_ratios) / len(irregular_ratios))
        ratios.append(f"- geometric mean of irregular-share ratios (ours / QuadriFlow): {geo:.2f}x")
    text = "\n".join(lines) + "\n\nRatios (ours / QuadriFlow):\n\n" + "\n".join(ratios) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--convert":
        _convert(sys.argv[2], Path(sys.argv[3]))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
