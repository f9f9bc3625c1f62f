# SPDX-License-Identifier: GPL-3.0-or-later
"""Work a process hands to a forked copy of itself, on the second core: the rules, and measured distances.

Contract: ``can_fork()`` says whether a process may fork here (Linux, no thread of ours besides the
main one, and not itself a forked copy); ``die_with_parent(parent)`` is the first call in a forked copy,
so that no copy outlives the engine child that made it. ``InCopy(fn, name)`` starts ``fn()`` in a forked
copy and ``.result()`` gives its value; where no copy can run, or the copy dies, ``result()`` calls
``fn()`` in this process instead, so a caller never sees the difference but in time. Use it as a context
manager (or call ``close()``): a copy whose result is never asked for, after an error or a cancel, is
killed on the way out instead of running on.
``distances_in_halves(index, points)`` returns exactly what ``index.query(points)[1]`` returns (float64
(Q,) distances to the indexed surface, in the points' order), with at least ``MIN_POINTS`` points the
second half measured in a copy, which shares the built index copy-on-write, while this process measures
the first. Imports numpy, the stdlib and the engine's own modules only; never touches bpy. In the product
only the engine child forks (branch.py's LoDs, report.py's quality report, transfer.py's levels): Blender's
process never runs these paths (the bench's in-process measures and the test runs may, numpy only).

Why the halves: the quality report measures every vertex of a result against the source for its heatmap;
on a 983K-triangle LOD0 of a 1.3M-triangle source those 492K queries were a third of the report's 8 s,
all on one core while the other waited.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import numpy as np

from .project import TriangleIndex

log = logging.getLogger(__name__)

# Seconds to wait for a forked copy to end once told to (then it is killed).
JOIN_SECONDS = 2.0
# Linux prctl option: the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1
# Below this many points a fork (some 10-30 ms on a large process) costs about what it saves.
MIN_POINTS = 50_000


def can_fork() -> bool:
    """Whether a forked copy may start here: Linux, and no thread of this process's own besides the main one.

    Only ``fork`` is used: a spawned process would have to import the engine by module name (which a caller
    that loaded it from a file, as the tests do, cannot offer; it hung there) and be sent the whole source
    pickled. macOS, Windows and threaded callers do all the work in this process instead."""
    # A daemonic multiprocessing copy (a LoD branch) may not start processes of its own.
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


def die_with_parent(parent: int) -> None:
    """On Linux, end this process when the engine child ends (a killed or cancelled job): no orphan
    keeps a core busy. Elsewhere a copy ends at its next message, when the pipe is gone."""
    if not sys.platform.startswith("linux"):
        return
    with suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(0)


def _run_in_copy(conn, fn: Callable[[], Any], parent: int) -> None:
    """The forked copy: send ``fn()``'s value back (nothing on any error: the caller then calls it itself)."""
    die_with_parent(parent)
    try:
        conn.send(fn())
    except Exception:
        log.exception("a forked copy failed; its work is done again in the process that started it")
    finally:
        conn.close()
        # Straight out: a normal exit would flush stream buffers inherited from the parent, and an engine
        # child's stdout carries its protocol lines.
        os._exit(0)


class InCopy:
    """``fn()`` started in a forked copy of this process where ``can_fork()`` (else nothing starts);
    ``result()`` waits for its value, calling ``fn()`` here when no copy ran or the copy gave nothing. The
    copy sees this process's memory as it was at the fork, so ``fn`` must not depend on later changes, and
    its value travels back pickled: keep it to arrays and plain data."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        self._fn = fn
        self._process = self._receiver = None
        if not can_fork():
            return
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_run_in_copy, args=(sender, fn, os.getpid()), daemon=True, name=f"retopo-hub-{name}"
        )
        try:
            process.start()
        except OSError:
            log.warning("could not start a forked copy for %s; doing it here", name, exc_info=True)
            receiver.close()
        else:
            self._process, self._receiver = process, receiver
        finally:
            sender.close()  # only the copy writes: its end closing (it ended) wakes a waiting recv

    def __enter__(self) -> InCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self) -> Any:
        if self._process is None or self._receiver is None:
            return self._fn()
        value, got = None, False
        try:
            with suppress(EOFError, OSError):
                value, got = self._receiver.recv(), True
        finally:
            self.close(JOIN_SECONDS)  # it has answered (or ended): let it exit
        return value if got else self._fn()

    def close(self, wait: float = 0.0) -> None:
        """End the copy: after ``wait`` seconds it is killed if it still runs (its result is not waited
        for after a cancel or an error here)."""
        if self._process is None or self._receiver is None:
            return
        self._receiver.close()
        self._process.join(wait)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process = self._receiver = None


def distances_in_halves(index: TriangleIndex, points: np.ndarray) -> np.ndarray:
    """``index.query(points)[1]``, the second half measured in a forked copy where that is possible."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if pts.shape[0] < MIN_POINTS:
        return index.query(pts)[1]
    half = pts.shape[0] // 2
    with InCopy(lambda: index.query(pts[half:])[1], "measure-half") as tail:
        head = index.query(pts[:half])[1]
        return np.concatenate([head, tail.result()])
