# SPDX-License-Identifier: GPL-3.0-or-later
"""Godot 4 text scene (.tscn) that instances a LoD chain's .glb and shows one level per distance band.

Contract: ``godot_lod_scene(glb_name, root_name, levels)`` returns the text of an inherited scene of
``glb_name`` (a path relative to the .tscn, as Godot resolves ``ext_resource`` paths): its root is the .glb's
scene, renamed ``root_name``, and each ``(node name, switch distance)`` of ``levels`` (LOD0 first, the names
of the .glb's root nodes, distances from core/lodswitch.py) gets ``visibility_range_begin`` (from where it is
shown; LOD0 from 0) and ``visibility_range_end`` (where the next level takes over; the last level never
ends), Godot 4's authored LoDs (GeometryInstance3D visibility ranges). Distances must not fall from one
level to the next (ValueError). Pure Python (stdlib only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _text(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: float) -> str:
    return repr(float(value))


def godot_lod_scene(glb_name: str, root_name: str, levels: Sequence[tuple[str, float]]) -> str:
    if not levels:
        raise ValueError("a LoD scene needs at least one level")
    distances = [float(d) for _name, d in levels]
    if any(not math.isfinite(d) or d < 0.0 for d in distances) or distances != sorted(distances):
        raise ValueError(f"switch distances must be finite, from 0 and never fall (got {distances})")
    lines = [
        "[gd_scene load_steps=2 format=3]",
        "",
        f'[ext_resource type="PackedScene" path={_text(glb_name)} id="1_lods"]',
        "",
        f'[node name={_text(root_name)} instance=ExtResource("1_lods")]',
    ]
    for number, (name, begin) in enumerate(levels):
        lines += ["", f'[node name={_text(name)} parent="."]']
        if number:
            lines.append(f"visibility_range_begin = {_number(begin)}")
        if number + 1 < len(levels):
            lines.append(f"visibility_range_end = {_number(distances[number + 1])}")
    return "\n".join(lines) + "\n"
