# SPDX-License-Identifier: GPL-3.0-or-later
"""Review a finished job's results against its source: toggle which one shows, isolate them, color them by
their distance to the source, apply the result to the source, delete the results.

Contract: every operator takes a ``job_id`` and works on that job's source object (found by its session uid,
else its name) and result objects (the record's ``result_objects``). Visibility changes use the view
layer's hide flag (``hide_set``), as H / Alt+H do, so the artist undoes them the same way.
*Apply to Source* swaps the LOD0 result's mesh into the source object, which keeps its name, transform,
modifiers and materials; the source's own mesh is kept (fake user, as ``<object>_original``) and
*Restore Original* swaps it back under its own name, besides Blender's undo. Only Blender data is
touched, and nothing heavy runs. Main thread only.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from ..blender_io.importer import PROP_PREFIX, find_source
from ..jobs import records
from ..jobs.measure import DISTANCE_ATTRIBUTE

ORIGINAL_MESH_KEY = records.ORIGINAL_MESH_KEY


def _job_objects(job_id: str):
    """(record, source or None, [result objects still in the file]) of a job; record None if unknown."""
    record = records.find(job_id)
    if record is None:
        return None, None, []
    source = find_source(record.source_name, record.source_uid)
    results = [bpy.data.objects[n] for n in records.result_names(record) if n in bpy.data.objects]
    return record, source, results


def _in_view_layer(context, objects) -> list:
    layer = context.view_layer.objects
    return [o for o in objects if o is not None and o.name in layer]


class _JobOperator:
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})

    def _objects(self, *, need_results: bool = True):
        record, source, results = _job_objects(self.job_id)
        if record is None:
            self.report({"ERROR"}, "This job is no longer in the file")
            return None
        if need_results and not results:
            self.report({"ERROR"}, "This job's results are gone from the file")
            return None
        return record, source, results


class RETOPO_HUB_OT_toggle_result(_JobOperator, bpy.types.Operator):
    """Show the source or the result: hides one and shows the other"""

    bl_idname = "retopo_hub.toggle_result"
    bl_label = "Show Source / Show Result"

    def execute(self, context: bpy.types.Context) -> set[str]:
        found = self._objects()
        if found is None:
            return {"CANCELLED"}
        _record, source, results = found
        results = _in_view_layer(context, results)
        showing_result = any(not o.hide_get() for o in results)
        for obj in results:
            obj.hide_set(showing_result)
        for obj in _in_view_layer(context, [source]):
            obj.hide_set(not showing_result)
        self.report({"INFO"}, "Showing the source" if showing_result else "Showing the result")
        return {"FINISHED"}


class RETOPO_HUB_OT_isolate_job(_JobOperator, bpy.types.Operator):
    """Hide every other object to compare the source and its results; again to show them all"""

    bl_idname = "retopo_hub.isolate_job"
    bl_label = "Isolate"

    def execute(self, context: bpy.types.Context) -> set[str]:
        found = self._objects()
        if found is None:
            return {"CANCELLED"}
        _record, source, results = found
        keep = set(_in_view_layer(context, [source, *results]))
        others = [o for o in context.view_layer.objects if o not in keep]
        isolated = all(o.hide_get() for o in others) and any(not o.hide_get() for o in keep)
        for obj in others:
            obj.hide_set(not isolated)
        if not isolated:
            for obj in keep:
                obj.hide_set(False)
        return {"FINISHED"}


class RETOPO_HUB_OT_distance_heatmap(_JobOperator, bpy.types.Operator):
    """Color the results by their distance to the source (green on it, red far off); again to switch off"""

    bl_idname = "retopo_hub.distance_heatmap"
    bl_label = "Distance Heatmap"

    def execute(self, context: bpy.types.Context) -> set[str]:
        found = self._objects()
        if found is None:
            return {"CANCELLED"}
        _record, _source, results = found
        painted = [o for o in results if o.type == "MESH" and DISTANCE_ATTRIBUTE in o.data.color_attributes]
        if not painted:
            self.report({"ERROR"}, "These results have no distance colors yet: wait for the quality report")
            return {"CANCELLED"}
        for obj in painted:
            colors = obj.data.color_attributes
            colors.active_color = colors[DISTANCE_ATTRIBUTE]
        views = [
            area.spaces.active
            for window in context.window_manager.windows
            for area in window.screen.areas
            if area.type == "VIEW_3D"
        ]
        # "VERTEX" is the viewport's "Attribute" color: the active color attribute.
        showing = any(v.shading.type == "SOLID" and v.shading.color_type == "VERTEX" for v in views)
        for view in views:
            if showing:
                view.shading.color_type = "MATERIAL"
            else:
                view.shading.type, view.shading.color_type = "SOLID", "VERTEX"
        return {"FINISHED"}


class RETOPO_HUB_OT_apply_to_source(_JobOperator, bpy.types.Operator):
    """Put the result's mesh into the source object (its name, transform, modifiers and materials stay); the
    source's own mesh is kept, so Restore Original (or Undo) brings it back"""

    bl_idname = "retopo_hub.apply_to_source"
    bl_label = "Apply to Source"

    def execute(self, context: bpy.types.Context) -> set[str]:
        found = self._objects()
        if found is None:
            return {"CANCELLED"}
        record, source, results = found
        if source is None or source.type != "MESH":
            self.report({"ERROR"}, f"The source object {record.source_name!r} no longer exists")
            return {"CANCELLED"}
        lod0 = next((o for o in results if int(o.get(PROP_PREFIX + "lod", 0)) == 0), results[0])
        if lod0.type != "MESH":
            self.report({"ERROR"}, f"{lod0.name} is not a mesh")
            return {"CANCELLED"}
        original = source.data
        if not source.get(ORIGINAL_MESH_KEY):  # applied twice: the first original is the one to keep
            original.use_fake_user = True
            named = original.name
            original.name = f"{source.name}_original"
            source[ORIGINAL_MESH_KEY] = {"mesh": original.name, "name": named}
        new_mesh = lod0.data
        if lod0.matrix_world != source.matrix_world:
            # Same place in the world, now seen through the source's transform.
            new_mesh.transform(source.matrix_world.inverted_safe() @ lod0.matrix_world)
        # The result's material slots were copied from the source's, so the faces keep their materials.
        source.data = new_mesh
        new_mesh.name = source.name
        bpy.data.objects.remove(lod0)
        records.set_result_names(record, [o.name for o in results if o is not lod0])
        self.report({"INFO"}, f"{source.name} now has the result's {len(new_mesh.polygons):,} faces")
        return {"FINISHED"}


