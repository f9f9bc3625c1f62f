# SPDX-License-Identifier: GPL-3.0-or-later
"""Warm engine children in the worker host: each serves jobs and measurements in turn.

Starting Python, numpy and the engine's native libraries costs an engine child about 0.2 s of CPU; on small
jobs that was most of the work, and with ``--jobs 2`` it competed for the same two cores. So an engine child
(``engines.serve``) stays alive between requests and ``ENGINES`` keeps the idle ones:

- ``lease(env, cwd)`` hands out an idle child started with the same environment (extension path,
  ``sys.path``, niceness, test switches) or starts one; ``give_back`` keeps it for the next request only
  when it said ``{"ready": true}`` after its last one (a child that crashed, was killed, or retired itself
  because a big job left its memory high is never reused) and fewer than ``size`` are idle.
  ``fresh=True`` takes only a child that has served nothing: Instant Meshes' thread pool takes its size
  from the first run in a process, so a reproducible (one-core) job needs a new one, and is not given back.
- ``prepare`` starts children ahead of the jobs: as many as jobs may run at once (``size``), never more
  idle ones than jobs still to come (``spares``, None when unknown).
- ``measure`` runs a quality measurement in an idle child when there is one (None otherwise: the caller
  measures in its own thread). Two measurements in this process's threads take twice as long as one,
  whatever the cores: the GIL.
- Instant Meshes takes no thread count; its pool sizes itself from the process's CPU affinity. So when N
  jobs are expected to run at once (N = ``size``, or fewer when fewer jobs are still to come), each child
  started gets its own ``cores // N`` cores (Linux, ``sched_setaffinity``; none when that is under one),
  and parallel jobs do not oversubscribe the CPU. A job expected to run alone keeps every core.

Cancelling a job kills its child (``Engine.kill``); the next lease starts a fresh one. A child whose stdin
closes (this process exits or dies) ends by itself. Stdlib only; runs in the worker host, never in Blender.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import suppress

log = logging.getLogger(__name__)

SERVE_COMMAND = (sys.executable, "-m", "engines.serve")
STDERR_TAIL = 4000  # enough of a child's stderr to explain a crash in the log, not a flood
FINAL_KEYS = ("done", "error", "measured")  # a line with one of these ends a request's answer


class Engine:
    """One serving engine child: send a request, read its answer's lines, then know if it serves again."""

    def __init__(self, env: dict[str, str], cwd: str | None, cpus: set[int] | None = None) -> None:
        self.env = env
        self.served = 0
        self.ready = True  # it takes a request now; False once it ended or was killed
        self.proc = subprocess.Popen(
            SERVE_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd, env=env, text=True,
        )  # fmt: skip
        if cpus:
            # Set from outside (preexec_fn is unsafe in this threaded process) while the child still imports:
            # the native thread pool takes its size from the affinity at the first run, long after this.
            with suppress(OSError, AttributeError):
                os.sched_setaffinity(self.proc.pid, cpus)
        self._stderr: deque[str] = deque()
        self._stderr_size = 0
        # Drained all the time: a chatty child (RETOPO_HUB_ENGINE_LOG=DEBUG) must never block on a full pipe.
        threading.Thread(target=self._drain_stderr, name="retopo-hub-engine-stderr", daemon=True).start()

    def _drain_stderr(self) -> None:
        with suppress(OSError, ValueError):
            for line in self.proc.stderr:
                self._stderr.append(line)
                self._stderr_size += len(line)
                while self._stderr_size > STDERR_TAIL and len(self._stderr) > 1:
                    self._stderr_size -= len(self._stderr.popleft())

    def stderr_tail(self) -> str:
        return "".join(list(self._stderr))[-STDERR_TAIL:]

    def send(self, request: object) -> bool:
        """Hand the child one request; False when it is gone."""
        self.ready = False
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            return False
        self.served += 1
        return True

    def answer(self) -> Iterator[dict]:
        """The request's protocol lines up to its final one (or the child's end); then reads whether the
        child takes another request (``ready``)."""
        for msg in self._lines():
            yield msg
            if any(key in msg for key in FINAL_KEYS):
                break
        else:
            return
        self.ready = any(msg.get("ready") for msg in self._lines(stop_at_first=True))

    def _lines(self, *, stop_at_first: bool = False) -> Iterator[dict]:
        while True:
            try:
                line = self.proc.stdout.readline()
            except (OSError, ValueError):
                return
            if not line:
                return
            try:
                msg = json.loads(line)
            except ValueError:
                log.debug("engine: %s", line.rstrip())
                continue
            if isinstance(msg, dict):
                yield msg
                if stop_at_first:
                    return

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.ready = False
        with suppress(OSError):
            self.proc.kill()

    def exit_code(self) -> int | None:
        """The child's exit code once it has ended (waits briefly: it has just closed its stdout)."""
        try:
            return self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        """End the child: closing its stdin ends a serving child cleanly; kill it if it does not go."""
        self.ready = False
        with suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with suppress(OSError, ValueError):
            self.proc.stdout.close()


