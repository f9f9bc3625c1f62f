# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each LoD of a local job switches in, by the job's Switch Rule; and the screen coverage there.

Contract: ``level_switches(options, errors, linear, low, high)`` takes a local job's options (missing ones at
their catalogue default), each level's measured error against LOD0 in object units (LOD0 first), the linear
rule's thresholds (engines/lod.py ``switch_thresholds``, which the engine reports as each level's
``switch_threshold``) and LOD0's bounding box, and returns one ``LevelSwitch`` per level: its switch distance
(object units from the camera) and the screen coverage at which it switches in. Rule ``error``: the distance
from which the level's error covers at most ``pixel_error`` pixels on a ``screen_width`` px screen with a
``fov`` degree horizontal view; rule ``linear``: the given thresholds, read as distances. The formulas live
in core/lodmath.py. sboxcool jobs never come here: the service sets its own thresholds (linear). Pure Python
(stdlib only), never imports bpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import lodmath
from .options import default


@dataclass(frozen=True)
class LevelSwitch:
    switch_distance: float
    screen_coverage: float


def setting(options: Mapping[str, Any], name: str) -> Any:
    value = options.get(name)
    return default(name) if value is None else value


def level_switches(
    options: Mapping[str, Any],
    errors: Sequence[float],
    linear: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
) -> list[LevelSwitch]:
    fov = float(setting(options, "fov"))
    if setting(options, "lod_switch") == "linear":
        distances = [float(d) for d in linear]
    else:
        distances = lodmath.switch_distances_from_errors(
            errors, float(setting(options, "pixel_error")), float(setting(options, "screen_width")), fov
        )
    radius = lodmath.bounding_radius(low, high)
    coverages = lodmath.screen_coverages(distances, radius, fov)
    return [LevelSwitch(d, c) for d, c in zip(distances, coverages, strict=True)]
