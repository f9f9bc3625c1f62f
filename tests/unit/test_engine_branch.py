# SPDX-License-Identifier: GPL-3.0-or-later
"""LoDs made from the source on a second core (engines/branch.py) through pipeline.run's ``workers``."""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.engines import branch, pipeline
from retopo_hub.engines.quality import level_errors
from shapes import icosphere

pytest.importorskip("fast_simplification")


def test_split_balances_the_passes_of_the_bench_chain():
    # The bench's chain: 1.31M source, LOD0 983K, 5 levels down to 0.15 (engines/lod.py's curve).
    targets = [869_281, 659_232, 443_447, 268_387, 147_456]
    ours, theirs = branch.split(1_310_720, 983_040, targets)
    assert ours == [1] and theirs == [2, 3, 4, 5]
    assert branch.split(1_000_000, 750_000, [500_000]) == ([], [1])


def _bumpy(subdivisions: int = 5):
    verts, tris = icosphere(subdivisions)
    verts = verts.astype(np.float64)
    verts *= 1.0 + 0.05 * np.sin(6.0 * verts[:, :1]) * np.cos(4.0 * verts[:, 2:3])
    return verts, tris


def test_without_fork_every_level_is_made_here(monkeypatch):
    monkeypatch.setattr(branch, "MIN_TRIANGLES", 1_000)
    monkeypatch.setattr(pipeline, "can_fork", lambda: False)
    monkeypatch.setattr(pipeline, "Branch", None)  # would raise if a branch were started
    verts, tris = _bumpy(4)
    params = pipeline.EngineParams(mode="decimate", target_faces=3_000, quads=False, lod_levels=2)
    assert [r.lod for r in pipeline.run(params, verts, tris, workers=2)] == [0, 1, 2]


# Run in a fresh interpreter: this one may hold threads of earlier tests, and then it must not fork.
FRESH = """
import importlib.util, multiprocessing, sys
root, unit = sys.argv[1:3]
sys.path.insert(0, unit)
spec = importlib.util.spec_from_file_location(
    "retopo_hub", root + "/__init__.py", submodule_search_locations=[root]
)
package = importlib.util.module_from_spec(spec)
sys.modules["retopo_hub"] = package
spec.loader.exec_module(package)
import test_engine_branch as t
getattr(t, sys.argv[3])()
"""


def two_workers_make_the_same_levels() -> None:
    branch.MIN_TRIANGLES = 1_000
    started = []
    real = pipeline.Branch
    pipeline.Branch = lambda *a: started.append(1) or real(*a)
    verts, tris = _bumpy()
    params = pipeline.EngineParams(mode="decimate", target_faces=12_000, quads=False, lod_levels=3)
    one = pipeline.run(params, verts, tris)
    two = pipeline.run(params, verts, tris, workers=2)
    assert [r.lod for r in two] == [0, 1, 2, 3]
    assert [r.target_faces for r in two] == [r.target_faces for r in one]
    for item in two[1:]:
        assert abs(item.mesh.face_count - item.target_faces) <= 0.1 * item.target_faces
        assert item.error > 0.0
    # The errors are the same measure as level_errors', whichever process made the level.
    errors = level_errors(two[0].mesh, [r.mesh for r in two[1:]])
    assert [r.error for r in two[1:]] == pytest.approx(errors)
    assert started == [1], "the second process made some of the levels"
    assert multiprocessing.active_children() == []


def _in_fresh_interpreter(name: str) -> None:
    unit = Path(__file__).resolve().parent
    run = subprocess.run(
        [sys.executable, "-c", FRESH, str(unit.parents[1]), str(unit), name],
        capture_output=True, text=True, timeout=600, env={**os.environ, "RETOPO_HUB_PURE": "1"}, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the branch forks: Linux only")
def test_two_workers_make_the_same_levels_from_the_source():
    _in_fresh_interpreter("two_workers_make_the_same_levels")


def test_small_jobs_stay_in_one_process():
    ratios = [1.0, 0.5, 0.2]
    assert branch.plan_branch(1_280, 600, ratios) is None  # too small to pay for a second process
    assert branch.plan_branch(500_000, 495_000, ratios) is None  # LOD0 is the source as it is
    assert branch.plan_branch(500_000, 300_000, [1.0]) is None  # no LoDs
    assert branch.plan_branch(500_000, 300_000, ratios) == ([150_000, 60_000], [], [1, 2])


def branch_ends_when_closed_early() -> None:
    verts, tris = _bumpy(4)
    with branch.Branch(verts, tris, [2_000, 500]) as started:
        pass  # closed before its levels were taken, as a cancelled job does
    assert not started._process.is_alive()
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the branch forks: Linux only")
def test_the_branch_ends_when_closed_early():
    _in_fresh_interpreter("branch_ends_when_closed_early")
