# SPDX-License-Identifier: GPL-3.0-or-later
"""The local provider: offline retopology in a child process, driven from a thread of the worker host process.

The worker hands the engine child the snapshot file Blender wrote for the job (``snapshot.npz``, read as it
is; ``input.npz`` is written only when there is none), relays the child's JSON progress lines as events, and
returns ``result.npz``, each level with the switch distance and screen coverage of the job's Switch Rule
(core/lodswitch.py, from the errors the engine measured). A crash or a kill of the child cannot take
Blender down; cancel kills it at once.
Each job starts one standby child (``engines.child --standby``) for the next one, so the 0.2 s of starting
Python, numpy and the native libraries is off the next job's critical path; it exits by itself when this
process goes away (its stdin closes). As many are kept ready as jobs may run at once (``on_limit``), and
none beyond the jobs still to come (``set_spares``); ``LocalProvider.prewarm`` starts them before the first
job (the CLI asks for it as it starts). Never imports bpy.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from contextlib import suppress
from pathlib import Path

import numpy as np

from ..core.errors import Cancelled, InputError, RetopoError
from ..core.files import atomic_write_json
from ..core.jobs import JobSpec, ResultFile, State
from ..core.lodswitch import level_switches
from ..core.options import engine_options
from ..worker.ipc import SNAPSHOT_NAME, save_snapshot
from ..worker.runner import WorkerContext

log = logging.getLogger(__name__)

STDERR_TAIL = 4000  # enough of the child's stderr to explain a crash in the log, not a flood
ENGINE_COMMAND = (sys.executable, "-m", "engines.child")


def _spawn(argv: list[str], env: dict[str, str], cwd: str | None, *, stdin: int) -> subprocess.Popen:
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, cwd=cwd, env=env, text=True
    )


class _Standby:
    """Engine children started ahead of their jobs, as many as jobs may run at once (``size``); handed out
    only to a job with the same environment (extension path, test switches), else replaced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._env: dict[str, str] | None = None
        self._cwd: str | None = None
        self.size = 1  # how many to keep ready: the jobs that may start next

    def take(self, env: dict[str, str], job_paths: list[str]) -> subprocess.Popen | None:
        """A standby process, already told to run ``job_paths``; None when there is no usable one."""
        while True:
            with self._lock:
                if not self._procs:
                    return None
                proc, same = self._procs.pop(0), self._env == env
            if same and proc.poll() is None:
                try:
                    proc.stdin.write(json.dumps(job_paths) + "\n")
                    proc.stdin.close()
                    return proc
                except (OSError, ValueError):
                    pass  # it died between the check and the write
            _discard(proc)

    def prepare(self, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        """Top the standby children up to ``size`` for ``env`` (None: the last environment prepared)."""
        with self._lock:
            if env is None:
                env, cwd = self._env, self._cwd
            if env is None:
                return
            stale = [] if self._env == env else self._procs
            if stale:
                self._procs = []
            self._env, self._cwd = env, cwd
            self._procs = [p for p in self._procs if p.poll() is None]
            missing = self.size - len(self._procs)
        for proc in stale:
            _discard(proc)
        for _ in range(missing):
            try:
                proc = _spawn([*ENGINE_COMMAND, "--standby"], env, cwd, stdin=subprocess.PIPE)
            except OSError:
                log.debug("could not start a standby engine", exc_info=True)
                return
            with self._lock:
                if self._env == env and len(self._procs) < self.size:
                    self._procs.append(proc)
                    continue
            _discard(proc)  # other jobs prepared enough meanwhile

    def close(self) -> None:
        with self._lock:
            procs, self._procs, self._env = self._procs, [], None
        for proc in procs:
            # It has no job: killing it is safe, and the host's exit need not wait for its imports to end.
            with suppress(OSError):
                proc.kill()
            _discard(proc)


def _discard(proc: subprocess.Popen) -> None:
    """Stop a standby child: closing its stdin ends it cleanly; kill it if it does not go."""
    with suppress(OSError, ValueError):
        proc.stdin.close()
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        with suppress(OSError, ValueError):
            stream.close()


STANDBY = _Standby()
atexit.register(STANDBY.close)


def _engine_env(
    extension_root: str, python_paths: list[str] | tuple[str, ...]
) -> tuple[dict[str, str], str | None]:
    """The engine child's environment and working folder (a standby serves only a job whose env matches)."""
    env = dict(os.environ)
    paths = [extension_root, *python_paths] if extension_root else list(python_paths)
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    # -m puts the working folder first on sys.path: the extension root holds nothing but the add-on.
    return env, extension_root or None


class LocalProvider:
    name = "local"
    needs_network = False
    max_concurrent = max(1, (os.cpu_count() or 2) // 2)  # each child is CPU bound

    @staticmethod
    def prewarm(extension_root: str, python_paths: list[str] | tuple[str, ...]) -> None:
        """Start standby engine children for jobs of this extension root and ``sys.path`` (their spec's)."""
        STANDBY.prepare(*_engine_env(extension_root, python_paths))

    @staticmethod
    def on_limit(limit: int) -> None:
        """The runner now lets ``limit`` jobs run at once: keep as many engine children ready (topped up by
        the next prewarm or job)."""
        STANDBY.size = max(1, limit)

    @staticmethod
    def set_spares(count: int) -> None:
        """Only ``count`` more jobs will come (the CLI near the end of its inputs): start no child beyond."""
        STANDBY.size = max(0, count)

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
        params_path, out_path = work / "params.json", work / "result.npz"
        in_path = work / SNAPSHOT_NAME
        if not in_path.is_file():  # the job did not come through the host client (tests, tools)
            in_path = work / "input.npz"
            save_snapshot(spec.snapshot, in_path)
        atomic_write_json(params_path, engine_options(spec.options))
        ctx.check_cancelled()
        ctx.emit(State.RUNNING, 0.05, "remeshing")
        lods = sorted(self._run_child(spec, ctx, in_path, params_path, out_path), key=lambda i: int(i["lod"]))
        with np.load(out_path) as data:
            lod0 = np.asarray(data["lod0_verts"], dtype=np.float64)
        low, high = (lod0.min(axis=0), lod0.max(axis=0)) if lod0.size else (np.zeros(3), np.zeros(3))
        switches = level_switches(
            spec.options,
            [float(info.get("error", 0.0)) for info in lods],
            [float(info.get("switch_threshold", 0.0)) for info in lods],
            low.tolist(),
            high.tolist(),
        )
        return [
            ResultFile(
                path=str(out_path),
                kind="arrays",
                lod=int(info["lod"]),
                switch_threshold=switch.switch_distance,
                engine=str(info.get("engine", "")),
                error=float(info.get("error", 0.0)),
                screen_coverage=switch.screen_coverage,
            )
            for info, switch in zip(lods, switches, strict=True)
        ]

    def _run_child(
        self, spec: JobSpec, ctx: WorkerContext, in_path: Path, params_path: Path, out_path: Path
    ) -> list[dict]:
        env, cwd = _engine_env(spec.extension_root, spec.python_paths)
        job_paths = [str(in_path), str(params_path), str(out_path)]
        proc = STANDBY.take(env, job_paths)
        if proc is None:
            proc = _spawn([*ENGINE_COMMAND, *job_paths], env, cwd, stdin=subprocess.DEVNULL)
        # Started now rather than at the end, so it is ready even for a job queued right behind this one
        # (several objects, a batch); loading costs one core about 0.2 s while this job runs.
        STANDBY.prepare(env, cwd)
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
                "in the preferences (or --deadline)"
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
        warnings = final.get("warnings")
        if isinstance(warnings, list) and warnings:
            # Reaches the job record ("done with warnings"), the CLI report and --json.
            ctx.emit(warnings=[str(line) for line in warnings])
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
