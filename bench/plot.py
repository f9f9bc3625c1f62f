# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/results.png: three panels where a picture says it better than the tables.

Measures nothing. (1) every headline figure divided by its goal, on a log axis with the goal at 1 (left of
the line = met); (2) quad-remesh fidelity per mesh, ours against QuadriFlow; (3) Hausdorff distance per LoD,
ours against Blender's Decimate. Agg backend: no display needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OURS, THEIRS = "#1f77b4", "#ff7f0e"


def _goal_bars(results: dict[str, Any]) -> list[tuple[str, float]]:
    """(label, measured / goal) with 'lower is better' everywhere; fidelity goals use ours / theirs."""
    bars = []
    for r in results.get("quad_remesh", []):
        bars.append((f"quad time {r['mesh']}", r["time_ratio_vs_quadriflow"] / 0.15))
        bars.append((f"quad Hausdorff {r['mesh']}", r["hausdorff_pct"] / r["hausdorff_pct_quadriflow"]))
    if "lod_chain" in results:
        lod = results["lod_chain"]
        bars.append(("LoD time", lod["time_ratio_vs_decimate"] / 0.2))
        bars.append(("LoD Hausdorff (worst)", lod["hausdorff_ratio_vs_decimate_max"] / 1.2))
    if "ui" in results:
        bars.append(("longest step", results["ui"]["max_step_ms"] / 2.0))
        for name, c in results["ui"]["submit"]["by_provider"].items():
            if c.get("in_goal", True):  # the rigged case is a different input, reported in the table only
                bars.append((f"submit {name}", c["ratio_vs_gltf_export"] / 0.25))
    if "memory" in results:
        bars.append(("peak RSS 1M", results["memory"]["peak_rss_mb_1m_remesh"] / 2048.0))
    return bars


def plot(results: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(18, 6.5), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    bars = _goal_bars(results)
    ax = axes[0]
    labels = [b[0] for b in bars][::-1]
    values = [b[1] for b in bars][::-1]
    ax.barh(labels, values, color=["#2ca02c" if v <= 1 else "#d62728" for v in values])
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("measured / goal (log; <= 1 meets the goal)")
    ax.set_title("Goals")
    ax.tick_params(axis="y", labelsize=8)

    ax = axes[1]
    quad = results.get("quad_remesh", [])
    xs = range(len(quad))
    ax.bar([x - 0.2 for x in xs], [r["hausdorff_pct"] for r in quad], 0.4, color=OURS, label="ours")
    ax.bar(
        [x + 0.2 for x in xs],
        [r["hausdorff_pct_quadriflow"] for r in quad],
        0.4,
        color=THEIRS,
        label="QuadriFlow",
    )
    ax.set_xticks(list(xs), [f"{r['mesh']}\n-> {r['faces_target'] // 1000}K" for r in quad], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("Hausdorff distance, % of bbox diagonal (log)")
    ax.set_title("Quad remesh fidelity (lower is better)")
    ax.legend()

    ax = axes[2]
    levels = results.get("lod_chain", {}).get("levels", [])
    lods = [lv["lod"] for lv in levels]
    ax.plot(
        lods, [lv["hausdorff_pct"] for lv in levels], "o-", color=OURS, label="ours (submit, decimate mode)"
    )
    ax.plot(
        lods,
        [lv["hausdorff_pct_decimate"] for lv in levels],
        "s--",
        color=THEIRS,
        label="Decimate modifier (copies)",
    )
    ax.plot(
        lods,
        [lv["hausdorff_pct_decimate_chained"] for lv in levels],
        "^:",
        color="#7f7f7f",
        label="Decimate modifier (chained)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("LoD level")
    ax.set_ylabel("Hausdorff distance to the source, % of diagonal (log)")
    ax.set_title("LoD chain fidelity (lower is better)")
    ax.legend(fontsize=8)

    fig.suptitle(
        f"Retopo Hub benchmarks{' (QUICK run)' if results.get('quick') else ''}: {results['machine']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
