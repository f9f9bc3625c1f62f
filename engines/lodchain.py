# SPDX-License-Identifier: GPL-3.0-or-later
"""The LoD chain below LOD0 in one process: ``chain_levels``.

Contract: ``chain_levels(lod0, targets, axes, look, progress, check_cancel)`` returns one ``Made`` per
target (triangle budgets of LoD 1..n), in order. Without ``look`` each level is decimated from the one
before (mirrored again at the ``axes`` planes when there are any: symmetry.py); with a ``look`` that keeps
anything (lodlook.py) each level is decimated from LOD0 keeping its UV seams and material borders, and
carries UVs and slots (mirrored levels take them from LOD0's nearest region). Imports numpy and the
engine's own modules only; never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .decimate import TOLERANCE, decimate
from .lodlook import Look, decimate_keeping
from .meshdata import MeshArrays
from .progress import ProgressFn, scaled
from .symmetry import symmetric_lod

# Decimations a mirrored level gets at most to land within TOLERANCE of its budget (see chain_levels).
AIM_TRIES = 3


@dataclass(frozen=True, eq=False)
class Made:
    """A level: its triangle mesh, and its corner UVs and face slots when it keeps LOD0's look."""

    mesh: MeshArrays
    corner_uvs: np.ndarray | None = None
    face_materials: np.ndarray | None = None


def chain_levels(
    lod0: MeshArrays,
    targets: list[int],
    axes: tuple,
    look: Look | None,
    progress: ProgressFn | None,
    check_cancel: Callable[[], None],
    start_at: float = 0.0,
) -> list[Made]:
    """LoDs 1.. at ``targets`` triangles: chained from the previous level, or from LOD0 keeping ``look``."""

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    levels: list[Made] = []
    previous = lod0
    look = look if look is not None and look.keeps_anything else None
    start = look.level0() if look is not None and not axes else None
    span = 1.0 - start_at
    for level, target in enumerate(targets, start=1):
        check_cancel()
        low = start_at + span * (level - 1) / len(targets)
        report(low, f"building LoD {level} ({target:,} triangles)")
        level_progress = scaled(progress, low, low + span / len(targets))
        if start is not None:
            # From LOD0 itself, seams and borders kept (lodlook.py), so each level approximates LOD0, not
            # the level before. With UVs LOD0 has at most uv.MAX_TRIANGLES, so a pass is cheap; materials
            # without UVs on a large LOD0 pay one pass over LOD0 per level.
            dressed = decimate_keeping(look, start, target)
            levels.append(Made(dressed.mesh, dressed.corner_uvs, dressed.face_materials))
            continue
        # Chaining from the previous level: each step is small and fast; see the module docstring.
        if axes:
            # Cut at the planes and mirrored again, every LoD is as symmetric as LOD0.
            mesh, aim = symmetric_lod(decimate(previous, target, progress=level_progress), axes), target
            for _ in range(AIM_TRIES):
                if mesh.face_count <= target * (1.0 + TOLERANCE):
                    break
                # The cut splits the triangles along the seam, a larger share of a small level (LoD 2 of a
                # 2,000-quad Suzanne: 676 triangles for 589): aim lower by what it added.
                aim = max(4, round(aim * target / mesh.face_count))
                mesh = symmetric_lod(decimate(previous, aim, progress=level_progress), axes)
        else:
            mesh = decimate(previous, target, progress=level_progress)
        item = Made(mesh)
        if look is not None:  # mirrored levels: LOD0's look by each face's nearest LOD0 region
            dressed = look.dress_nearest(mesh)
            item = Made(mesh, dressed.corner_uvs, dressed.face_materials)
        levels.append(item)
        previous = mesh
    return levels
