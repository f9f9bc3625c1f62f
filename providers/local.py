# SPDX-License-Identifier: GPL-3.0-or-later
"""The local provider: offline retopology in a child process, driven from a thread of the worker host process.

The worker hands the engine child the snapshot file Blender wrote for the job (``snapshot.npz``, read as it
is; ``input.npz`` is written only when there is none), relays the child's JSON progress lines as events, and
returns ``result.npz``, each level with the switch distance and screen coverage of the job's Switch Rule
(core/lodswitch.py, from the errors the engine measured). A crash or a kill of the child cannot take
Blender down; cancel kills it at once.
The engine children are warm and long-lived (``worker.engine_pool``): a job leases one, and it serves
the next job after this one, so the 0.2 s of CPU that starting Python, numpy and the native libraries costs
is paid once per child, not per job. As many are kept as jobs may run at once (``on_limit``), none started
beyond the jobs still to come (``set_spares``); ``LocalProvider.prewarm`` starts them before the first job
(the CLI asks for it as it starts). A cancelled or crashed child is never reused: the next job gets a fresh
one. Never imports bpy.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from ..core.errors import Cancelled, InputError, RetopoError
from ..core.files import atomic_write_json
from ..core.jobs import JobSpec, ResultFile, State
from ..core.lodswitch import level_switches
from ..core.options import engine_options
from ..worker.engine_pool import ENGINES, Engine
from ..worker.ipc import SNAPSHOT_NAME, save_snapshot
from ..worker.runner import WorkerContext

log = logging.getLogger(__name__)


def _engine_env(
    extension_root: str, python_paths: list[str] | tuple[str, ...]
) -> tuple[dict[str, str], str | None]:
    """The engine child's environment and working folder (a warm child serves only jobs whose env matches)."""
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
        """Start engine children for jobs of this extension root and ``sys.path`` (their spec's)."""
        ENGINES.prepare(*_engine_env(extension_root, python_paths))

    @staticmethod
    def on_limit(limit: int) -> None:
        """The runner now lets ``limit`` jobs run at once: keep as many engine children (started by the next
        prewarm or job)."""
        ENGINES.set_size(limit)

    @staticmethod
    def set_spares(count: int) -> None:
        """Only ``count`` more jobs will come (the CLI near the end of its inputs): start no child beyond."""
        ENGINES.spares = max(0, count)

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
        # Instant Meshes sizes its thread pool at a process's first run: a one-core (reproducible) job needs
        # a child that has run nothing, and leaves it unfit for the others.
        reproducible = bool(engine_options(spec.options).get("reproducible"))
        request = [str(in_path), str(params_path), str(out_path)]
        final, heard, code, tail = self._converse(
            ctx, env, cwd, request, fresh=reproducible, keep=not reproducible
        )
        if not final and not heard and not ctx.cancelled and ctx.time_left() > 0:
            # A warm child that died while idle says nothing at all: this job never ran, so a fresh child
            # runs it (one that dies on the job itself fails it below).
            final, heard, code, tail = self._converse(
                ctx, env, cwd, request, fresh=True, keep=not reproducible
            )
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
        if "done" not in final or not out_path.exists():
            log.error("engine child exited with %s; stderr tail:\n%s", code, tail)
            raise RetopoError(
                f"the local engine stopped unexpectedly (exit code {code}); see the system console"
            )
        warnings = final.get("warnings")
        if isinstance(warnings, list) and warnings:
            # Reaches the job record ("done with warnings"), the CLI report and --json.
            ctx.emit(warnings=[str(line) for line in warnings])
        return list(final.get("lods", []))

    def _converse(
        self,
        ctx: WorkerContext,
        env: dict[str, str],
        cwd: str | None,
        request: list[str],
        *,
        fresh: bool,
        keep: bool,
    ) -> tuple[dict, bool, int | None, str]:
        """Run ``request`` in a leased engine child (``fresh``: one that ran nothing; ``keep``: it may serve
        again): (its final line or {}, whether it said anything, and when it ended without a final line,
        its exit code and stderr tail)."""
        engine = ENGINES.lease(env, cwd, fresh=fresh)
        if engine is None:
            raise RetopoError("the local engine could not be started: see the system console")
        # Started now rather than at the end, so one is ready even for a job queued right behind this one.
        ENGINES.prepare(env, cwd)
        ended, guard = threading.Event(), threading.Lock()
        killer = threading.Thread(
            target=self._kill_when_cancelled, args=(engine, ctx, ended, guard), daemon=True
        )
        killer.start()
        final: dict = {}
        heard = False
        try:
            if engine.send(request):
                for msg in engine.answer():
                    heard = True
                    if "progress" in msg:
                        progress = 0.05 + 0.9 * float(msg["progress"])
                        ctx.emit(State.RUNNING, progress, str(msg.get("message", "")))
                    elif "done" in msg or "error" in msg:
                        final = msg
        finally:
            with guard:  # from here on the killer leaves this child alone: it may serve another job
                ended.set()
            crashed = not final and not ctx.cancelled and ctx.time_left() > 0
            code = engine.exit_code() if crashed else None
            tail = engine.stderr_tail() if crashed else ""
            ENGINES.give_back(engine, reuse=keep)
        return final, heard, code, tail

    @staticmethod
    def _kill_when_cancelled(
        engine: Engine, ctx: WorkerContext, ended: threading.Event, guard: threading.Lock
    ) -> None:
        """Kill the child at once when the job is cancelled or runs past its deadline (its engine call may
        not return for minutes); never once the job has ``ended`` (the job does not wait for this thread)."""
        while not ended.is_set():
            timeout = min(0.2, max(0.0, ctx.time_left()))
            if ctx.cancel_event.wait(timeout) or ctx.time_left() <= 0:
                with guard:
                    if not ended.is_set():
                        engine.kill()
                return
