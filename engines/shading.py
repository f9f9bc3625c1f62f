# SPDX-License-Identifier: GPL-3.0-or-later
"""The one hard-edge angle for results' shading, shared by the engine child and Blender's side.

Contract: ``HARD_EDGE_ANGLE`` (degrees): a result edge whose two faces' normals differ by at least this is
marked sharp, and every face is shaded smooth, so hard edges show and curved surfaces stay smooth. Not a
user option (yet); this is its one place. Stdlib only, so Blender's side may import it for results the
engine did not make (cloud services, Blender's own fallback).
"""

from __future__ import annotations

# Blender's own "Shade Auto Smooth" / "Smooth by Angle" default: what an artist expects when nothing else is
# said. A remesh of a smooth surface at any budget the engine accepts stays well below it (a 500-triangle
# sphere turns ~14 degrees per edge), while a box's rims turn 45-90 degrees even where the remesh cut them.
HARD_EDGE_ANGLE = 30.0
