# SPDX-License-Identifier: GPL-3.0-or-later
"""Level-of-detail schedules: how many faces each LoD keeps and when the viewer switches to it.

Contract: plain floats in, lists of floats out. ``lod_ratios`` gives the fraction of LOD0's face count per
level, ``switch_thresholds`` the screen-size threshold per level (0.0 for LOD0, then linear). Imports only
the engine's errors; never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

import logging
import math

from .errors import EngineInputError

log = logging.getLogger(__name__)

MAX_LEVELS = 5
MIN_FINAL_RATIO = 0.001
# >1 keeps the first levels close to LOD0, where popping is most visible, and spends the reduction later.
RATIO_CURVE = 1.7
MIN_THRESHOLD = 1.0
MAX_THRESHOLD = 500.0


def check_levels(levels: int) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or not 0 <= levels <= MAX_LEVELS:
        raise EngineInputError(f"LoD levels must be a whole number from 0 to {MAX_LEVELS}; got {levels!r}")
    return levels


def lod_ratios(levels: int, final_ratio: float) -> list[float]:
    """Face-count ratios for LOD0..LODlevels: 1.0 first, ``final_ratio`` last, eased in between."""
    check_levels(levels)
    ratio = float(final_ratio)
    if not (math.isfinite(ratio) and MIN_FINAL_RATIO <= ratio <= 1.0):
        raise EngineInputError(f"final LoD ratio must be from {MIN_FINAL_RATIO} to 1.0; got {final_ratio!r}")
    ratios = [ratio ** ((i / levels) ** RATIO_CURVE) for i in range(levels + 1)] if levels else [1.0]
    # Pin both ends so float rounding can never move them.
    ratios[0] = 1.0
    if levels:
        ratios[-1] = ratio
    return ratios


def switch_thresholds(levels: int, max_threshold: float) -> list[float]:
    """Switch distances/sizes per level: 0.0 for LOD0, then ``max_threshold * i / levels``."""
    check_levels(levels)
    top = float(max_threshold)
    if not (math.isfinite(top) and MIN_THRESHOLD <= top <= MAX_THRESHOLD):
        raise EngineInputError(
            f"largest LoD switch threshold must be from {MIN_THRESHOLD:g} to {MAX_THRESHOLD:g}; "
            f"got {max_threshold!r}"
        )
    if not levels:
        return [0.0]
    return [top * i / levels for i in range(levels + 1)]
