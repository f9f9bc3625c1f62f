# SPDX-License-Identifier: GPL-3.0-or-later
"""Which Instant Meshes run a remesh keeps: other seeds, then thin parts inflated further, while the result
breaks the topology of what it was made from.

Contract: ``best_attempt(attempt, working_copy, closed=..., report=...)`` calls ``attempt(seed offset,
working verts, working tris)`` (a remesh ``MeshArrays``) on ``working_copy(radius)`` (the working copy with
thin parts inflated to ``radius`` Instant Meshes edges, and how many vertices that moved; see
``thickness``); ``closed`` gives the source's topology (asked for only when the working copy is no clean
surface), or is None for a source with open borders. It returns the least broken result and what was
inflated (``{"radius_edges", "vertices_moved"}``). Broken means, in this order: more pieces than the
working copy, a genus change against the working copy (or, when that is no clean closed surface, against
the source; when neither is, or when the first result misses more than ``MAX_HANDLES_CHASED`` of a clean
source's handles, a genus below zero: a limb hanging by one vertex), open edges; measured after
the small holes the caller fills anyway are filled. A source with open borders gets the first attempt only,
but for a closed source's part cut for symmetry (``part_cut``, with ``closed`` giving the part's topology):
it is broken by more pieces or another genus than the part's (two of its cut's loops joined are a handle),
not by open edges (its cut, which the mirror closes, and holes off it, which the caller closes); and an
open source with no non-manifold edge (``open_source``, its topology, with ``closed`` None): built again
with other seeds (``HOLE_RETRIES``) while the result has more pieces or a higher genus than the source, or
non-manifold edges, and each retry does better than the last.
Imports numpy and the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .holes import fill_small_holes
from .meshdata import MeshArrays
from .progress import ProgressFn
from .quality import topology

# Thin parts of the working copy are inflated to this half thickness, in Instant Meshes' own edge lengths
# (``thickness``), so it does not cut them off; the first is always applied, the others only while the
# result of a closed source is still broken after the seed retries. pymeshlab's cow at 1,500 / 3,000 /
# 5,000 quads came back in 6 / 2 / 3 pieces without; with these, in one, closed, genus 0 (bench/TOPOLOGY.md).
# More inflation costs corner angles where it projects back onto the thin part (the bunny at 1,500 quads:
# 95th-percentile deviation 36 degrees without, 40 with 0.35 first, 49 with 0.5 first), so it starts small.
THIN_RADII = (0.35, 0.6, 1.0)
# Seeds tried again when extraction leaves holes in a closed surface (each costs one more remesh); holes
# left after them are closed by the caller (``holes.fill_every_hole``), not chased with more inflation,
# which is for thin parts that came off: the Stanford dragon's one 14-edge hole ran all five builds (31.8 s
# against 13 s) and every build had it.
HOLE_RETRIES = 2
# A first result that misses more of a clean source's handles than this is not held to its genus: those are
# tunnels narrower than the output's edges (a range scan's merged sweeps: the Stanford dragon's VRIP model
# has genus 55, and every 5,000-quad build 0-3), which no seed or inflation brings back. Chasing them ran
# every retry and kept the most inflated build, with a tenth more poles (bench/TOPOLOGY.md). Only a genus
# below zero (a limb hanging by one vertex) then counts, as on a source that is no clean surface.
MAX_HANDLES_CHASED = 4


def best_attempt(
    attempt: Callable[[int, np.ndarray, np.ndarray], MeshArrays],
    working_copy: Callable[[float], tuple[np.ndarray, np.ndarray, int]],
    *,
    closed: Callable[[], dict[str, int]] | None,
    report: ProgressFn,
    part_cut: bool = False,
    open_source: dict[str, int] | None = None,
) -> tuple[MeshArrays, dict[str, Any]]:
    """``attempt(seed offset, working verts, working tris)`` on ``working_copy(THIN_RADII[0])``; for a closed
    source, while the result breaks its working copy's topology, again with other seeds (``HOLE_RETRIES``),
    then (while pieces or genus are broken, not for holes alone) on copies with thin parts inflated
    further, keeping the least broken result. Returns it and what was inflated. An open scan is not held to
    its working copy's topology: its pieces and borders change for other reasons (extraction holes, merged
    pieces), and it has no limbs to inflate."""
    work_v, work_t, inflated = working_copy(THIN_RADII[0])
    thin = {"radius_edges": THIN_RADII[0], "vertices_moved": inflated}
    result = attempt(0, work_v, work_t)
    if closed is None:
        if open_source is not None:
            result = _open_source_retried(result, attempt, work_v, work_t, open_source, report)
        return result, thin
    work_topology = topology(MeshArrays.from_triangles(work_v, work_t))
    # A clustered copy has non-manifold fans and small holes of its own, so its genus says nothing of the
    # source's; the source's own then does (a beveled box's clustered copy lost its bore, genus 1 -> 0, and
    # a bridge across the bore went unseen), or, when it is no clean surface either, only a genus below
    # zero (a limb hanging by one vertex) counts.
    source_topology = closed() if part_cut else None
    clean = not work_topology["boundary_edges"] and not work_topology["nonmanifold_edges"]
    if not clean:
        source_topology = source_topology or closed()
        work_topology = {**work_topology, "genus": source_topology["genus"]}
        clean = not source_topology["boundary_edges"] and not source_topology["nonmanifold_edges"]
    # A part cut for symmetry is held to its own pieces and genus, when it is no non-manifold surface.
    part = source_topology if part_cut and not source_topology["nonmanifold_edges"] else None

    def faults(made: dict[str, int]) -> tuple[int, int, int]:
        """Extra pieces, genus change and open edges of a result's topology (see ``broken``)."""
        if part is not None:
            return max(0, made["pieces"] - part["pieces"]), abs(made["genus"] - part["genus"]), 0
        genus_change = abs(made["genus"] - work_topology["genus"]) if clean else max(0, -made["genus"])
        return max(0, made["pieces"] - work_topology["pieces"]), genus_change, made["boundary_edges"]

    def broken(mesh: MeshArrays) -> tuple[int, int, int]:
        """``faults`` once the holes the caller fills anyway are filled: two holes touching at a corner are a
        limb hanging by one vertex, worse than a larger hole."""
        return faults(topology(fill_small_holes(mesh)))

    first = topology(fill_small_holes(result))
    rank = faults(first)
    if clean and part is None and rank[1] > MAX_HANDLES_CHASED:
        clean = False
        rank = faults(first)

    # Other seeds first (extraction holes move with the seed), then thin parts inflated further, which
    # costs more poles.
    plan = [(THIN_RADII[0], retry) for retry in range(1, HOLE_RETRIES + 1)]
    plan += [(radius, 0) for radius in THIN_RADII[1:]]
    copies = {THIN_RADII[0]: (work_v, work_t, inflated)}
    for radius, retry in plan:
        if not any(rank) or (retry == 0 and not any(rank[:2])):
            break  # inflation keeps thin parts on (pieces, genus); holes the seeds left, the caller closes
        if radius not in copies:
            copies[radius] = working_copy(radius)
        copy_v, copy_t, moved = copies[radius]
        if retry == 0 and not moved:
            continue  # nothing thin at this radius either: the same copy as before
        report(0.85, f"closing extraction holes (retry {retry})" if retry else "keeping thin parts attached")
        candidate = attempt(retry, copy_v, copy_t)
        candidate_rank = broken(candidate)
        if candidate_rank < rank:
            result, rank = candidate, candidate_rank
            thin = {"radius_edges": radius, "vertices_moved": moved}
    return result, thin


