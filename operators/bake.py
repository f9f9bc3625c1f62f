# SPDX-License-Identifier: GPL-3.0-or-later
"""Bake onto This Result: bake a finished job's source onto its LOD0, whichever provider made it (a CSM,
sboxcool or Tripo result whose service did not bake, or a local one baked again with other settings).

Contract: ``retopo_hub.bake_result(job_id)`` takes the maps, size, normal convention and ray distance from
the source object's settings (Normal and Color when none is ticked) and runs ``jobs.bake.start``, the same
code as a job's own bake phase: in a background Blender with a UI (the Jobs panel shows it baking and
Cancel stops it), in process without one. A result without UVs is unwrapped first with Blender's Smart UV
Project; only the result changes, never the source. Main thread only.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from ..blender_io.importer import find_source
from ..core.options import CATALOGUE, with_implied
from ..jobs import bake, records, session
from . import watch

BAKE_SETTINGS = ("bake", "bake_size", "normal_convention", "ray_distance")
UNWRAP_MARGIN = 0.004  # Smart UV Project's island margin: about 8 texels at 2048


def _unwrap(context: bpy.types.Context, obj: bpy.types.Object) -> None:
    """Smart UV Project on ``obj`` alone; the active object and the selection come back as they were."""
    layer = context.view_layer
    active, selected = layer.objects.active, [o for o in layer.objects if o.select_get()]
    try:
        for other in selected:
            other.select_set(False)
        obj.select_set(True)
        layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            bpy.ops.mesh.select_all(action="SELECT")
            bpy.ops.uv.smart_project(island_margin=UNWRAP_MARGIN)
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    finally:
        obj.select_set(False)
        for other in selected:
            other.select_set(True)
        layer.objects.active = active


class RETOPO_HUB_OT_bake_result(bpy.types.Operator):
    """Bake the source's detail (normal, base color, AO: the Game-Ready settings) onto this job's LOD0"""

    bl_idname = "retopo_hub.bake_result"
    bl_label = "Bake onto This Result"
    bl_options = {"REGISTER", "INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        record = records.find(self.job_id)
        source = find_source(record.source_name, record.source_uid) if record is not None else None
        names = records.result_names(record) if record is not None else ()
        results = [bpy.data.objects[n] for n in names if n in bpy.data.objects]
        if source is None or not results:
            self.report({"ERROR"}, "This job's source or results are gone from the file: nothing to bake")
            return {"CANCELLED"}
        if record.job_id in session.bakes() or not records.terminal(record.state):
            self.report({"ERROR"}, "This job is still running: wait for it, or cancel it")
            return {"CANCELLED"}
        lod0 = next((o for o in results if o.get("retopo_hub_lod", 0) == 0), results[0])
        levels = [o for o in results if o is not lod0 and o.get("retopo_hub_variant", 0) == 0]
        by_name = {option.name: option for option in CATALOGUE}
        options = {
            name: by_name[name].from_property(getattr(source.retopo_hub, name)) for name in BAKE_SETTINGS
        }
        options = with_implied(options | {"bake": options["bake"] or "nc"})
        if not lod0.data.uv_layers and context.mode == "OBJECT":
            _unwrap(context, lod0)
        if bake.start(record, source, lod0, levels, options=options):
            watch.ensure_driver()
            self.report({"INFO"}, f"Baking {lod0.name} in the background; see the Retopo tab")
            return {"FINISHED"}
        warnings = records.details(record).get("warnings") or []
        if warnings and warnings[-1].startswith("no maps"):
            self.report({"ERROR"}, warnings[-1])
            return {"CANCELLED"}
        self.report({"INFO"}, f"{lod0.name}: {record.message}")
        return {"FINISHED"}


CLASSES = (RETOPO_HUB_OT_bake_result,)
