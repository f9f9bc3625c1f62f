# SPDX-License-Identifier: GPL-3.0-or-later
"""The headless CLI's two ratios (issue 15), each measured as whole processes in the same run:

- startup: ``bin/retopo-hub small.obj`` against a plain script that imports bpy, reads the same OBJ, runs
  ``quadriflow_remesh`` at the same face target and writes an OBJ (goal: at most 1.2x);
- batch: 20 small assets through ``bin/retopo-hub DIR --jobs 2`` against ``--jobs 1`` (goal: throughput
  at least 1.7x on a 2-core machine). Beside it, the ceiling Amdahl's law sets: a process that only runs
  ``import bpy`` is timed too, and that part of a run cannot be shared between the cores (Blender loads
  on one thread before any input is read), so even with everything after it split perfectly in two,
  ``--jobs 2`` cannot beat ``jobs1 / (import + (jobs1 - import) / 2)``.

``python bench/cli.py [--repeats N]`` runs it alone (it prints both ratios side by side); ``bench/run.py``
runs it as its ``cli`` section. Beside each wall time it records the CPU seconds of the process and the
children it waited for (``RUSAGE_CHILDREN``): on a machine others load too, the wall times swing with their
load while the CPU seconds say what the work itself costs. The CLI runs this checkout through
``bin/retopo-hub`` (the launcher users run) with a throwaway Blender user folder (shared by the runs, as a
user's is) and a job folder and ``--out`` per process, so no run reuses another's jobs. Both sides run as a
user's Python does, writing bytecode caches (``PYTHONDONTWRITEBYTECODE`` is dropped): bpy's own modules come
compiled in its wheel, while with the variable set every CLI run compiled its ~76 modules again, about 0.2 s
of CPU on Blender's critical path that no user pays after the first run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SMALL_TRIANGLES = 1_280  # a bumpy icosphere: bench/meshes.py's smallest useful rock
FACES = 400
ASSETS = 20
STARTUP_GOAL, BATCH_GOAL = 1.2, 1.7

QUADRIFLOW_SCRIPT = """
import sys
import bpy
source, target, faces = sys.argv[1], sys.argv[2], int(sys.argv[3])
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.obj_import(filepath=source)
obj = bpy.context.selected_objects[0]
bpy.context.view_layer.objects.active = obj
bpy.ops.object.quadriflow_remesh(target_faces=faces)
bpy.ops.wm.obj_export(filepath=target, export_selected_objects=True, export_materials=False)
"""


def _say(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


CPU: list[float] = []  # CPU seconds of each _timed process, in call order


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median_cpu(start: int, step: int) -> float:
    return round(statistics.median(CPU[start::step]), 3)


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started, cpu = time.perf_counter(), _cpu()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    seconds = time.perf_counter() - started
    CPU.append(_cpu() - cpu)
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(argv[:3])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return seconds


def _environ() -> dict[str, str]:
    """This process's environment as a user's shell would have it: Python may write bytecode caches."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cli(tmp: Path, name: str, inputs: list[str], *extra: str) -> tuple[list[str], dict[str, str]]:
    """A fresh user folder, job folder and --out per process: every run does all of its work."""
    env = dict(_environ(), RETOPO_HUB_PYTHON=sys.executable, BLENDER_USER_RESOURCES=str(tmp / "user"))
    argv = [str(ROOT / "bin" / "retopo-hub"), *inputs, "--out", str(tmp / name / "out")]
    return [*argv, "--cache", str(tmp / name / "cache"), "--faces", str(FACES), *extra], env


