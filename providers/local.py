# SPDX-License-Identifier: GPL-3.0-or-later
"""The local provider: offline retopology in a child process, driven from a worker thread.

The worker writes the snapshot's triangles to ``input.npz``, starts ``python -m engines.child`` with the
extension root on its path, relays the child's JSON progress lines as events, and returns ``result.npz``.
A crash or a kill of the child cannot take Blender down; cancel kills it at once. Never imports bpy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from ..core.errors import Cancelled, InputError, RetopoError
from ..core.files import atomic_write_json
from ..core.jobs import JobSpec, ResultFile, State
from ..core.runner import WorkerContext

log = logging.getLogger(__name__)

ENGINE_PARAMS = (
    "mode",
    "target_faces",
    "quads",
    "lod_levels",
    "lod_final_ratio",
    "lod_max_threshold",
    "seed",
)
STDERR_TAIL = 4000  # enough of the child's stderr to explain a crash in the log, not a flood


def triangulate(face_sizes: np.ndarray, corner_verts: np.ndarray) -> np.ndarray:
    """Fan-triangulate polygons given in Blender's loop layout (int32 (T, 3))."""
    face_sizes = np.asarray(face_sizes, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(face_sizes)[:-1]))
    tri_counts = np.maximum(face_sizes - 2, 0)
    face_of_tri = np.repeat(np.arange(len(face_sizes)), tri_counts)
    # k-th triangle of a face uses corners 0, k+1, k+2.
    k = np.arange(tri_counts.sum()) - np.repeat(np.cumsum(tri_counts) - tri_counts, tri_counts)
    base = starts[face_of_tri]
    corners = np.stack([base, base + k + 1, base + k + 2], axis=1)
    return np.asarray(corner_verts, dtype=np.int32)[corners]


class LocalProvider:
    name = "local"
    label = "Local (offline)"
    needs_network = False
    max_concurrent = max(1, (os.cpu_count() or 2) // 2)  # each child is CPU bound

    def run(self, spec: JobSpec, ctx: WorkerContext) -> list[ResultFile]:
        if spec.snapshot is None:
            raise InputError("nothing to remesh: the job has no mesh snapshot")
        work = Path(spec.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        try:
            return self._run(spec, ctx, work)
        except BaseException:
            # Nothing of a failed or cancelled local job is worth keeping: leave no half-written files.
            shutil.rmtree(work, ignore_errors=True)
            raise

    def _run(self, spec: JobSpec, ctx: WorkerContext, work: Path) -> list[ResultFile]:
        ctx.emit(State.EXPORTING, 0.02, "preparing the mesh")
        tris = triangulate(spec.snapshot.face_sizes, spec.snapshot.corner_verts)
        in_path, params_path, out_path = work / "input.npz", work / "params.json", work / "result.npz"
        tmp = work / "input.tmp.npz"
        np.savez(tmp, verts=np.asarray(spec.snapshot.verts, dtype=np.float32), tris=tris)
        tmp.replace(in_path)
        atomic_write_json(params_path, {k: spec.options[k] for k in ENGINE_PARAMS if k in spec.options})
        ctx.check_cancelled()
        ctx.emit(State.RUNNING, 0.05, "remeshing")
        lods = self._run_child(spec, ctx, in_path, params_path, out_path)
        return [
            ResultFile(
                path=str(out_path),
                kind="arrays",
                lod=int(info["lod"]),
                switch_threshold=float(info.get("switch_threshold", 0.0)),
            )
            for info in lods
        ]

    def _run_child(
        self, spec: JobSpec, ctx: WorkerContext, in_path: Path, params_path: Path, out_path: Path
    ) -> list[dict]:
        env = dict(os.environ)
        paths = [spec.extension_root, *spec.python_paths] if spec.extension_root else list(spec.python_paths)
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        argv = [sys.executable, "-m", "engines.child", str(in_path), str(params_path), str(out_path)]
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=spec.work_dir,
            env=env,
            text=True,
        )
        stderr_chunks: list[str] = []
        reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
        reader.start()
        killer = threading.Thread(target=self._kill_when_cancelled, args=(proc, ctx), daemon=True)
        killer.start()
        final: dict = {}
        try:
            for line in proc.stdout:
                msg = self._parse_line(line)
                if "progress" in msg:
                    ctx.emit(State.RUNNING, 0.05 + 0.9 * float(msg["progress"]), str(msg.get("message", "")))
                elif "done" in msg or "error" in msg:
                    final = msg
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(timeout=2)
        if ctx.cancelled:
            raise Cancelled("cancelled by the user")
        if ctx.time_left() <= 0:
            raise RetopoError(
                "the local engine ran past its deadline: lower the face count or raise the local deadline "
                "in the preferences"
            )
        if final.get("unavailable"):
            # A wheel is missing on this platform: Blender's own Decimate/QuadriFlow take over (main thread).
            ctx.emit(fallback=True)
            raise RetopoError(str(final["error"]))
        if "error" in final:
            raise InputError(str(final["error"]))
        if proc.returncode != 0 or "done" not in final or not out_path.exists():
            tail = "".join(stderr_chunks)[-STDERR_TAIL:]
            log.error("engine child exited with %s; stderr tail:\n%s", proc.returncode, tail)
            raise RetopoError(
                f"the local engine stopped unexpectedly (exit code {proc.returncode}); see the system console"
            )
        return list(final.get("lods", []))

    @staticmethod
    def _parse_line(line: str) -> dict:
        try:
            msg = json.loads(line)
        except ValueError:
            log.debug("engine: %s", line.rstrip())
            return {}
        return msg if isinstance(msg, dict) else {}

    @staticmethod
    def _kill_when_cancelled(proc: subprocess.Popen, ctx: WorkerContext) -> None:
        while proc.poll() is None:
            timeout = min(0.2, max(0.0, ctx.time_left()))
            if ctx.cancel_event.wait(timeout) or ctx.time_left() <= 0:
                proc.kill()
                return
