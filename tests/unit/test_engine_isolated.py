# SPDX-License-Identifier: GPL-3.0-or-later
"""engines.isolated: an answer comes back, a crash costs only the call, Cancel kills, no orphan is left;
and the unwrap tries again on a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.engines import EngineCancelled, EngineError, isolated, uv
from retopo_hub.engines.pipeline import EngineParams, run
from shapes import icosphere

ROOT = Path(__file__).resolve().parents[2]


def _quad() -> dict[str, np.ndarray]:
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float32)
    return {
        "verts": verts, "face_sizes": np.array([4]), "corner_verts": np.arange(4),
        "bake_size": np.asarray(512), "padding": np.asarray(4), "jitter": np.asarray(0.0),
    }  # fmt: skip


def test_an_answer_comes_back_from_the_other_process():
    pytest.importorskip("xatlas")
    out = isolated.call("uv", "unwrap_arrays", _quad())
    assert (
        out["corner_uvs"].shape == (4, 2) and 0.0 <= out["corner_uvs"].min() <= out["corner_uvs"].max() <= 1.0
    )


def test_an_error_in_the_callee_is_one_engine_error():
    with pytest.raises(EngineError, match="KeyError"):
        isolated.call("uv", "unwrap_arrays", {})


def test_a_crash_costs_only_the_call(monkeypatch):
    monkeypatch.setattr(isolated, "_BOOT", "import os; os.abort()")
    with pytest.raises(isolated.CrashedError, match="without an answer"):
        isolated.call("uv", "unwrap_arrays", {"x": np.arange(2)})


def test_cancel_kills_the_process(monkeypatch, tmp_path):
    pid_file = tmp_path / "pid"
    boot = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    monkeypatch.setattr(isolated, "_BOOT", boot)
    started = time.monotonic()
    with pytest.raises(EngineCancelled):
        isolated.call("uv", "unwrap_arrays", {}, cancelled=lambda: pid_file.exists() and pid_file.read_text())
    assert time.monotonic() - started < 10
    _assert_gone(int(pid_file.read_text()))


def _assert_gone(pid: int) -> None:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} is still running")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_the_process_ends_when_its_parent_is_killed(tmp_path):
    pid_file = tmp_path / "pid"
    # A parent that loads the engines as the engine child does, and whose isolated process writes its
    # pid and then waits a minute before it would start.
    script = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location(
            "engines_under_test", {str(ROOT / "engines" / "__init__.py")!r},
            submodule_search_locations=[{str(ROOT / "engines")!r}],
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = package
        spec.loader.exec_module(package)
        isolated = importlib.import_module("engines_under_test.isolated")
        isolated._BOOT = isolated._BOOT.replace(
            "sys.exit(runner.serve",
            "open({str(pid_file)!r}, 'w').write(str(os.getpid())); import time; time.sleep(60)"
            "\\nsys.exit(runner.serve",
        )
        isolated.call("uv", "unwrap_arrays", {{}})
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    else:
        parent.kill()
        raise AssertionError("the isolated process never started")
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    _assert_gone(int(pid_file.read_text()))


def test_the_unwrap_tries_again_after_a_crash(monkeypatch):
    verts, tris = icosphere(3)
    mesh = run(EngineParams(mode="quad", target_faces=300), verts, tris)[0].mesh
    real, calls = isolated.call, []

    def crash_first(module, function, arrays, cancelled=None):
        calls.append(float(arrays["jitter"]))
        if len(calls) == 1:
            raise isolated.CrashedError("ended without an answer (exit -11)")
        return real(module, function, arrays, cancelled)

    monkeypatch.setattr(isolated, "call", crash_first)
    layout = uv.unwrap(mesh)
    assert calls[0] == 0.0 and calls[1] > 0.0
    assert layout.corner_uvs.shape == (len(mesh.corner_verts), 2)

    monkeypatch.setattr(isolated, "call", lambda *a, **k: (_ for _ in ()).throw(isolated.CrashedError("x")))
    with pytest.raises(uv.UvCrashedError, match="crashed on this mesh"):
        uv.unwrap(mesh)
