# SPDX-License-Identifier: GPL-3.0-or-later
"""Decimation of meshes with open borders: fins on the borders (``engines/fins.py``) against the same
decimation without them (``decimate.MAX_FINNED_SHARE = 0``, what it did before), side by side in one run.

    .venv/bin/python bench/borders.py [--repeats N]

Inputs, both public and not in this repository: pymeshlab's open bunny (``bunny10k_textured.obj``, 9,999
triangles, five holes under its base) and its face range scan (``rangemaps/face000.ply``, 22 parts, 39
open borders), read as bench/topology.py reads them. Each is decimated by ``engines.decimate.decimate`` (the
local provider's decimate mode, and every level of a LoD chain without UVs) to 50%, 20% and 5% of its
triangles. Reported per run: triangles, the median time of the repeats, the symmetric Hausdorff and mean
distance to the source (% of its diagonal, 200,000 samples a side, bench/fidelity.py) and the open borders
left (``quality.topology``). numpy and the engine only (no Blender).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import fidelity  # noqa: E402
import topology as samples  # noqa: E402  (its pymeshlab reader, cached as .npz)

CASES = (("bunny10k (open)", "bunny10k_textured.obj"), ("face scan", "rangemaps/face000.ply"))
RATIOS = (0.5, 0.2, 0.05)
SAMPLES = 200_000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    samples._alias_checkout()
    from retopo_hub.engines import decimate
    from retopo_hub.engines.meshdata import MeshArrays
    from retopo_hub.engines.project import TriangleIndex
    from retopo_hub.engines.quality import topology

    finned_share = decimate.MAX_FINNED_SHARE
    print("| mesh | target | way | triangles | seconds | time ratio | Hausdorff % | mean % | open borders |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---|")
    for name, file in CASES:
        verts, tris = samples.load_sample(file)
        source = MeshArrays.from_triangles(verts, tris)
        surface = fidelity.SourceSurface(verts, tris, TriangleIndex, SAMPLES)
        borders = topology(source)["boundary_loops"]
        for ratio in RATIOS:
            target = max(4, round(ratio * tris.shape[0]))
            seconds: dict[str, float] = {}
            for way, share in (("fins", finned_share), ("no fins", 0.0)):
                decimate.MAX_FINNED_SHARE = share
                times = []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    made = decimate.decimate(source, target)
                    times.append(time.perf_counter() - started)
                decimate.MAX_FINNED_SHARE = finned_share
                seconds[way] = statistics.median(times)
                far = surface.compare(made.verts, made.face_sizes, made.corner_verts)
                ratio_text = f"{seconds['fins'] / seconds[way]:.2f}x" if way == "no fins" else "-"
                print(
                    f"| {name} | {target:,} | {way} | {made.face_count:,} | {seconds[way]:.3f} | "
                    f"{ratio_text} | {far.hausdorff_pct:.3f} | {far.mean_pct:.4f} | "
                    f"{topology(made)['boundary_loops']} of {borders} |"
                )
    print("\ntime ratio: fins / no fins on the same input and target, medians of the repeats")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
