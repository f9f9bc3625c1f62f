# SPDX-License-Identifier: GPL-3.0-or-later
"""``make bench``: every benchmark of Retopo Hub against Blender's own tools, in the pinned bpy.

    python bench/run.py [--quick] [--only quad,lod,ui,import,cli,bake,lodlook,pictures] [--out DIR]

Installs the built extension zip (dist/, from ``make build``) into a throwaway Blender user folder, loads the
inputs (``data``), runs the sections (``quad``: goals 1 and 4, ``lod``: goal 2, ``ui``: goal 3, ``imports``:
goal 5, ``cli``: the headless CLI's startup and ``--jobs`` ratios as whole processes, ``bake``: the baked
maps' quality in Cycles renders and the game-ready job's speed against Blender's manual pipeline, ``lodlook``:
issue 14's LoD look, each level rendered with LOD0's base color map from its switch distance, ``pictures``:
the README's pictures, rendered from a real game-ready job) and writes results.json, RESULTS.md and
results.png (``report``) into bench/ (or ``--out``); the pictures go to docs/pictures/ (into
``<out>/pictures`` when ``--out`` or ``--quick`` sends the figures elsewhere).
``--quick`` swaps the ~1M-triangle mesh for the ~100K one and takes fewer repeats and samples: for
development only, its figures are not the published ones. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SECTIONS = ("quad", "lod", "ui", "import", "cli", "bake", "lodlook", "pictures")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller meshes, fewer repeats (development)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default bench/, or build/bench-quick with --quick)",
    )
    args = parser.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    if args.out is None:
        # Quick figures are for development: never over the published ones.
        args.out = BENCH.parent / "build" / "bench-quick" if args.quick else BENCH
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; pick from {', '.join(SECTIONS)}")
    return args


def _settings(quick: bool) -> dict[str, Any]:
    """Repeats and sample counts: enough for stable medians, small enough for ~15 minutes on 2 cores."""
    if quick:
        return {
            "repeats": 1,
            "qf_repeats": 1,
            "big_repeats": 1,
            "big_qf_repeats": 1,
            "samples": 50_000,
            "lod_repeats": 1,
            "import_repeats": 1,
            "ui_jobs": 20,
            "ui_trials": 1,
            "gltf_repeats": 1,
        }
    return {
        "repeats": 3,
        "qf_repeats": 3,
        "big_repeats": 3,
        "big_qf_repeats": 2,
        "samples": 200_000,
        "lod_repeats": 2,
        "import_repeats": 3,
        "ui_jobs": 20,
        "ui_trials": 2,
        "gltf_repeats": 2,
    }


def _quad(addon, inputs, cfg) -> tuple[list[dict], dict]:
    import importlib

    import quad

    # The installed copy of the engine's closest-point index: the same code the product ships.
    index_cls = importlib.import_module(addon.__name__ + ".engines.project").TriangleIndex
    rows = []
    for key, target in (("bunny", 5000), ("face_scan", 5000), ("sphere_100k", 5000)):
        item = inputs[key]
        rows.append(
            quad.run_case(
                addon,
                index_cls,
                item.obj.name,
                item.obj,
                target,
                repeats=cfg["repeats"],
                qf_repeats=cfg["qf_repeats"],
                samples=cfg["samples"],
            )
        )
    big = inputs["big"]
    rows.append(
        quad.run_case(
            addon,
            index_cls,
            big.obj.name,
            big.obj,
            10_000,
            repeats=cfg["big_repeats"],
            qf_repeats=cfg["big_qf_repeats"],
            samples=cfg["samples"],
            track_memory=True,
        )
    )
    memory = dict(rows[-1].pop("memory"))
    memory = {
        "peak_rss_mb_1m_remesh": memory.pop("peak_rss_mb"),
        "mesh": big.obj.name,
        "source_faces": rows[-1]["source_faces"],
        "faces_target": 10_000,
        **memory,
    }
    memory["goal_met"] = memory["peak_rss_mb_1m_remesh"] < 2048.0
    return rows, memory


def main(argv: list[str]) -> int:
    args = _parse(argv)
    # `kill -USR1 <pid>` prints every thread's stack: the way to see where a long benchmark is.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    user = tempfile.mkdtemp(prefix="retopo-hub-bench-")
    # Before bpy is imported: the extension goes into a throwaway user folder, never a real Blender setup.
    os.environ["BLENDER_USER_RESOURCES"] = user
    started = time.perf_counter()
    try:
        import bpy
        import data
        import harness
        import report

        # Which Blender is measured (make bench: the newest supported, .venv's bpy); also in results.json.
        blender = f"Blender {bpy.app.version_string} (bpy module, Python {sys.version.split()[0]})"
        sys.stderr.write(f"bench: measuring {blender}\n")
        addon = harness.install_extension()
        bpy.ops.wm.read_homefile(use_empty=True)
        cfg = _settings(args.quick)
        results: dict[str, Any] = {
            "machine": harness.machine(),
            "blender": blender,
            "quick": args.quick,
            "settings": cfg,
        }
        inputs = data.load_all(args.quick)
        results["inputs"] = {
            k: {"object": v.obj.name, "faces": len(v.obj.data.polygons), "description": v.description}
            for k, v in inputs.items()
        }
        if "quad" in args.only:
            results["quad_remesh"], results["memory"] = _quad(addon, inputs, cfg)
        if "lod" in args.only:
            import lod

            results["lod_chain"] = lod.run(
                addon, inputs["big"].obj, repeats=cfg["lod_repeats"], samples=cfg["samples"]
            )
        if "ui" in args.only:
            import ui

            results["ui"] = ui.run(
                addon,
                inputs["big"].obj,
                jobs=cfg["ui_jobs"],
                trials=cfg["ui_trials"],
                gltf_repeats=cfg["gltf_repeats"],
            )
        if "import" in args.only:
            import imports

            results["import"] = imports.run(addon, repeats=cfg["import_repeats"])
        if "cli" in args.only:
            import cli

            results["cli"] = cli.run(repeats=1 if args.quick else 3)
        if "bake" in args.only:
            import bake

            results["bake"] = bake.run(addon, inputs, quick=args.quick)
        if "lodlook" in args.only:
            import lodlook

            results["lod_look"] = lodlook.run(addon, inputs["bunny"].obj)
        if "pictures" in args.only:
            import pictures

            # Only a full run into bench/ renews the README's pictures; other runs keep theirs beside them.
            folder = pictures.OUT if args.out.resolve() == BENCH else args.out / "pictures"
            figures = pictures.run(addon, inputs["bunny"].obj, folder)
            results["pictures"] = {"folder": os.path.relpath(folder, args.out), "figures": figures}
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        report.write_all(results, args.out)
        harness.say(f"done in {results['total_seconds']:.0f}s: {args.out / 'RESULTS.md'}")
        addon.jobs.session.shutdown()
    finally:
        shutil.rmtree(user, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
