# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender's side of the worker host: start it, send it jobs, read its events without blocking.

Same interface as ``JobRunner`` (start, cancel, drain, wait_for_event, running_ids, is_running, shutdown,
set_limit), so the job engine does not care where workers run; ``prewarm`` starts the host (and the local
engine's first warm child) ahead of the first job, ``set_spares`` says how many more jobs will come, and
``adopt`` takes over a host that ``spawn_host`` started earlier (``bin/launch.py``, before bpy loads).
Runs on Blender's main thread and starts no thread: the step function polls the host's stdout
(``ipc.LineReader``). If the host dies, or falls silent for ``ipc.SILENCE_LIMIT_S`` while it runs jobs (it
beats every second; a stopped or hung host is killed then), its running jobs are reported failed (flagged
``host_lost``; the Blender side resumes them from the journal). Never imports bpy.

Test Connection: ``probe(spec, timeout_s)`` asks the host for one provider's read-only request and
``probe_result(id)`` takes its answer once it has come; reading it keeps any job event read meanwhile for the
next ``drain``, so the two never steal each other's lines. ``measure``/``measured`` do the same for the
quality reports of finished results.
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
        self._events: list[JobEvent] = []  # read while looking for a probe's answer, for the next drain
        self._probing: set[str] = set()
        self._probe_results: dict[str, dict] = {}
        self._measuring: set[str] = set()
        self._measured: dict[str, dict] = {}
        self._limits: dict[str, int | None] = {}  # sent again to a restarted host
        # Engine children's niceness for a host started from now on (None: the engine's own, 10; the CLI
        # sets 0: no UI to yield to, and the user picks the priority with `nice`).
        self.engine_niceness: int | None = None
        self.deaths: list[float] = []  # monotonic times the host died with jobs running
        self._last_heard = time.monotonic()
        self._silenced = ""  # why the host was killed, when it was for its silence

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
        self._last_heard = time.monotonic()
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
        self._probing.clear()

    # -- the JobRunner interface -------------------------------------------------------------------

    def start(self, spec: JobSpec) -> None:
        snapshot_path = None
        if spec.snapshot is not None:
            snapshot_path = Path(spec.work_dir) / ipc.SNAPSHOT_NAME
            ipc.save_snapshot(spec.snapshot, snapshot_path)
        self._ensure_started(spec.python_paths)
        if not self._running:
            self._last_heard = time.monotonic()  # an idle host does not beat: its silence until now is fine
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

    def confirm(self, job_id: str) -> bool:
        """Tell a job waiting for its quote to be accepted to go on."""
        if job_id not in self._running:
            return False
        try:
            self._send({"op": "confirm", "job_id": job_id})
        except OSError:
            return False
        return True

    def is_running(self, job_id: str) -> bool:
        return job_id in self._running

    def running_ids(self) -> list[str]:
        return sorted(self._running)

    def _read(self) -> None:
        """Sort what the host has written: job events for ``drain``, probe answers for ``probe_result``."""
        if self._reader is None:
            return
        lines = self._reader.read_lines()
        if lines:
            self._last_heard = time.monotonic()
        for line in lines:
            try:
                message = json.loads(line)
                if "beat" in message:
                    continue  # only says the host is alive
                if "measured" in message:
                    answer = dict(message["measured"])
                    measure_id = str(answer.pop("id"))
                    self._measured[measure_id] = answer
                    self._measuring.discard(measure_id)
                    continue
                if "probe" in message:
                    answer = message["probe"]
                    probe_id = str(answer["id"])
                    self._probe_results[probe_id] = {k: answer[k] for k in ("outcome", "message")}
                    self._probing.discard(probe_id)
                else:
                    self._events.append(ipc.decode_event(message["event"]))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed line from the worker host")

    def drain(self, max_events: int = 1000) -> list[JobEvent]:
        self._read()
        events, self._events = self._events[:max_events], self._events[max_events:]
        self._kill_if_silent()
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
        message = self._silenced or f"the worker process stopped unexpectedly (exit code {proc.returncode})"
        self._silenced = ""
        self.deaths.append(time.monotonic())
        lost = [
            JobEvent(job_id, state=State.FAILED, message=message, extra={"host_lost": True})
            for job_id in sorted(self._running)
        ]
        self._running.clear()
        self._proc, self._reader = None, None
        return lost

    def _kill_if_silent(self) -> None:
        proc = self._proc
        silent = time.monotonic() - self._last_heard
        if proc is None or not self._running or silent < ipc.SILENCE_LIMIT_S or proc.poll() is not None:
            return
        log.warning("the worker host (pid %s) said nothing for %.0f s: replacing it", proc.pid, silent)
        self._silenced = f"the worker process stopped answering for {silent:.0f} s and was replaced"
        proc.kill()  # works on a stopped (SIGSTOP) process too
        proc.wait()

    # -- measuring results ---------------------------------------------------------------------------

    def measure(
        self, measure_id: str, source: str, results: dict[str, str], python_paths: tuple[str, ...]
    ) -> None:
        """Ask the host to measure result meshes against the job's source (``engines.report``)."""
        self._ensure_started(python_paths)
        self._send({"op": "measure", "id": measure_id, "source": source, "results": results})
        self._measuring.add(measure_id)

    def measured(self) -> dict[str, dict]:
        """Finished measurements, each once: ``{id: {"results": ...} or {"error": line}}``."""
        self._read()
        found, self._measured = self._measured, {}
        proc = self._proc
        if self._measuring and (proc is None or proc.poll() is not None):
            for measure_id in self._measuring:
                found[measure_id] = {"error": "the worker process stopped before the result was measured"}
            self._measuring.clear()
        return found

    # -- Test Connection -----------------------------------------------------------------------------

    def probe(self, spec: JobSpec, timeout_s: float) -> None:
        """Ask the host to test ``spec.provider``'s connection; ``spec.job_id`` names the probe."""
        self._ensure_started(spec.python_paths)
        self._send({"op": "probe", "spec": ipc.encode_spec(spec, None), "timeout_s": timeout_s})
        self._probing.add(spec.job_id)

    def probe_result(self, probe_id: str) -> dict | None:
        """The probe's ``{"outcome", "message"}`` once it has come (taken once), else None."""
        self._read()
        if probe_id in self._probe_results:
            return self._probe_results.pop(probe_id)
        proc = self._proc
        if probe_id in self._probing and (proc is None or proc.poll() is not None):
            self._probing.discard(probe_id)
            code = "" if proc is None else f" (exit code {proc.returncode})"
            return {"outcome": "unexpected", "message": f"the worker process stopped unexpectedly{code}"}
        return None

    def wait_for_event(self, timeout: float) -> bool:
        if self._reader is None:
            return False
        self._reader.wait(timeout)
        return True
