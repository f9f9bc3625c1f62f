# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender's side of the worker host: start it, send it jobs, read its events without blocking.

Same interface as ``JobRunner`` (start, cancel, drain, wait_for_event, running_ids, is_running, shutdown,
set_limit), so the job engine does not care where workers run; ``prewarm`` starts the host (and the local
engine's standby child) ahead of the first job, ``set_spares`` says how many more jobs will come, and
``adopt`` takes over a host that ``spawn_host`` started earlier (``bin/launch.py``, before bpy loads).
Runs on Blender's main thread and starts no thread: the step function polls the host's stdout
(``ipc.LineReader``). If the host dies, its running jobs are reported
failed (flagged ``host_lost``; the Blender side resumes them from the journal). Never imports bpy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from ..core.jobs import TERMINAL_STATES, JobEvent, JobSpec, State
from . import ipc

log = logging.getLogger(__name__)


def spawn_host(
    extension_root: str,
    python_paths: tuple[str, ...],
    *,
    prewarm: bool = False,
    engine_niceness: int | None = None,
) -> subprocess.Popen:
    """Start a worker host process: ``WorkerHost`` does, and so does ``bin/launch.py`` before bpy loads (the
    CLI then takes it over with ``WorkerHost.adopt``). ``prewarm`` also starts a local engine child for jobs
    whose spec has these ``python_paths``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in python_paths if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if prewarm:
        env[ipc.PREWARM_ENV] = json.dumps([extension_root, list(python_paths)])
    if engine_niceness is not None:
        env[ipc.NICENESS_ENV] = str(engine_niceness)
    argv = [sys.executable, str(Path(extension_root) / "worker" / "main.py")]
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env, bufsize=0
    )


class WorkerHost:
    def __init__(self, extension_root: str) -> None:
        self.extension_root = extension_root
        self._proc: subprocess.Popen | None = None
        self._reader: ipc.LineReader | None = None
        self._running: set[str] = set()
        self._limits: dict[str, int | None] = {}  # sent again to a restarted host
        # Engine children's niceness for a host started from now on (None: the engine's own, 10; the CLI
        # sets 0: no UI to yield to, and the user picks the priority with `nice`).
        self.engine_niceness: int | None = None
        self.deaths: list[float] = []  # monotonic times the host died with jobs running

    # -- lifecycle ---------------------------------------------------------------------------------

    def _ensure_started(self, python_paths: tuple[str, ...], *, prewarm: bool = False) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        niceness = self.engine_niceness
        self.adopt(spawn_host(self.extension_root, python_paths, prewarm=prewarm, engine_niceness=niceness))
        log.info("started the worker host (pid %s)", self._proc.pid)
        return self._proc

    def adopt(self, proc: subprocess.Popen) -> None:
        """Drive ``proc``, a host from ``spawn_host``, unless one runs already (then ``proc`` is stopped)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()  # it has no job yet
            proc.wait()
            return
        self._proc, self._reader = proc, ipc.LineReader(proc.stdout.fileno())
        for provider, limit in self._limits.items():
            self._send({"op": "limit", "provider": provider, "limit": limit})

    def prewarm(self, python_paths: tuple[str, ...]) -> None:
        """Start the host and a local engine child now, for jobs whose spec has these ``python_paths``: the
        CLI calls it first, so both load while Blender reads the inputs."""
        if self._proc is not None and self._proc.poll() is None:
            message = {"op": "prewarm", "provider": "local", "extension_root": self.extension_root}
            self._send({**message, "python_paths": list(python_paths)})
            return
        self._ensure_started(python_paths, prewarm=True)

    def set_spares(self, provider: str, count: int) -> None:
        """Only ``count`` more jobs of ``provider`` will start: the host prepares nothing beyond them."""
        if self._proc is not None and self._proc.poll() is None:
            self._send({"op": "spares", "provider": provider, "count": count})

    def set_limit(self, provider: str, limit: int | None) -> None:
        """At most ``limit`` jobs of ``provider`` at once (None: the provider's own limit)."""
        self._limits[provider] = limit
        if self._proc is not None and self._proc.poll() is None:
            self._send({"op": "limit", "provider": provider, "limit": limit})

    def _send(self, message: dict) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise BrokenPipeError("the worker host is not running")
        proc.stdin.write(ipc.dumps(message))
        proc.stdin.flush()

    def shutdown(self, timeout: float = 5.0) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            self._send({"op": "shutdown"})
            proc.stdin.close()
            proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        self._proc, self._reader = None, None
        self._running.clear()

    # -- the JobRunner interface -------------------------------------------------------------------

    def start(self, spec: JobSpec) -> None:
        snapshot_path = None
        if spec.snapshot is not None:
            snapshot_path = Path(spec.work_dir) / ipc.SNAPSHOT_NAME
            ipc.save_snapshot(spec.snapshot, snapshot_path)
        self._ensure_started(spec.python_paths)
        self._send({"op": "start", "spec": ipc.encode_spec(spec, snapshot_path)})
        self._running.add(spec.job_id)

    def cancel(self, job_id: str) -> bool:
        if job_id not in self._running:
            return False
        try:
            self._send({"op": "cancel", "job_id": job_id})
        except OSError:
            return False
        return True

    def is_running(self, job_id: str) -> bool:
        return job_id in self._running

    def running_ids(self) -> list[str]:
        return sorted(self._running)

    def drain(self, max_events: int = 1000) -> list[JobEvent]:
        events: list[JobEvent] = []
        if self._reader is not None:
            for line in self._reader.read_lines()[:max_events]:
                try:
                    events.append(ipc.decode_event(json.loads(line)["event"]))
                except (ValueError, KeyError, TypeError):
                    log.warning("ignoring a malformed line from the worker host")
        for event in events:
            if event.state in TERMINAL_STATES or event.results is not None:
                self._running.discard(event.job_id)
        events.extend(self._lost_jobs())
        return events

    def _lost_jobs(self) -> list[JobEvent]:
        proc = self._proc
        if proc is None or proc.poll() is None or not self._running:
            return []
        # Read what it said before dying first; then whatever is still running is lost with it.
        # The advice depends on who drives the job (reopen the file, or re-run the command): jobs.step adds it
        message = f"the worker process stopped unexpectedly (exit code {proc.returncode})"
        self.deaths.append(time.monotonic())
        lost = [
            JobEvent(job_id, state=State.FAILED, message=message, extra={"host_lost": True})
            for job_id in sorted(self._running)
        ]
        self._running.clear()
        self._proc, self._reader = None, None
        return lost

    def wait_for_event(self, timeout: float) -> bool:
        if self._reader is None:
            return False
        self._reader.wait(timeout)
        return True
