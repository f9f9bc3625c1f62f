# SPDX-License-Identifier: GPL-3.0-or-later
"""LoD levels decimated from the source on the second core while LOD0 is made (decimate mode, no look).

Contract: ``split(source_tris, lod0_tris, targets)`` says which levels (1-based numbers) the calling process
makes from the source itself after LOD0 and which the branch makes: the branch decimates the source to its
first level and chains the rest from there, the split chosen so that both processes pass over about the same
number of triangles. ``Branch(verts, tris, targets, budget)`` starts that process (``fork`` only: callers
ask ``can_fork()`` first, and without it make every level themselves); ``levels()`` waits for its
``MeshArrays``; after ``send_probe(points)`` (LOD0's probe points, ``quality.LevelProbe``),
``backward()`` gives per branch level the largest distance from them to it, measured in the branch,
which has the levels' indexes built by then. ``close()`` ends the process (always call
it, e.g. ``with Branch(...)``). The branch has fast_simplification's module state to itself, which threads
could not share. Errors in the branch come back as ``EngineError`` (a message) when waited for. Imports the
stdlib, numpy and the engine's own modules only; never touches bpy and runs in the engine child process
(Blender's process never starts it).

Why: fast_simplification is single-threaded and a 5-level chain of a 1.3M-triangle source spends most of
its time in it; decimating from the source (not from the level before) is also what Blender's Decimate
chain on copies does, and it keeps each level as close to the source as a level can be.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import numpy as np

from .decimate import decimate
from .errors import EngineCancelled, EngineError
from .forked import JOIN_SECONDS, die_with_parent
from .meshdata import MeshArrays
from .project import TriangleIndex
from .quality import LevelProbe

log = logging.getLogger(__name__)

# Below this many source triangles a second process costs more to start than it saves.
MIN_TRIANGLES = 200_000
# How often a wait for the branch looks at the cancel flag.
POLL_SECONDS = 0.1
# The smallest level budget (a tetrahedron), as pipeline.MIN_LOD_TRIANGLES.
MIN_LEVEL_TRIANGLES = 4
# A source at most this share above LOD0's target is LOD0 as it is (pipeline.SKIP_DECIMATION): no branch.
SKIP_SHARE = 0.02


def split(source_tris: int, lod0_tris: int, targets: list[int]) -> tuple[list[int], list[int]]:
    """(levels the caller makes from the source, levels the branch makes), as 1-based level numbers.

    Cost model: a pass costs its input's triangle count. The caller makes LOD0 and then levels 1..k-1, each
    from the source; the branch makes level k from the source and chains k+1.. from it."""
    count = len(targets)
    best: tuple[float, int] | None = None
    for k in range(1, count + 1):
        caller = source_tris * k  # LOD0 and levels 1..k-1, each a pass over the source
        branch = source_tris + sum(targets[k - 1 : count - 1])
        cost = max(caller, branch)
        if best is None or cost < best[0]:
            best = (cost, k)
    k = best[1] if best else 1
    del lod0_tris  # the caller's passes all start from the source
    return list(range(1, k)), list(range(k, count + 1))


def _run_branch(conn, verts: np.ndarray, tris: np.ndarray, targets: list[int], parent: int) -> None:
    """The branch process: the levels, then backward distances for the probe points it is sent."""
    die_with_parent(parent)
    try:
        source = MeshArrays.from_triangles(verts, tris)
        levels, indexes = [], []
        previous = source
        for target in targets:
            previous = decimate(previous, target)
            levels.append(previous)
        conn.send(("levels", [(m.verts, m.face_sizes, m.corner_verts) for m in levels]))
        for mesh in levels:  # built while the caller measures its own levels
            indexes.append(TriangleIndex(mesh.verts, mesh.triangles().astype(np.int64)))
        points = conn.recv()
        if points is None:
            return
        conn.send(("backward", [float(index.query(points)[1].max()) for index in indexes]))
    except Exception as exc:  # reported to the caller, which raises it as an engine error
        with suppress(OSError, EOFError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class Branch:
    """The second process; see the module docstring."""

    def __init__(self, verts: np.ndarray, tris: np.ndarray, targets: list[int]) -> None:
        context = multiprocessing.get_context("fork")  # callers check can_fork() first
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_run_branch,
            args=(child_conn, np.asarray(verts), np.asarray(tris), list(targets), os.getpid()),
            daemon=True,
            name="retopo-hub-lod-branch",
        )
        self._process.start()
        child_conn.close()

    def __enter__(self) -> Branch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, kind: str) -> Any:
        try:
            got, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise EngineError(f"the second LoD process ended early ({exc}); run the job again") from exc
        if got == "error":
            raise EngineError(f"the second LoD process failed: {payload}")
        if got != kind:
            raise EngineError(f"the second LoD process sent {got!r} instead of {kind!r}; run the job again")
        return payload

    def levels(self, cancelled: Callable[[], bool] | None = None) -> list[MeshArrays]:
        """The branch's levels, once made; polls ``cancelled`` while waiting (EngineCancelled)."""
        while not self._conn.poll(POLL_SECONDS):
            if cancelled is not None and cancelled():
                raise EngineCancelled("the job was cancelled")
            if not self._process.is_alive() and not self._conn.poll():
                raise EngineError("the second LoD process ended early; run the job again")
        return [MeshArrays(v, s, c) for v, s, c in self._receive("levels")]

    def send_probe(self, points: np.ndarray) -> None:
        """Hand LOD0's probe points to the branch, which measures them against its levels."""
        self._conn.send(np.asarray(points, dtype=np.float64))

    def backward(self) -> list[float]:
        """Per branch level, the largest distance from the probe points to it (after ``send_probe``)."""
        return self._receive("backward")

    def close(self) -> None:
        with suppress(OSError, ValueError):
            self._conn.close()
        self._process.join(JOIN_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def plan_branch(
    source_tris: int, lod0_target: int, ratios: list[float]
) -> tuple[list[int], list[int], list[int]] | None:
    """(planned triangle budget per LoD >= 1, levels made by the caller, levels made by the branch) when a
    second process pays: LoDs to make, a large source and a real reduction to LOD0 (whose triangle count is
    then its target, as in decimate mode); None otherwise."""
    if len(ratios) < 2 or source_tris < MIN_TRIANGLES or source_tris <= lod0_target * (1.0 + SKIP_SHARE):
        return None
    planned = [max(MIN_LEVEL_TRIANGLES, round(r * lod0_target)) for r in ratios[1:]]
    ours, theirs = split(source_tris, lod0_target, planned)
    return planned, ours, theirs


def branch_levels(
    source: MeshArrays,
    lod0: MeshArrays,
    plan: tuple[list[int], list[int], list[int]],
    branch: Branch,
    progress: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> dict[int, tuple[MeshArrays, float]]:
    """{level: (mesh, its error against LOD0)} of every LoD >= 1: the caller's made here from the source,
    the branch's waited for; the errors are ``quality.level_errors``'s measure, the branch measuring LOD0's
    probe points against its own levels meanwhile."""
    planned, ours, theirs = plan

    def report(message: str) -> None:
        if progress is not None:
            progress(1.0, message)

    made: dict[int, MeshArrays] = {}
    for level in ours:
        if cancelled is not None and cancelled():
            raise EngineCancelled("the job was cancelled")
        report(f"building LoD {level} ({planned[level - 1]:,} triangles) from the source")
        made[level] = decimate(source, planned[level - 1])
    # The caller's own levels are measured while the branch still works: LOD0's index, built here, would
    # otherwise be waited for after the branch is done.
    report("measuring the LoDs")
    probe = LevelProbe(lod0)
    errors = {level: probe.error(made[level]) for level in ours}
    report("waiting for the LoDs made on the second core")
    made.update(zip(theirs, branch.levels(cancelled), strict=True))
    branch.send_probe(probe.backward_points)
    forward = {level: probe.forward(made[level]) for level in theirs}
    errors.update(
        (level, max(forward[level], back)) for level, back in zip(theirs, branch.backward(), strict=True)
    )
    return {level: (made[level], errors[level]) for level in made}
