# SPDX-License-Identifier: GPL-3.0-or-later
"""Quadric edge-collapse decimation to a triangle budget, via fast_simplification and collapse.py.

Contract: ``decimate(source, target_faces)`` takes a ``MeshArrays`` (any polygons; it is triangulated
first) and returns a triangle ``MeshArrays`` whose face count lands within 10% of ``target_faces``
(usually exactly); open borders keep their line (fins.py), so holes stay open. Where fast_simplification
stalls (a mesh of needles), ``collapse.collapse_edges`` decimates the input instead; on small meshes
(``COMPARED_UP_TO``, more after a stall) both are made and the one that keeps the input's topology, or
else the closer, is returned. ``small_part`` decimates one small part of a multi-part mesh (pieces.py) with
a topology check only. Units are unchanged.
Imports numpy, the engine's own modules and, lazily, fast_simplification (EngineUnavailable if it is
missing); never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

import logging
import threading
from types import ModuleType

import numpy as np

from .collapse import collapse_edges
from .errors import EngineInputError, native_module
from .fins import border_share, fin_edges, put_back, specks_aside, without_fins
from .flaps import doubled
from .meshdata import DRAWN_SPLIT, MeshArrays, triangle_areas
from .progress import ProgressFn, scaled
from .project import TriangleIndex
from .quality import sample_surface, topology

log = logging.getLogger(__name__)

# Provenance of a decimated level (the result's ``retopo_hub_engine``).
ENGINE_NAME = "fast-simplification"


# fast_simplification keeps the mesh being simplified in module-level C++ state, so two threads must never
# be inside it at once.
_LOCK = threading.Lock()
TOLERANCE = 0.10
# A collapse pass at aggression 1 orders its collapses closely enough to match Blender's Decimate at every
# level of a 5-level chain (1.3M-triangle sphere: Hausdorff at most 1.13x Decimate's, against up to 5.9x at
# 3) and is the faster of the two when a pass removes at most half the mesh; beyond that it stalls far above
# the budget (1.3M -> 10K stopped at 396K after 2.4 s), so steep reductions start at 3.
GENTLE_RATIO = 0.5
AGGRESSION_STEPS = (1.0, 3.0, 5.0, 7.0, 10.0)
ERROR_SCALE = 1.4e-5
AREA_SAMPLES = 50_000
# Meshes with more of their edges open than this are soups or shreds, not surfaces with rims: no fins.
MAX_FINNED_SHARE = 0.25
# A finned decimation is taken on (at most this many more passes) until it is this close to its budget.
FINNED_AIM = 0.01
FINNED_AIM_PASSES = 2
# Up to this many triangles the collapses of collapse.py are also made and kept when they land closer to the
# input: fast_simplification orders its collapses by thresholds, and on a low-poly hard-surface mesh that
# costs up to 10x Blender's Decimate in Hausdorff distance (bench/DECIMATE.md), where a pass here takes
# a fraction of a second.
COMPARED_UP_TO = 20_000
# A pass that stalled above the budget marks a mesh of needles, where the harder passes that follow may land
# on the budget with the surface wrecked (the bench's machined part to 60,000 of its 215,040 triangles:
# 65,200, within the tolerance, 14.7% of the diagonal away); up to this many triangles, collapse.py's result
# is then made and compared too.
COMPARED_STALLED_UP_TO = 300_000
# A first pass left this many times its budget or more stalled on needles: collapse.py takes over at once
# (the machined part to 4,301 triangles: 18.1 s with fast_simplification's four harder passes first).
STALLED_FAR = 2.0
COMPARE_SAMPLES = 3_000


def _simplifier() -> ModuleType:
    return native_module("fast_simplification", "fast_simplification", "Decimate")


def _error_units(verts: np.ndarray, tris: np.ndarray) -> tuple[float, np.ndarray]:
    """(scale, centre) that bring the mesh's typical collapse error to the same size for every mesh.

    fast_simplification compares quadric errors with absolute thresholds, so how carefully it orders its
    collapses depends on the units and the density of the mesh. The error of collapsing an edge of length h on
    a surface grows with h^2 in distance, so the mesh is scaled by ERROR_SCALE / h^2 (h^2 being twice the mean
    triangle area of the mesh normalised to a unit bounding-box diagonal).
    """
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    diag = float(np.linalg.norm(hi - lo)) or 1.0
    # A strided sample of the triangles estimates the mean area as well as all of them, at a fraction.
    step = max(1, tris.shape[0] // AREA_SAMPLES)
    sample = tris[::step]
    mean_area = float(triangle_areas(verts, sample).mean()) / (diag * diag) if len(sample) else 0.0
    h2 = max(2.0 * mean_area, 1e-30)
    return ERROR_SCALE / h2 / diag, (lo + hi) / 2.0


def simplify_triangles(
    verts: np.ndarray, tris: np.ndarray, target: int, aggression: float = 7.0
) -> tuple[np.ndarray, np.ndarray]:
    """One fast_simplification run; returns (verts float64, tris int32) with unused vertices removed."""
    fs = _simplifier()
    verts = np.asarray(verts, dtype=np.float64)
    factor, center = _error_units(verts, np.asarray(tris))
    with _LOCK:
        out_v, out_t = fs.simplify(
            np.ascontiguousarray((verts - center) * factor, dtype=np.float64),
            np.ascontiguousarray(tris, dtype=np.int32),
            target_count=int(target),
            agg=aggression,
        )
    out_v = np.asarray(out_v) / factor + center
    out_t = np.asarray(out_t, dtype=np.int64).reshape(-1, 3)
    ok = (out_t[:, 0] != out_t[:, 1]) & (out_t[:, 1] != out_t[:, 2]) & (out_t[:, 2] != out_t[:, 0])
    mesh = MeshArrays.from_triangles(out_v, out_t[ok]).compact()
    return mesh.verts, mesh.corner_verts.reshape(-1, 3)


def collapse_map(
    verts: np.ndarray, tris: np.ndarray, target: int, aggression: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One fast_simplification run that also says where each result triangle came from: (verts float64,
    tris int64 numbered into those verts, index into ``tris`` of each result triangle). The library deletes
    only the triangles a collapse makes degenerate and keeps the rest in their order, so replaying its
    collapses on the input's triangles finds them; the vertices are those the kept triangles use, in input
    order, as the library compacts them."""
    fs = _simplifier()
    verts = np.asarray(verts, dtype=np.float64)
    tris = np.asarray(tris, dtype=np.int64)
    factor, center = _error_units(verts, tris)
    with _LOCK:
        out_v, _, collapses = fs.simplify(
            np.ascontiguousarray((verts - center) * factor, dtype=np.float64),
            np.ascontiguousarray(tris, dtype=np.int32),
            target_count=int(target),
            agg=aggression,
            return_collapses=True,
        )
    parent = np.arange(verts.shape[0], dtype=np.int64)
    collapses = np.asarray(collapses, dtype=np.int64).reshape(-1, 2)
    parent[collapses[:, 1]] = collapses[:, 0]
    while True:  # pointer jumping: each vertex ends at the vertex it was finally collapsed into
        deeper = parent[parent]
        if np.array_equal(deeper, parent):
            break
        parent = deeper
    mapped = parent[tris]
    kept = np.flatnonzero(
        (mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2]) & (mapped[:, 2] != mapped[:, 0])
    )
    used, numbered = np.unique(mapped[kept], return_inverse=True)
    out_v = np.asarray(out_v).reshape(-1, 3)
    if used.shape[0] != out_v.shape[0]:
        raise RuntimeError("fast_simplification's collapses do not replay onto its result")
    return out_v / factor + center, numbered.reshape(-1, 3), kept