def run(*, repeats: int = 3) -> dict[str, Any]:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        tmp = Path(folder)
        small = tmp / "small.obj"
        subprocess.run([python, str(BENCH / "meshes.py"), "sphere", str(SMALL_TRIANGLES), str(small)],
                       capture_output=True, check=True)  # fmt: skip
        script = tmp / "quadriflow.py"
        script.write_text(QUADRIFLOW_SCRIPT, encoding="utf-8")
        assets = tmp / "assets"
        for i in range(ASSETS):
            (assets / f"set{i % 4}").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(small, assets / f"set{i % 4}" / f"rock{i:02d}.obj")
        env = dict(_environ(), BLENDER_USER_RESOURCES=str(tmp / "user"))
        # Warm the file cache and link the launcher's extension folder once; then alternate the two.
        _timed([python, str(script), str(small), str(tmp / "qf.obj"), str(FACES)], env)
        _timed(*_cli(tmp, "warm", [str(small)]))
        quadriflow, cli = [], []
        first = len(CPU)
        for i in range(repeats):
            quadriflow.append(_timed([python, str(script), str(small), str(tmp / "qf.obj"), str(FACES)], env))
            cli.append(_timed(*_cli(tmp, f"one{i}", [str(small)])))
        startup = statistics.median(cli) / statistics.median(quadriflow)
        _say(f"cli startup: {statistics.median(cli):.2f}s vs QuadriFlow script "
             f"{statistics.median(quadriflow):.2f}s = {startup:.2f}x")  # fmt: skip
        startup_cpu = (_median_cpu(first + 1, 2), _median_cpu(first, 2))
        serial, parallel = [], []
        first = len(CPU)
        for i in range(max(1, repeats - 1)):
            serial.append(_timed(*_cli(tmp, f"j1-{i}", [str(assets)], "--jobs", "1")))
            parallel.append(_timed(*_cli(tmp, f"j2-{i}", [str(assets)], "--jobs", "2")))
        throughput = statistics.median(serial) / statistics.median(parallel)
        batch_cpu = (_median_cpu(first, 2), _median_cpu(first + 1, 2))
        import_only = statistics.median(
            _timed([python, "-c", "import bpy"], env) for _ in range(max(1, repeats))
        )
        one = statistics.median(serial)
        ceiling = one / (import_only + (one - import_only) / 2.0)
        _say(f"cli batch of {ASSETS}: --jobs 1 {statistics.median(serial):.2f}s, --jobs 2 "
             f"{statistics.median(parallel):.2f}s = {throughput:.2f}x throughput")  # fmt: skip
    return {
        "input_triangles": SMALL_TRIANGLES,
        "faces": FACES,
        "cores": os.cpu_count(),
        "cli_seconds": round(statistics.median(cli), 3),
        "cli_runs": [round(s, 3) for s in cli],
        "quadriflow_script_seconds": round(statistics.median(quadriflow), 3),
        "quadriflow_runs": [round(s, 3) for s in quadriflow],
        "startup_ratio": round(startup, 3),
        "startup_goal_met": startup <= STARTUP_GOAL,
        "cli_cpu_seconds": startup_cpu[0],
        "quadriflow_script_cpu_seconds": startup_cpu[1],
        "load_average": round(os.getloadavg()[0], 2),
        "assets": ASSETS,
        "jobs1_seconds": round(statistics.median(serial), 3),
        "jobs2_seconds": round(statistics.median(parallel), 3),
        "jobs1_runs": [round(s, 3) for s in serial],
        "jobs2_runs": [round(s, 3) for s in parallel],
        "batch_throughput_ratio": round(throughput, 3),
        "batch_goal_met": throughput >= BATCH_GOAL,
        "import_bpy_seconds": round(import_only, 3),
        "batch_ceiling_ratio": round(ceiling, 3),
        "jobs1_cpu_seconds": batch_cpu[0],
        "jobs2_cpu_seconds": batch_cpu[1],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    results = run(repeats=parser.parse_args(argv).repeats)
    sys.stdout.write(
        f"startup  {results['startup_ratio']:.2f}x of the QuadriFlow script (goal <= {STARTUP_GOAL})  |  "
        f"batch  {results['batch_throughput_ratio']:.2f}x throughput with --jobs 2 (goal >= {BATCH_GOAL}; "
        f"ceiling {results['batch_ceiling_ratio']:.2f}x, import bpy {results['import_bpy_seconds']:.2f} s)\n"
    )
    sys.stdout.write(
        f"CPU seconds: CLI {results['cli_cpu_seconds']}, script {results['quadriflow_script_cpu_seconds']}; "
        f"--jobs 1 {results['jobs1_cpu_seconds']}, --jobs 2 {results['jobs2_cpu_seconds']}; "
        f"load average {results['load_average']} on {results['cores']} cores\n"
    )
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