class RETOPO_HUB_OT_restore_original(_JobOperator, bpy.types.Operator):
    """Give the source object back the mesh it had before Apply to Source"""

    bl_idname = "retopo_hub.restore_original"
    bl_label = "Restore Original"

    def execute(self, context: bpy.types.Context) -> set[str]:
        found = self._objects(need_results=False)
        if found is None:
            return {"CANCELLED"}
        _record, source, _results = found
        kept = source.get(ORIGINAL_MESH_KEY) if source is not None else None
        # A copy: the ID property group dies with the key deleted below, and a reference to it would crash.
        kept = kept.to_dict() if hasattr(kept, "to_dict") else None
        original = bpy.data.meshes.get(kept.get("mesh", "")) if kept else None
        if original is None:
            self.report({"ERROR"}, "There is no original mesh to restore")
            return {"CANCELLED"}
        applied = source.data
        source.data = original
        original.use_fake_user = False
        del source[ORIGINAL_MESH_KEY]
        if applied.users == 0:
            bpy.data.meshes.remove(applied)
        original.name = kept.get("name") or original.name  # its own name back, now that it is free
        return {"FINISHED"}


class RETOPO_HUB_OT_delete_results(_JobOperator, bpy.types.Operator):
    """Delete this job's result objects (and their meshes when nothing else uses them)"""

    bl_idname = "retopo_hub.delete_results"
    bl_label = "Delete Result"

    def execute(self, context: bpy.types.Context) -> set[str]:
        found = self._objects()
        if found is None:
            return {"CANCELLED"}
        record, _source, results = found
        removed = 0
        for obj in results:
            mesh = obj.data if obj.type == "MESH" else None
            bpy.data.objects.remove(obj)
            if mesh is not None and mesh.users == 0:
                bpy.data.meshes.remove(mesh)
            removed += 1
        records.set_result_names(record, [n for n in records.result_names(record) if n in bpy.data.objects])
        self.report({"INFO"}, f"Deleted {removed} result object(s)")
        return {"FINISHED"}


CLASSES = (
    RETOPO_HUB_OT_toggle_result,
    RETOPO_HUB_OT_isolate_job,
    RETOPO_HUB_OT_distance_heatmap,
    RETOPO_HUB_OT_apply_to_source,
    RETOPO_HUB_OT_restore_original,
    RETOPO_HUB_OT_delete_results,
)