def _open_source_retried(
    result: MeshArrays,
    attempt: Callable[[int, np.ndarray, np.ndarray], MeshArrays],
    work_v: np.ndarray,
    work_t: np.ndarray,
    source: dict[str, int],
    report: ProgressFn,
) -> MeshArrays:
    """An open source's result, built again with other seeds while it has more pieces, a higher genus or
    non-manifold edges the source has not (a bit cut off, a bridge across a hole or between two parts, two
    sheets of a thin part joined on one edge); the least broken one."""

    def faults(mesh: MeshArrays) -> tuple[int, int, int]:
        made = topology(mesh)
        extra = made["pieces"] - source["pieces"], made["genus"] - source["genus"], made["nonmanifold_edges"]
        return max(0, extra[0]), max(0, extra[1]), extra[2]

    rank = faults(result)
    for retry in range(1, HOLE_RETRIES + 1):
        if not any(rank):
            break
        report(0.85, f"removing a bridge the remesh made (retry {retry})")
        candidate = attempt(retry, work_v, work_t)
        candidate_rank = faults(candidate)
        if candidate_rank >= rank:
            # No better: the fault is the shape's, not the seed's (the npm snowden head's parts at 300 quads
            # ran both retries for nothing, 3.3 s -> 9.3 s).
            break
        result, rank = candidate, candidate_rank
    return result
