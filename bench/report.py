# SPDX-License-Identifier: GPL-3.0-or-later
"""Turns the measured figures into bench/results.json, bench/RESULTS.md and bench/results.png.

Measures nothing. Every goal gets a plain yes/no next to its figure; a missed goal is said so in words, with
the numbers that explain it (``notes``). The plot is made with matplotlib's Agg backend (no display); if
matplotlib is missing, the Markdown says so and no picture is written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from notes import gap_notes, goal_rows

PLOT = "results.png"


def _yes(value: bool | None) -> str:
    return "n/a" if value is None else ("**yes**" if value else "**NO**")


def _quad_table(rows: list[dict]) -> list[str]:
    out = [
        "| mesh | source faces | target | faces ours / QF | quads ours / QF | seconds ours / QF | time "
        "ratio | Hausdorff % ours / QF | mean % ours / QF | open edges ours / QF / source | goals met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        missed = [k for k, ok in r["goals"].items() if not ok]
        out.append(
            f"| {r['mesh']} | {r['source_faces']:,} | {r['faces_target']:,} | {r['faces']:,} / "
            f"{r['faces_quadriflow']:,} | {100 * r['quad_fraction']:.1f}% / "
            f"{100 * r['quad_fraction_quadriflow']:.1f}% | {r['seconds']:.2f} / "
            f"{r['seconds_quadriflow']:.2f} | {r['time_ratio_vs_quadriflow']:.3f}x | "
            f"{r['hausdorff_pct']:.3f} / {r['hausdorff_pct_quadriflow']:.3f} | {r['mean_pct']:.4f} / "
            f"{r['mean_pct_quadriflow']:.4f} | {r['boundary_edges']:,} / {r['boundary_edges_quadriflow']:,} "
            f"/ {r['boundary_edges_source']:,} | {'all' if not missed else 'missed: ' + ', '.join(missed)} |"
        )
    return out


def _lod_table(lod: dict) -> list[str]:
    out = [
        "| LoD | triangle budget | ratio of source | Hausdorff % ours | Hausdorff % Decimate (copies) | "
        "Hausdorff % Decimate (chained) | ratio ours / Decimate | mean % ours / Decimate | "
        "min angle p5 ours / Decimate |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in lod["levels"]:
        out.append(
            f"| {lv['lod']} | {lv['target_triangles']:,} | {lv['ratio_of_source']:.3f} | "
            f"{lv['hausdorff_pct']:.4f} | {lv['hausdorff_pct_decimate']:.4f} | "
            f"{lv['hausdorff_pct_decimate_chained']:.4f} | {lv['hausdorff_ratio_vs_decimate']:.2f}x | "
            f"{lv['mean_pct']:.5f} / {lv['mean_pct_decimate']:.5f} | "
            f"{lv.get('min_angle_p5_deg', float('nan')):.1f}° / "
            f"{lv.get('min_angle_p5_deg_decimate', float('nan')):.1f}° |"
        )
    return out


def _ui_lines(ui: dict) -> list[str]:
    out = []
    for i, f in enumerate(ui["freeze"], start=1):
        st, im = f["steps"], f["imports"]
        out.append(
            f"- Trial {i}: {f['jobs_done']}/{f['jobs']} jobs done in {f['wall_seconds']:.1f} s; "
            f"{st.get('count', 0)} steps: max **{st.get('max_ms', 0):.2f} ms** (main-thread CPU max "
            f"{f['steps_cpu_max_ms']:.2f} ms), p99 {st.get('p99_ms', 0):.2f} ms, median "
            f"{st.get('median_ms', 0):.3f} ms. Imports of the finished results (excluded above): "
            f"{im.get('count', 0)}, median {im.get('median_ms', 0):.1f} ms, max {im.get('max_ms', 0):.1f} "
            f"ms. Submitting all {f['jobs']} jobs took {f['submit_20_jobs_ms']:.0f} ms."
        )
    sub = ui["submit"]
    out += [
        "",
        f"Submit on `{sub['mesh']}` ({sub['faces']:,} faces); Blender's glTF exporter alone: "
        f"{sub['gltf_export_seconds']:.2f} s.",
        "",
        "| provider | submit main-thread seconds | of which snapshot / snapshot file / FBX export | ratio "
        "vs glTF export | goal <= 0.25x |",
        "|---|---:|---:|---:|---|",
    ]
    for name, c in sub["by_provider"].items():
        ok = c["ratio_vs_gltf_export"] <= 0.25
        verdict = _yes(ok) if c.get("in_goal", True) else f"outside the goal ({'met' if ok else 'over'})"
        p = c["parts_seconds"]
        out.append(
            f"| {name} | {c['seconds']:.3f} | {p['snapshot']:.3f} / {p['snapshot_file']:.3f} / "
            f"{p['fbx_export']:.3f} | {c['ratio_vs_gltf_export']:.3f}x | {verdict} |"
        )
    rigged = [name for name, c in sub["by_provider"].items() if not c.get("in_goal", True)]
    if rigged:
        out += [
            "",
            f"{', '.join(rigged)}: the same mesh with an Armature modifier. Its FBX upload carries bones and "
            "skin weights, which only Blender's FBX exporter writes, on the main thread; the goal's mesh is "
            "static, so this row is shown for what a rigged character costs, not counted in the headline.",
        ]
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` "
        f"({'QUICK development run: not the published figures' if results.get('quick') else 'full run'}) on "
        f"{results['machine']}, {results.get('date', '')}, in {results.get('total_seconds', 0):.0f} s. "
        "Every ratio compares two things measured in the same run on the same input (these machines are "
        "shared and noisy); times are medians of the repeats listed in results.json.",
        "",
        "## Goals",
        "",
        "| # | what | measured | goal | met |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {what} | {measured} | {goal} | {_yes(ok)} |"
        for n, what, measured, goal, ok in goal_rows(results)
    ]
    notes = gap_notes(results)
    if notes:
        lines += ["", "### Missed goals, plainly", ""] + [f"- {n}" for n in notes]
    if (Path(results["_out"]) / PLOT).is_file():
        lines += ["", f"![measured / goal per benchmark, and fidelity per mesh and LoD]({PLOT})"]
    lines += ["", "## Inputs", ""]
    for key, item in results.get("inputs", {}).items():
        lines.append(f"- `{item['object']}` ({key}): {item['faces']:,} faces, {item['description']}")
    if "quad_remesh" in results:
        lines += [
            "",
            "## 1. Quad remesh vs QuadriFlow",
            "",
            "Ours: `bpy.ops.retopo_hub.submit()` (snapshot, engine child process, import) wall time. "
            "QuadriFlow: "
            '`bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=N, seed=0)` on a copy. Distances '
            "are symmetric, sampled on both surfaces, in % of the source's bounding-box diagonal.",
            "",
        ]
        lines += _quad_table(results["quad_remesh"])
        lines += [
            "",
            "Open edges are edges used by one face: on a closed source, holes. Where our time goes (engine "
            "alone = the same job in-process; submit and import = Blender's main thread): "
            + "; ".join(
                f"{r['mesh']}: engine {r['seconds_engine_only']:.2f} s, submit {r['seconds_submit']:.2f} s, "
                f"import {r['seconds_import']:.2f} s, in the scene after "
                f"{r.get('seconds_in_scene', r['seconds']):.2f} s of {r['seconds']:.2f} s"
                for r in results["quad_remesh"]
            )
            + ".",
        ]
    if "lod_chain" in results:
        lod = results["lod_chain"]
        lines += [
            "",
            "## 2. LoD chain vs Decimate",
            "",
            f"`{lod['mesh']}` ({lod['source_triangles']:,} triangles), {lod['lod_levels']} levels, "
            f'lodFinalRatio {lod["lod_final_ratio"]}. Ours: `submit()` with `mode="decimate"`, LOD0 target '
            f"{lod['levels'][0]['target_triangles']:,} then the product's chain: {lod['seconds']:.2f} s "
            f"(the engine alone, in-process: {lod['seconds_engine_only']:.2f} s; main thread: submit "
            f"{lod['seconds_submit']:.2f} s, import {lod['seconds_import']:.2f} s; the levels were in the "
            f"scene after {lod.get('seconds_in_scene', lod['seconds']):.2f} s, "
            f"{lod.get('time_in_scene_ratio_vs_decimate', lod['time_ratio_vs_decimate']):.3f}x, the rest is "
            "the wait for LOD0's quality report). Blender: one Decimate "
            "(COLLAPSE) modifier per level on copies of the source at the same triangle budgets, evaluated "
            f"by one depsgraph update: {lod['seconds_decimate']:.2f} s "
            f"(**{lod['time_ratio_vs_decimate']:.3f}x**); chained level after level like ours: "
            f"{lod['seconds_decimate_chained']:.2f} s ({lod['time_ratio_vs_decimate_chained']:.3f}x).",
            "",
        ]
        lines += _lod_table(lod)
    if "ui" in results:
        lines += ["", "## 3. Main-thread time", "", *_ui_lines(results["ui"])]
    if "memory" in results:
        m = results["memory"]
        lines += [
            "",
            "## 4. Memory",
            "",
            f"Peak RSS of the engine child remeshing `{m['mesh']}` ({m['source_faces']:,} faces) to "
            f"{m['faces_target']:,}: **{m['peak_rss_mb_1m_remesh']:.0f} MiB**, read from the kernel's "
            f"high-water mark (VmHWM); the worker host peaked at {m['peak_rss_mb_worker_host']:.0f} MiB. "
            "`getrusage(RUSAGE_CHILDREN)` is not used: after a fork from Blender it reports Blender's size "
            "(see bench/memory.py).",
        ]
    if "import" in results:
        lines += [
            "",
            "## 5. Import of result files (~100K faces, `import_mesh_file`)",
            "",
            "| format | returned by | faces (quads) | file MB | seconds |",
            "|---|---|---:|---:|---:|",
        ]
        for name, r in results["import"].items():
            lines.append(
                f"| {name} | {r['providers']} | {r['faces']:,} ({r['quads']:,}) | {r['file_mb']} | "
                f"{r['seconds']:.2f} |"
            )
    if "cli" in results:
        c = results["cli"]
        lines += [
            "",
            "## 6. Headless CLI (whole processes)",
            "",
            "| startup: `bin/retopo-hub` on one small mesh vs a bpy + QuadriFlow + OBJ script | goal | met "
            "| batch: 20 small assets, `--jobs 2` vs `--jobs 1` throughput | goal | met |",
            "|---|---|---|---|---|---|",
            f"| {c['cli_seconds']:.2f} s / {c['quadriflow_script_seconds']:.2f} s = "
            f"**{c['startup_ratio']:.2f}x** | <= 1.2x | {_yes(c['startup_goal_met'])} | "
            f"{c['jobs1_seconds']:.2f} s / {c['jobs2_seconds']:.2f} s = "
            f"**{c['batch_throughput_ratio']:.2f}x** | >= 1.7x | {_yes(c['batch_goal_met'])} |",
            "",
            f"{c['input_triangles']:,} triangles to {c['faces']} faces, {c['cores']} cores; medians of "
            f"{len(c['cli_runs'])} runs each (CLI {c['cli_runs']}, script {c['quadriflow_runs']}; --jobs 1 "
            f"{c['jobs1_runs']}, --jobs 2 {c['jobs2_runs']}). CPU seconds (the process and the children it "
            f"waited for): CLI {c['cli_cpu_seconds']}, script {c['quadriflow_script_cpu_seconds']}; --jobs 1 "
            f"{c['jobs1_cpu_seconds']}, --jobs 2 {c['jobs2_cpu_seconds']}; load average at the end "
            f"{c['load_average']} on {c['cores']} cores (other work on the machine moves the wall times).",
        ]
        if "batch_ceiling_ratio" in c:
            lines += [
                "",
                f"Ceiling of the batch ratio: `import bpy` alone takes {c['import_bpy_seconds']:.2f} s on "
                f"one thread before any input is read, so with the rest of the --jobs 1 run split perfectly "
                f"over 2 cores, --jobs 2 could reach at most {c['jobs1_seconds']:.2f} / "
                f"({c['import_bpy_seconds']:.2f} + {c['jobs1_seconds'] - c['import_bpy_seconds']:.2f} / 2) "
                f"= **{c['batch_ceiling_ratio']:.2f}x**; the run reached "
                f"{c['batch_throughput_ratio'] / c['batch_ceiling_ratio']:.0%} of that.",
            ]
    if "bake" in results:
        import bake

        lines += ["", "## 7. Baked maps (normal, base color) on LOD0", "", *bake.lines(results["bake"])]
    if "lod_look" in results:
        import lodlook

        lines += [
            "",
            "## 8. LoD look: levels rendered with LOD0's maps",
            "",
            *lodlook.lines(results["lod_look"]),
        ]
    if "pictures" in results:
        from pictures import caption

        shown = results["pictures"]
        lines += ["", "## 9. Pictures (source, retopology wireframe, baked LOD0)", ""]
        for f in shown["figures"]:
            lines += [
                f"![{f['mesh']}]({shown['folder']}/{f['picture']})",
                "",
                f"{f['mesh']}: {caption(f)}.",
                "",
            ]
    return "\n".join(lines) + "\n"


def write_all(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results.setdefault("date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    try:
        from plot import plot

        plot(results, out / PLOT)
    except ImportError:
        (out / PLOT).unlink(missing_ok=True)
    (out / "RESULTS.md").write_text(markdown({**results, "_out": str(out)}), encoding="utf-8")
