# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's pictures, from a real run: the source, LOD0's wireframe and the baked LOD0, side by side.

    python bench/pictures.py [--out DIR] [--no-part]    (make pictures; also a section of make bench)

For each mesh, the product's local game-ready job runs as a user would start it (``bench/bake.py``'s
``bpy.ops.retopo_hub.submit()``: quads, UVs, normal and base color baked), then three panels are rendered
from one camera: the source wearing its materials (Cycles), LOD0's edges drawn dark over its light
surface (Workbench, with a copy of LOD0 under a thin Wireframe modifier, since the ``bpy`` module renders
no viewport overlay), and LOD0 wearing the material the job dressed it in (its baked normal and base color
maps; Cycles). numpy puts them side by side on one background, a label under each
(``bench/picture_panels.py``), and ``bpy.data.images`` writes the PNG.
Meshes: the pymeshlab bunny scan with ``bench/bake.py``'s three materials (checker, color attribute, plain
color), and the generated machined part of ``bench/topology.py`` with the same materials and Hard Edges
at 40°. Writes ``<name>.png`` per mesh and ``README.md`` (the run's figures) into ``docs/pictures/``
(or ``--out``); returns the figures. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Only the standard library at the top: ``main`` points Blender at a throwaway user folder before bpy loads.
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "pictures"
FACES, MAP_PX = 3000, 1024
# name, (azimuth, elevation) of the camera in degrees from the front (-Y), local-engine settings
CASES: dict[str, tuple[tuple[float, float], dict[str, Any]]] = {
    "bunny": ((-30.0, 15.0), {}),
    "part": ((-35.0, 30.0), {"sharp_angle": 40.0}),  # the default too; explicit so the part keeps it
}


# -- one mesh ----------------------------------------------------------------------------------------
def picture(addon, source, name: str, out: Path) -> dict[str, Any]:
    """Run the game-ready job on a copy of ``source`` with three materials; write ``out/<name>.png``."""
    import bpy
    import picture_panels as panels
    from bake import _textured as give_three_materials
    from bake import game_ready_job
    from harness import copy_object, remove_object, remove_results, say, triangle_count

    (azimuth, elevation), extra = CASES[name]
    work = copy_object(source, f"{name}_source")
    give_three_materials(work)
    for key, value in extra.items():
        setattr(work.retopo_hub, key, value)
    say(f"pictures: the game-ready job on {name} ({len(work.data.polygons):,} faces)")
    seconds, record = game_ready_job(work, FACES, MAP_PX, {"n", "c"})
    details = json.loads(record.details_json)
    lod0 = bpy.data.objects[f"{work.name}_retopo"]
    quality = json.loads(lod0.get("retopo_hub_quality") or "{}")
    if not quality:
        raise RuntimeError(f"the job on {name} came back without a quality report: {details}")
    say(f"pictures: rendering {name}")
    started = time.perf_counter()
    unstage = panels.stage(work, azimuth, elevation)
    try:
        sheet = [panels.render([work], "CYCLES"), panels.wireframe(lod0), panels.render([lod0], "CYCLES")]
    finally:
        unstage()
    render_seconds = time.perf_counter() - started
    figures = {
        "mesh": name, "picture": f"{name}.png", "source_triangles": triangle_count(work.data),
        "faces": quality["faces"], "quads": quality["quads"], "irregular_share": quality["irregular_share"],
        "hausdorff_pct": quality["hausdorff_pct"], "mean_distance_pct": quality["mean_distance_pct"],
        "holes": quality["topology"]["boundary_loops"],
        "source_holes": quality["source_topology"]["boundary_loops"],
        "target_faces": FACES, "map_px": MAP_PX, "sharp_angle": float(work.retopo_hub.sharp_angle),
        "job_seconds": round(seconds, 1), "bake_seconds": round(float(details["bake_seconds"]), 1),
        "render_seconds": round(render_seconds, 1),
    }  # fmt: skip
    strip = panels.labels([
        f"source: {figures['source_triangles']:,} triangles",
        f"retopology: {figures['faces']:,} {'quads' if figures['quads'] == figures['faces'] else 'faces'}",
        f"baked LOD0: normal + color, {MAP_PX} px",
    ])  # fmt: skip
    panels.save_png(panels.compose(sheet, strip), out / f"{name}.png")
    remove_results(work.name)
    remove_object(work)
    return figures


def hard_part():
    """bench/topology.py's machined part (a chamfered block, a bored hole, 215K triangles) as an object."""
    import bpy
    import numpy as np
    import topology

    verts, tris = topology.hard_part()
    mesh = bpy.data.meshes.new("part")
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", verts.ravel())
    mesh.loops.add(tris.size)
    mesh.loops.foreach_set("vertex_index", tris.ravel())
    mesh.polygons.add(len(tris))
    mesh.polygons.foreach_set("loop_start", np.arange(0, tris.size, 3, dtype=np.int32))
    mesh.update()
    obj = bpy.data.objects.new("part", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


# -- the whole set -----------------------------------------------------------------------------------
def caption(f: dict[str, Any]) -> str:
    """One line of a picture's figures (docs/pictures/README.md and the README's caption)."""
    return (
        f"{f['source_triangles']:,} source triangles -> {f['faces']:,} faces ({f['quads']:,} quads), "
        f"{100 * f['irregular_share']:.1f}% irregular vertices, Hausdorff {f['hausdorff_pct']:.2f}% of the "
        f"diagonal; normal + base color baked at {f['map_px']} px in {f['bake_seconds']:.1f} s{_holes(f)}"
    )


def _holes(f: dict[str, Any]) -> str:
    # Said, never hidden: a hole the retopology opened shows in the pictures as a dark gap.
    opened = f["holes"] - f["source_holes"]
    return f"; LOD0 has {opened} hole{'s' if opened > 1 else ''} the source has not" if opened > 0 else ""


def write_captions(figures: list[dict[str, Any]], blender: str, out: Path) -> None:
    date = time.strftime("%Y-%m-%d", time.gmtime())
    lines = [
        "# Pictures",
        "",
        f"Made by `make pictures` (`bench/pictures.py`) on {blender}, {date}. "
        "Left to right: the source with its materials (Cycles), the retopology's edges (Workbench), LOD0 "
        "wearing its baked normal and base color maps (Cycles); one camera. Each is the local provider's "
        f"game-ready job as a user starts it: quads, target {FACES:,} faces, UVs on, `--bake normal,color "
        f"--bake-size {MAP_PX}`, no LoDs.",
        "",
    ]
    for f in figures:
        hard = f" (hard edges above {f['sharp_angle']:.0f}°)" if f["sharp_angle"] else ""
        lines += [f"![{f['mesh']}]({f['picture']})", "", f"**{f['mesh']}**{hard}: {caption(f)}.", ""]
    lines += ["```json", json.dumps(figures, indent=2), "```", ""]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def run(addon, bunny, out: Path, *, part: bool = True) -> list[dict[str, Any]]:
    """Every picture into ``out`` (the bunny object comes loaded; the part is generated here)."""
    import bpy
    from harness import remove_object, say

    blender = f"Blender {bpy.app.version_string} (bpy module)"
    figures = [picture(addon, bunny, "bunny", out)]
    if part:
        source = hard_part()
        try:
            figures.append(picture(addon, source, "part", out))
        finally:
            remove_object(source)
    write_captions(figures, blender, out)
    say(f"pictures: {', '.join(f['picture'] for f in figures)} in {out}")
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(ROOT)})"
    )
    parser.add_argument("--no-part", action="store_true", help="the bunny only")
    args = parser.parse_args(argv)
    user = tempfile.mkdtemp(prefix="retopo-hub-pictures-")
    # Before bpy loads the extension: it goes into a throwaway user folder, never a real Blender setup.
    os.environ["BLENDER_USER_RESOURCES"] = user
    started = time.perf_counter()
    try:
        import bpy
        import data
        import harness

        addon = harness.install_extension()
        bpy.ops.wm.read_homefile(use_empty=True)
        bunny = data.load_scan("bunny", data.extract_scans()["bunny"]).obj
        harness.select_only(None)
        run(addon, bunny, args.out, part=not args.no_part)
        addon.jobs.session.shutdown()
        harness.say(f"pictures: done in {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(user, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