class EnginePool:
    """The idle engine children of this process, for one environment at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Engine] = []
        self._env: dict[str, str] | None = None
        self._cwd: str | None = None
        self._busy = 0
        self._next_cpus = itertools.count()
        self.size = 1  # children to keep: the jobs that may run at once
        self.spares: int | None = None  # jobs still to come, when the caller knows

    def set_size(self, size: int) -> None:
        with self._lock:
            self.size, self.spares = max(1, size), None

    def _cpus(self) -> set[int] | None:
        """The cores of the next child started: its share when ``size`` children fill the cores."""
        getter = getattr(os, "sched_getaffinity", None)
        parallel = self.size if self.spares is None else min(self.size, self._busy + self.spares)
        if getter is None or parallel < 2:
            return None  # a job that runs alone keeps every core
        try:
            cores = sorted(getter(0))
        except OSError:
            return None
        share = len(cores) // parallel
        if share < 1:
            return None
        start = (next(self._next_cpus) % parallel) * share
        return set(cores[start : start + share])

    def _start(self, env: dict[str, str], cwd: str | None) -> Engine | None:
        try:
            return Engine(env, cwd, self._cpus())
        except OSError:
            log.warning("could not start an engine child", exc_info=True)
            return None

    def prepare(self, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        """Start idle children for ``env`` (None: the last one) up to what the next jobs need."""
        with self._lock:
            if env is None:
                env, cwd = self._env, self._cwd
            if env is None:
                return
            stale = self._idle if self._env != env else []
            if stale:
                self._idle = []
            self._env, self._cwd = env, cwd
            self._idle = [e for e in self._idle if e.alive()]
            wanted = self.size - self._busy
            if self.spares is not None:
                wanted = min(wanted, self.spares)
            missing = wanted - len(self._idle)
        for engine in stale:
            engine.close()
        for _ in range(max(0, missing)):
            engine = self._start(env, cwd)
            if engine is None:
                return
            with self._lock:
                if self._env == env and len(self._idle) + self._busy < self.size:
                    self._idle.append(engine)
                    continue
            engine.close()  # other jobs prepared enough meanwhile

    def lease(self, env: dict[str, str], cwd: str | None, *, fresh: bool = False) -> Engine | None:
        """An idle child for ``env`` (``fresh``: one that has served nothing) or a new one; None when no
        process can be started. Give it back with ``give_back``."""
        with self._lock:
            if self._env != env:
                stale, self._idle = self._idle, []
                self._env, self._cwd = env, cwd
            else:
                stale = []
            engine = next((e for e in self._idle if e.alive() and (e.served == 0 or not fresh)), None)
            if engine is not None:
                self._idle.remove(engine)
            self._busy += 1
        for old in stale:
            old.close()
        if engine is None:
            engine = self._start(env, cwd)
            if engine is None:
                with self._lock:
                    self._busy -= 1
        return engine

    def take_idle(self) -> Engine | None:
        """An idle child as it is, for a measurement; None when every child is busy or none was started."""
        with self._lock:
            engine = next((e for e in self._idle if e.alive()), None)
            if engine is not None:
                self._idle.remove(engine)
                self._busy += 1
            return engine

    def give_back(self, engine: Engine, *, reuse: bool = True) -> None:
        with self._lock:
            self._busy -= 1
            keep = reuse and engine.ready and engine.alive() and engine.env == self._env
            keep = keep and len(self._idle) + self._busy < self.size
            if keep:
                self._idle.append(engine)
        if not keep:
            engine.close()

    def measure(self, source: str, results: dict[str, str]) -> dict | None:
        """``engines.report.measure_answer``'s answer from an idle child; None when there is none free or it
        could not answer (the caller then measures in its own thread)."""
        engine = self.take_idle()
        if engine is None:
            return None
        answer = None
        try:
            if engine.send({"measure": {"source": source, "results": results}}):
                for msg in engine.answer():
                    if isinstance(msg.get("measured"), dict):
                        answer = msg["measured"]
        finally:
            self.give_back(engine)
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._env = self._idle, [], None
        for engine in idle:
            # It has no job: killing it is safe, and this process's exit need not wait for its imports.
            engine.kill()
            engine.close()


ENGINES = EnginePool()
atexit.register(ENGINES.close)
