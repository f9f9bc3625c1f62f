# SPDX-License-Identifier: GPL-3.0-or-later
"""Goal 4's instrument: peak resident memory of the local engine's child process while a job runs.

The engine runs in ``python -m engines.serve`` (or ``engines.child``), started by the worker host process
that Blender starts (Blender -> host -> engine child). A sampler thread reads ``VmHWM`` (the kernel's own
high-water mark of resident memory, kept until the process exits) of every descendant process from /proc
every 20 ms and keeps the largest per kind: the engine child (its command line names ``engines.serve`` or
``engines.child``) and everything else.

Why not ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: Linux folds the high-water mark a process had
before ``exec`` into its ``maxrss``, and right after ``fork`` that is the parent's size. The worker host is
forked from Blender (over 1 GB with the 1M-triangle mesh loaded), so ru_maxrss reported Blender's size, not
the engine's (measured: 1,079 MiB against a VmHWM of 430 MiB for the same engine run). VmHWM is reset by
exec and so belongs to the engine alone.

Linux only (like the benchmark machine); elsewhere every reading is 0.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

SAMPLE_S = 0.02


def _parents() -> dict[int, list[int]]:
    """ppid -> child pids from /proc/*/stat (/proc/PID/task/*/children is not on every kernel)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1].isdigit():
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree = _parents()
    out, todo = [], [pid]
    while todo:
        kids = tree.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


def _is_engine(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"engines.serve" in command or b"engines.child" in command


def _hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class ChildPeak:
    """``with ChildPeak() as peak: ...`` then ``peak.mib`` (and ``peak.detail`` for the report)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self.engine_kib = 0  # the engine child(ren)
        self.other_kib = 0  # the worker host and anything else started below Blender

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(SAMPLE_S):
            for pid in _descendants(me):
                if _is_engine(pid):
                    self.engine_kib = max(self.engine_kib, _hwm_kib(pid))
                else:
                    self.other_kib = max(self.other_kib, _hwm_kib(pid))

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        """The engine child's peak in MiB (0 if no engine child was seen)."""
        return self.engine_kib / 1024.0

    @property
    def detail(self) -> dict[str, float]:
        return {"peak_rss_mb_worker_host": round(self.other_kib / 1024.0, 1)}
