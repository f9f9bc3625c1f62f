# SPDX-License-Identifier: GPL-3.0-or-later
"""The one-line warnings a local job's LOD0 carries: each says what happened and what to do about it.

Contract: ``EDGE_FLOW_SKIPPED`` (Edge Flow asked for and not applied, see ``flow``);
``stall_warning(results)`` (a decimated level far over its budget, or None; ``results`` are
``pipeline.LodResult``s, LOD0 first);
``topology_changed(info)`` (LOD0's pieces, open borders or genus differ from the source's, from the remesh
info's ``topology``/``source_topology``, or None). Each is one line with no newline, shown in the panel's
job message, the CLI status and ``report.json``. Imports the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .decimate import ENGINE_NAME as DECIMATOR
from .decimate import TOLERANCE as DECIMATE_TOLERANCE

# Said when Edge Flow was asked for and Instant Meshes' quads could not be taken apart for it (flow.py).
EDGE_FLOW_SKIPPED = (
    "Edge Flow was not applied: Instant Meshes' quads here are not one clean split (a face touches itself, "
    "as on a raw scan's narrow strips), so they were only relaxed; try another target face count"
)

# What each topology figure is called in the warning.
TOPOLOGY_NAMES = {"pieces": "pieces", "boundary_loops": "open borders", "genus": "genus"}


def topology_changed(info: dict[str, Any]) -> str | None:
    """One line when the remesh info says LOD0's topology differs from the source's, else None."""
    if info.get("topology_kept", True):
        return None
    made, source = info["topology"], info["source_topology"]
    changes = [
        f"{name} {made[key]} where the source has {source[key]}"
        for key, name in TOPOLOGY_NAMES.items()
        if made[key] != source[key]
    ]
    return (
        f"LOD0's topology differs from the source's ({'; '.join(changes)}): a thin part came off, a hole "
        "opened or two surfaces joined; the quality report shows where it departs, and another target face "
        "count usually keeps it"
    )


def stall_warning(results: Sequence[Any]) -> str | None:
    """One line for the job when a decimated level stopped well above its budget, else None.

    fast_simplification refuses a collapse that would fold or flatten a neighbouring triangle, and on a mesh
    of long, thin triangles (a CAD tessellation's strips) nearly every collapse does; decimate.py then goes
    on with collapse.py, which reaches the budget on those (the bench's machined part: 4,301 triangles where
    fast_simplification stopped at 64,420) but may still stop where no collapse keeps the surface a
    manifold without folds. The result is still a valid mesh, so the job ends with this warning rather than
    failing. A LOD0 made part by part is left out: its plan may spend up to 1.5x
    the target on purpose (pieces.py), and says so itself."""
    over = [
        r for r in results
        if r.engine == DECIMATOR and r.mesh.face_count > r.target_faces * (1.0 + DECIMATE_TOLERANCE)
        and not (r.lod == 0 and "pieces" in r.info)
    ]  # fmt: skip
    if not over:
        return None
    first = over[0]
    where = "LOD0" if first.lod == 0 else f"LoD {first.lod}"
    if len(over) > 1:
        where += f", and {len(over) - 1} more level" + ("s" if len(over) > 2 else "")
    # Retopology mode remeshes a CAD strip into quads that do decimate; a retopology's own LoDs can only ask
    # for less.
    advice = "raise LoD Final Ratio"
    if results[0].engine == DECIMATOR:
        advice = "Retopology mode reaches the target"
    return (
        f"decimation stopped at {first.mesh.face_count:,} triangles for a budget of {first.target_faces:,} "
        f"({where}): its remaining collapses would fold the surface, as long, thin triangles make them do; "
        f"{advice}"
    )
