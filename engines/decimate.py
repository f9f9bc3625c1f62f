# SPDX-License-Identifier: GPL-3.0-or-later
"""Quadric edge-collapse decimation to a triangle budget, via fast_simplification.

Contract: ``decimate(source, target_faces)`` takes a ``MeshArrays`` (any polygons; it is triangulated
first) and returns a triangle ``MeshArrays`` whose face count lands within 10% of ``target_faces``
(usually exactly). Units are unchanged. Imports numpy, the engine's own modules and, lazily,
fast_simplification (EngineUnavailable if it is missing); never touches bpy and runs in the engine child
process or a worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import ModuleType

import numpy as np

from .errors import EngineInputError, native_module
from .meshdata import MeshArrays

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

# fast_simplification keeps the mesh being simplified in module-level C++ state, so two threads must never
# be inside it at once.
_LOCK = threading.Lock()
TOLERANCE = 0.10
AGGRESSION_STEPS = (3.0, 5.0, 7.0, 10.0)


def _simplifier() -> ModuleType:
    return native_module("fast_simplification", "fast_simplification", "Decimate")


def simplify_triangles(
    verts: np.ndarray, tris: np.ndarray, target: int, aggression: float = 7.0
) -> tuple[np.ndarray, np.ndarray]:
    """One fast_simplification run; returns (verts float64, tris int32) with unused vertices removed."""
    fs = _simplifier()
    with _LOCK:
        out_v, out_t = fs.simplify(
            np.ascontiguousarray(verts, dtype=np.float64),
            np.ascontiguousarray(tris, dtype=np.int32),
            target_count=int(target),
            agg=aggression,
        )
    out_t = np.asarray(out_t, dtype=np.int64).reshape(-1, 3)
    ok = (out_t[:, 0] != out_t[:, 1]) & (out_t[:, 1] != out_t[:, 2]) & (out_t[:, 2] != out_t[:, 0])
    mesh = MeshArrays.from_triangles(out_v, out_t[ok]).compact()
    return mesh.verts, mesh.corner_verts.reshape(-1, 3)


def decimate(source: MeshArrays, target_faces: int, *, progress: ProgressFn | None = None) -> MeshArrays:
    """Collapse edges until about ``target_faces`` triangles remain; a source already at or below the
    target is returned triangulated but otherwise unchanged."""
    target = int(target_faces)
    if target < 1:
        raise EngineInputError(f"decimation target must be at least 1 face; got {target_faces!r}")
    tris = source.triangles()
    verts = source.verts
    if tris.shape[0] <= target:
        return MeshArrays.from_triangles(verts, tris)
    if progress:
        progress(0.0, f"decimating {tris.shape[0]:,} to {target:,} triangles")
    # Low aggression keeps the quadric error small (on a 1M-triangle torus reduced to 20K: Hausdorff 0.03%
    # of the diagonal at 3 against 0.16% at the library's default 7, same speed) but may stall before the
    # budget; each further pass continues from where the last one stopped, a little more aggressively.
    for aggression in AGGRESSION_STEPS:
        verts, tris = simplify_triangles(verts, tris, target, aggression)
        if tris.shape[0] <= target * (1.0 + TOLERANCE):
            break
        log.debug("aggression %g stopped at %d of %d triangles", aggression, tris.shape[0], target)
    if tris.shape[0] == 0:
        raise EngineInputError(
            f"decimating to {target} faces removed everything: raise the target face count"
        )
    result = MeshArrays.from_triangles(verts, tris)
    if abs(result.face_count - target) > TOLERANCE * target:
        log.warning("decimation reached %d faces for a target of %d", result.face_count, target)
    if progress:
        progress(1.0, f"decimated to {result.face_count:,} triangles")
    return result
