# SPDX-License-Identifier: GPL-3.0-or-later
"""*Export for...*: write an engine package of a finished job's LoD chain into a folder the user picks.

Contract: ``retopo_hub.export_package`` takes a ``job_id``, a ``target`` (unity, unreal, godot, gltf, sbox)
and a ``directory``; it writes ``<directory>/<source name>_<target>`` (blender_io/packages.py) from the
job's result objects still in the file and reports the folder. Invoked from the panel it opens the folder
browser first. Nothing in the scene changes. Main thread only.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..blender_io.packages import export_package
from ..core.errors import RetopoError
from ..jobs import records

TARGET_ITEMS = (
    ("unity", "Unity", "One FBX whose LOD children Unity turns into a LOD Group, and the transition heights"),
    ("unreal", "Unreal", "One FBX with an FBX LOD group, and the LOD screen sizes"),
    ("godot", "Godot", "A .glb and a .tscn scene with a visibility range per level"),
    ("gltf", "glTF", "One .glb with MSFT_lod and MSFT_screencoverage"),
    ("sbox", "s&box", "A .vmdl with LoD groups and one FBX per level"),
)


class RETOPO_HUB_OT_export_package(bpy.types.Operator):
    """Write this job's LoDs as a folder an engine imports"""

    bl_idname = "retopo_hub.export_package"
    bl_label = "Export for Engine"
    bl_options = {"REGISTER", "INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})
    target: EnumProperty(name="Engine", items=TARGET_ITEMS, default="gltf")
    directory: StringProperty(name="Folder", subtype="DIR_PATH")
    filter_folder: BoolProperty(default=True, options={"HIDDEN"})

    def invoke(self, context, _event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, _context):
        record = records.find(self.job_id)
        if record is None:
            self.report({"ERROR"}, "This job is no longer in the file")
            return {"CANCELLED"}
        results = [bpy.data.objects[n] for n in records.result_names(record) if n in bpy.data.objects]
        if not results:
            self.report({"ERROR"}, "This job's results are gone from the file: run it again to export them")
            return {"CANCELLED"}
        if not self.directory:
            self.report({"ERROR"}, "Pick a folder to export into")
            return {"CANCELLED"}
        folder = Path(bpy.path.abspath(self.directory))
        try:
            written = export_package(results, self.target, folder, record.source_name or results[0].name)
        except RetopoError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except (OSError, RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, f"Could not write the package into {folder}: {exc}; pick another folder")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {written}")
        return {"FINISHED"}


CLASSES = (RETOPO_HUB_OT_export_package,)
