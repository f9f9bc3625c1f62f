# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 14's look, rendered (tests/support/lodrender.py): each LoD level wearing LOD0's baked base color
map, seen from its own switch distance on the 1920 px, 60 degree screen, against LOD0 from there.

What holds, and is asserted: the renders are deterministic (LOD0 against itself: 0 pixels' worth), and
LOD0's edges (outline and the map's) move by well under a pixel on average, as the switch rule's 1 px of
geometric error promises. What does not hold: the issue's "at most 1 pixel's worth" summed over the screen
(a sub-pixel shift along every edge adds up to tens of pixels' worth; bench/LODLOOK.md has the figures)."""

from __future__ import annotations

import json

import numpy as np

from tests.support import lodrender
from tests.support.scene import ico_sphere

LEVELS = 2
MAP_PX = 256
# Two of the measure's views (from the side, from above) and a small sample count: the figure moves by
# about 1% between 16 and 256 samples, since both renders of a pair share their samples (bench/LODLOOK.md).
VIEWS = (lodrender.VIEWS[0], lodrender.VIEWS[4])
SAMPLES = 16
# Mean shift of LOD0's edges, in screen pixels, at each level's switch distance (measured: 0.06-0.13 px on
# the bench's bunny, see bench/LODLOOK.md).
EDGE_SHIFT_PX = 0.5


def _checkered(bpy, obj) -> None:
    """A procedural checker on the upper half and a plain colour below: edges for the map to carry."""
    for kind in ("checker", "plain"):
        material = bpy.data.materials.new(f"{obj.name}_{kind}")
        if bpy.app.version < (5, 0, 0):
            material.use_nodes = True
        tree = material.node_tree
        bsdf = tree.nodes["Principled BSDF"]
        if kind == "checker":
            checker = tree.nodes.new("ShaderNodeTexChecker")
            checker.inputs["Scale"].default_value = 4.0
            tree.links.new(checker.outputs["Color"], bsdf.inputs["Base Color"])
        else:
            bsdf.inputs["Base Color"].default_value = (0.1, 0.6, 0.2, 1.0)
        obj.data.materials.append(material)
    centres = np.empty(len(obj.data.polygons) * 3, np.float32)
    obj.data.polygons.foreach_get("center", centres)
    obj.data.polygons.foreach_set("material_index", (centres.reshape(-1, 3)[:, 2] < 0).astype(np.int32))
    obj.data.update()


def test_levels_rendered_with_lod0_map_from_their_switch_distance(blank):
    bpy = blank
    source = ico_sphere("Ball", subdivisions=5)
    _checkered(bpy, source)
    settings = source.retopo_hub
    settings.target_faces, settings.lod_levels, settings.uv = 500, LEVELS, True
    settings.bake, settings.bake_size = {"c"}, MAP_PX
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    image = bpy.data.images.load(json.loads(record.details_json)["maps"]["color"], check_existing=True)
    coll = bpy.data.collections["Ball_RetopoHub"]
    lod0 = coll.objects["Ball_retopo"]

    first = float(coll.objects["Ball_LOD1"]["retopo_hub_switch_threshold"])
    same = lodrender.render_pair(lod0, lod0, image, lodrender.View(VIEWS[0], first), samples=SAMPLES)
    assert lodrender.pixels_worth(*same) == 0.0, "two renders with the same samples must be identical"

    for level in range(1, LEVELS + 1):
        obj = coll.objects[f"Ball_LOD{level}"]
        distance = float(obj["retopo_hub_switch_threshold"])
        assert distance > 0.0
        for figures in lodrender.level_figures(lod0, obj, image, distance, views=VIEWS, samples=SAMPLES):
            assert figures.edge_shift_px <= EDGE_SHIFT_PX, (level, figures)
            # No pixel is wholly wrong: whatever moved, moved by less than a pixel.
            assert figures.worst_pixel < 1.0, (level, figures)
