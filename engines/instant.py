# SPDX-License-Identifier: GPL-3.0-or-later
"""Running Instant Meshes: its prepared input, a seeded vertex order, one-core pinning for reproducible
runs, and the re-runs that bring its face count to a budget.

Contract: ``Runner(verts, tris, quads, seed, reproducible, crease_angle, align_to_boundaries).run(n)``
returns Instant Meshes' (verts float64 (K, 3), faces int64 (F, 4 or 3)) for a budget of ``n`` vertices
(``crease_angle``: its creaseAngle in degrees; negative, the default, computes no crease normals, and 0
makes every edge that is not exactly flat a crease);
``calibrated_runs(runner, target, report, cancelled)`` re-runs it with a rescaled budget until the face
count is within ``ACCEPT_ERROR`` of ``target`` (at most ``MAX_RUNS`` runs) and returns the closest run;
``rescaled(run, target, first)`` does the same for any ``run(vertex_count) -> mesh`` whose face count
grows with the budget (the density-controlled remesh counts faces after refining). Imports numpy, the
engine's own modules and, lazily, pynanoinstantmeshes (EngineUnavailable if missing); never touches bpy.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from types import ModuleType
from typing import Any

import numpy as np

from .errors import EngineCancelled, EngineError, native_module

log = logging.getLogger(__name__)

CancelledFn = Callable[[], bool]

# A run this close to the target is kept; otherwise the vertex budget is rescaled and Instant Meshes re-run.
ACCEPT_ERROR = 0.04
MAX_RUNS = 3
# Instant Meshes subdivides its quad-dominant result into pure quads (one quad per corner), which leaves
# about four quads per requested vertex; its triangle mode leaves about two triangles per vertex.
FACES_PER_VERTEX = {True: 4.0, False: 2.0}
# ``rescaled`` changes the budget at most this many times per run: one wild run must not throw it far off.
RESCALE_STEP = 3.0


def _instant_meshes() -> ModuleType:
    return native_module("pynanoinstantmeshes", "Instant Meshes", "QuadriFlow")


@contextmanager
def _one_core() -> Iterator[None]:
    """Pin the calling thread to one CPU while Instant Meshes runs (Linux only), for reproducible runs.

    Its threaded extraction races on non-manifold input (clustered meshes, holes): runs differed from call
    to call even with deterministic=True (raw face scan: 4,948 to 5,036 faces). The bundled TBB sizes its
    pool from the affinity of the thread that first calls it, so pinning before the process's first run
    makes every later run single-threaded and reproducible. It costs speed: on 2 cores Instant Meshes took
    0.34 s pinned against 0.23 s free (82K-triangle sphere -> 5K quads), so only ``reproducible`` jobs pin.
    Only this thread is affected; other platforms keep Instant Meshes' own threading.
    """
    getter = getattr(os, "sched_getaffinity", None)
    setter = getattr(os, "sched_setaffinity", None)
    if getter is None or setter is None:
        yield
        return
    try:
        before = getter(0)
        if len(before) > 1:
            setter(0, {min(before)})
    except OSError:
        yield
        return
    try:
        yield
    finally:
        try:
            setter(0, before)
        except OSError:
            log.debug("could not restore CPU affinity", exc_info=True)


class Runner:
    """Holds the prepared Instant Meshes input so calibration re-runs reuse it."""

    def __init__(
        self,
        verts: np.ndarray,
        tris: np.ndarray,
        quads: bool,
        seed: int,
        reproducible: bool = False,
        crease_angle: float = -1.0,
        align_to_boundaries: bool = True,
    ) -> None:
        self.module = _instant_meshes()
        self.align_to_boundaries = bool(align_to_boundaries)
        self.crease_angle = float(crease_angle)
        self.quads = quads
        self.reproducible = reproducible
        if seed:
            # The solver's random start depends on vertex order, so a seeded shuffle gives a different,
            # still reproducible, layout.
            perm = np.random.default_rng(seed).permutation(verts.shape[0])
            inverse = np.empty_like(perm)
            inverse[perm] = np.arange(perm.shape[0])
            verts = verts[perm]
            tris = inverse[tris]
        self.verts = np.ascontiguousarray(verts, dtype=np.float32)
        self.tris = np.ascontiguousarray(tris, dtype=np.uint32)

    def run(self, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
        rosy, posy = (4, 4) if self.quads else (6, 3)
        with _one_core() if self.reproducible else nullcontext():
            out_v, out_f = self.module.remesh(
                self.verts,
                self.tris,
                int(vertex_count),
                rosy=rosy,
                posy=posy,
                align_to_boundaries=self.align_to_boundaries,
                deterministic=True,
                creaseAngle=self.crease_angle,
            )
        return np.asarray(out_v, dtype=np.float64), np.asarray(out_f, dtype=np.int64)


def calibrated_runs(
    runner: Runner, target: int, report: Callable[[float, str], None], cancelled: CancelledFn | None
) -> tuple[np.ndarray, np.ndarray]:
    """Run Instant Meshes, rescaling the vertex budget until the face count is close to ``target``."""
    vertex_count = max(1, round(target / FACES_PER_VERTEX[runner.quads]))
    best: tuple[np.ndarray, np.ndarray] | None = None
    best_error = math.inf
    tried: set[int] = set()
    for run in range(MAX_RUNS):
        if cancelled is not None and cancelled():
            raise EngineCancelled("remeshing was cancelled")
        report(0.1 + 0.7 * run / MAX_RUNS, f"Instant Meshes pass {run + 1} ({vertex_count:,} vertices)")
        tried.add(vertex_count)
        started = time.perf_counter()
        out_v, out_f = runner.run(vertex_count)
        faces = out_f.shape[0]
        error = faces / target - 1.0 if faces else math.inf
        log.debug(
            "Instant Meshes run %d: %d vertices -> %d faces (%.1f%%) in %.2fs",
            run,
            vertex_count,
            faces,
            100 * error,
            time.perf_counter() - started,
        )
        if abs(error) < best_error:
            best, best_error = (out_v, out_f), abs(error)
        if abs(error) <= ACCEPT_ERROR:
            break
        # Face count is close to proportional to the vertex budget, so rescale by the miss.
        scaled = vertex_count * target / faces if faces else vertex_count * 2
        nxt = max(1, round(scaled))
        if nxt in tried:
            nxt = vertex_count + (1 if faces < target else -1)
        if nxt < 1 or nxt in tried:
            break
        vertex_count = nxt
    if best is None or best[1].shape[0] == 0:
        raise EngineError("Instant Meshes produced no faces: raise the target face count or use Decimate")
    if best_error > 0.1:
        log.warning("remesh reached %d faces for a target of %d", best[1].shape[0], target)
    return best


def rescaled(run: Callable[[int], Any], target: int, first: int, cancelled: CancelledFn | None = None) -> Any:
    """The closest result of ``run(vertex_count)`` (anything with ``face_count``, or None for a run that
    says nothing about the count), the budget rescaled by each miss, at most RESCALE_STEP-fold, until within
    ACCEPT_ERROR of ``target``; at most MAX_RUNS + 1 runs. None if no run gave a result."""
    vertex_count, best, best_error, runs = max(1, first), None, math.inf, 0
    while runs <= MAX_RUNS:
        runs += 1
        if cancelled is not None and cancelled():
            raise EngineCancelled("remeshing was cancelled")
        made = run(vertex_count)
        if made is None or not made.face_count:
            vertex_count += 1  # another budget gives another layout
            continue
        error = made.face_count / target - 1.0
        log.debug("budget %d vertices -> %d faces (%.1f%%)", vertex_count, made.face_count, 100 * error)
        if abs(error) < best_error:
            best, best_error = made, abs(error)
        if abs(error) <= ACCEPT_ERROR:
            break
        factor = min(max(target / made.face_count, 1.0 / RESCALE_STEP), RESCALE_STEP)
        vertex_count = max(1, round(vertex_count * factor))
    return best