def _finned_pass(verts: np.ndarray, tris: np.ndarray, target: int, aggression: float):
    """``simplify_triangles`` with fins on the open borders (fins.py), dropped again from the result."""
    tips, fins = fin_edges(verts, tris)
    out = collapse_map(
        np.concatenate([verts, tips]), np.concatenate([tris, fins]), target + len(fins), aggression
    )
    out_verts, out_tris, _ = without_fins(*out, tris.shape[0])
    return out_verts, out_tris


def _farthest(made: tuple[np.ndarray, np.ndarray], given: tuple[np.ndarray, np.ndarray], index) -> float:
    """Symmetric Hausdorff distance between ``made`` and ``given`` from ``COMPARE_SAMPLES`` points a side,
    and as many of its vertices."""
    forward = index.query(sample_surface(*made, COMPARE_SAMPLES, 1, COMPARE_SAMPLES))[1]
    backward = TriangleIndex(*made).query(sample_surface(*given, COMPARE_SAMPLES, 2, COMPARE_SAMPLES))[1]
    return max(float(forward.max(initial=0.0)), float(backward.max(initial=0.0)))


def shape_of(mesh: tuple[np.ndarray, np.ndarray]) -> dict[str, int]:
    """Pieces, open borders, non-manifold edges and genus of a triangle mesh (not its open edges' count)."""
    return topology(MeshArrays.from_triangles(*mesh)) | {"boundary_edges": 0}


def small_part(verts: np.ndarray, tris: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """One part of a few dozen triangles decimated to ``target``, for ``pieces.small_pieces``: one
    fast_simplification pass, or collapse.py's decimation where that pass tore the part (pieces, open
    borders, non-manifold edges or genus not the input's) or stalled and collapse.py keeps the part whole.

    No distance comparison as ``decimate`` makes on small meshes: its 3,000 samples a side cost about 80 ms
    a part, minutes for a thousand-part asset; the topology test costs about 1 ms. collapse.py's result may
    stand above ``target`` (the link condition keeps an annulus at 6 triangles): a part's shape is worth a
    few faces more, and the job reports its face count against the target."""
    made = simplify_triangles(verts, tris, target)
    given = (np.asarray(verts, dtype=np.float64), np.asarray(tris, dtype=np.int64))
    shape = shape_of(given)
    if made[1].shape[0] <= target * (1.0 + TOLERANCE) and shape_of(made) == shape:
        return made
    kept = collapse_edges(*given, target)[:2]
    # The npm teapot's lid (a 2-loop part) at 8 triangles: fast_simplification made 7 with one loop and a
    # non-manifold edge; collapse.py made 8 with both loops.
    return kept if shape_of(kept) == shape else made


def _closer(made, given, target: int):
    """``made`` or ``collapse_edges``' own decimation of ``given``, whichever keeps ``given``'s topology
    when only one does, else whichever lands on the budget closer to ``given`` (see ``COMPARED_UP_TO``)."""
    verts, tris, _ = collapse_edges(*given, target)
    if tris.shape[0] > target * (1.0 + TOLERANCE) or tris.shape[0] == 0:
        return made
    if made[1].shape[0] > target * (1.0 + TOLERANCE):
        return verts, tris
    # fast_simplification may tear a low-poly mesh where collapse.py keeps it (the npm teapot at 99 of its
    # 992 triangles: a hole closed and a non-manifold edge made); a torn result loses however close it is.
    shape = shape_of(given)
    kept = (shape_of((verts, tris)) == shape, shape_of(made) == shape)
    if kept[0] != kept[1]:
        return (verts, tris) if kept[0] else made
    index = TriangleIndex(*given)
    return (verts, tris) if _farthest((verts, tris), given, index) < _farthest(made, given, index) else made


def _past_fast_simplification(made, given, target: int, stalled: bool, progress: ProgressFn | None):
    """What fast_simplification ``made`` of ``given``, or collapse.py's decimation of ``given`` where that
    stopped short of the budget or, on a small mesh or one where a pass ``stalled``, lands closer to it."""
    verts, tris = made
    if tris.shape[0] > target * (1.0 + TOLERANCE):
        # Needles stop fast_simplification (collapse.py), and its more aggressive passes on them wreck the
        # surface (the bench's machined part: 17-23% of the diagonal away); collapse.py starts over from
        # the input instead.
        log.debug("fast_simplification stopped at %d of %d triangles", tris.shape[0], target)
        if progress:
            progress(0.5, f"decimating {given[1].shape[0]:,} to {target:,} triangles, needles and all")
        verts, tris, _ = collapse_edges(*given, target, progress=scaled(progress, 0.5, 1.0))
        return verts, tris
    if given[1].shape[0] <= (COMPARED_STALLED_UP_TO if stalled else COMPARED_UP_TO):
        return _closer(made, given, target)
    return made


def decimate(source: MeshArrays, target_faces: int, *, progress: ProgressFn | None = None) -> MeshArrays:
    """Collapse edges until about ``target_faces`` triangles remain; a source already at or below the
    target is returned triangulated but otherwise unchanged."""
    target = int(target_faces)
    if target < 1:
        raise EngineInputError(f"decimation target must be at least 1 face; got {target_faces!r}")
    # Quads split as they are drawn (Blender, glTF fans), which is what a LoD is measured against.
    tris = source.triangles(DRAWN_SPLIT)
    verts = source.verts
    if tris.shape[0] <= target:
        return MeshArrays.from_triangles(verts, tris)
    if progress:
        progress(0.0, f"decimating {tris.shape[0]:,} to {target:,} triangles")
    # Low aggression keeps the quadric error small (on a 1M-triangle torus reduced to 20K: Hausdorff 0.03%
    # of the diagonal at 3 against 0.16% at the library's default 7, same speed; see GENTLE_RATIO) but may
    # stall before the budget; each further pass continues from where the last one stopped, a little more
    # aggressively.
    steps = AGGRESSION_STEPS if target >= GENTLE_RATIO * tris.shape[0] else AGGRESSION_STEPS[1:]
    # Open borders get fins (fins.py), or their rims slide and holes close; not a soup's, which is all
    # border and has no rim to keep.
    finned = 0.0 < border_share(tris) <= MAX_FINNED_SHARE
    specks = specks_aside(tris, verts.shape[0], target) if finned else None
    if specks is not None:
        aside = MeshArrays.from_triangles(verts, tris[specks]).compact()
        tris, target = tris[~specks], target - aside.face_count
    else:
        aside = None
    given = (verts, tris)
    passes = 0
    for aggression in steps:
        passes += 1
        verts, tris = (
            _finned_pass(verts, tris, target, aggression)
            if finned
            else simplify_triangles(verts, tris, target, aggression)
        )
        if tris.shape[0] <= target * (1.0 + TOLERANCE):
            break
        log.debug("aggression %g stopped at %d of %d triangles", aggression, tris.shape[0], target)
        if tris.shape[0] > STALLED_FAR * target and given[1].shape[0] <= COMPARED_STALLED_UP_TO:
            break  # needles: harder passes would only wreck them (collapse.py takes over)
    # Fins collapsed with their edges left room in the budget that the surface took: a pass or two more
    # on the much smaller mesh lands on the target.
    for _ in range(FINNED_AIM_PASSES if finned else 0):
        if tris.shape[0] <= target * (1.0 + FINNED_AIM):
            break
        verts, tris = _finned_pass(verts, tris, target, aggression)
    verts, tris = _past_fast_simplification((verts, tris), given, target, passes > 1, progress)
    if tris.shape[0] == 0:
        raise EngineInputError(
            f"decimating to {target} faces removed everything: raise the target face count"
        )
    # Collapses may fold two triangles onto each other (flaps.py).
    tris = tris[~doubled(tris)]
    if aside is not None:
        (verts, tris), target = put_back(verts, tris, aside), target + aside.face_count
    result = MeshArrays.from_triangles(verts, tris).compact()
    if abs(result.face_count - target) > TOLERANCE * target:
        log.warning("decimation reached %d faces for a target of %d", result.face_count, target)
    if progress:
        progress(1.0, f"decimated to {result.face_count:,} triangles")
    return result
