# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Retopo" tab of the 3D viewport's sidebar: the active object's settings, the submit button and the
jobs of this file with their progress. ``draw()`` only reads properties; it never starts work.
"""

from __future__ import annotations

import json
import time

import bpy

from ..job_engine import local_engine_problem
from ..properties import PROVIDER_ITEMS

PROVIDER_NAMES = {key: label for key, label, _ in PROVIDER_ITEMS}
ACTIVE_ICONS = {"done": "CHECKMARK", "failed": "ERROR", "cancelled": "CANCEL"}


class RetopoHubPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Retopo"


def _draw_provider_options(layout: bpy.types.UILayout, settings) -> None:
    provider = settings.provider
    if provider == "local":
        if problem := local_engine_problem():
            # Results still come, from Blender's QuadriFlow/Decimate: say why, so the fallback is not silent.
            box = layout.box()
            box.label(text="Local engine unavailable in this Blender:", icon="ERROR")
            box.label(text=problem)
        layout.prop(settings, "mode")
        layout.prop(settings, "target_faces")
        if settings.mode == "quad":
            layout.prop(settings, "quads")
    elif provider == "csm":
        layout.prop(settings, "csm_model")
        layout.prop(settings, "quads")
        layout.prop(settings, "csm_mesh_url")
    elif provider == "tripo":
        layout.prop(settings, "tripo_adaptive_faces")
        row = layout.row()
        row.active = not settings.tripo_adaptive_faces
        row.prop(settings, "target_faces", text="Face Limit")
        layout.prop(settings, "quads")
        layout.prop(settings, "tripo_bake")
    elif provider == "sboxcool":
        layout.prop(settings, "sbox_ratio")
        layout.prop(settings, "sbox_pipeline")
        layout.prop(settings, "sbox_format")
    if provider in {"local", "sboxcool"}:
        col = layout.column(heading="LoDs")
        col.prop(settings, "lod_levels")
        sub = col.column()
        sub.active = settings.lod_levels > 0
        sub.prop(settings, "lod_final_ratio")
        sub.prop(settings, "lod_max_threshold")


class VIEW3D_PT_retopo_hub_main(RetopoHubPanel, bpy.types.Panel):
    bl_label = "Retopo Hub"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        obj = context.active_object
        if obj is None or obj.type != "MESH":
            layout.label(text="Select a mesh object", icon="INFO")
        else:
            settings = obj.retopo_hub
            layout.label(text=f"{obj.name}: {len(obj.data.polygons):,} faces", icon="MESH_DATA")
            layout.prop(settings, "provider")
            if settings.provider != "local" and not bpy.app.online_access:
                layout.label(text="Needs Allow Online Access (Preferences > System)", icon="ERROR")
            _draw_provider_options(layout, settings)
        meshes = [o for o in context.selected_objects if o.type == "MESH"]
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = bool(meshes)
        label = "Retopologize" if len(meshes) <= 1 else f"Retopologize {len(meshes)} Objects"
        row.operator("retopo_hub.submit", text=label, icon="MOD_REMESH")


class VIEW3D_PT_retopo_hub_sbox_advanced(RetopoHubPanel, bpy.types.Panel):
    bl_label = "PBR and Bones"
    bl_parent_id = "VIEW3D_PT_retopo_hub_main"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "MESH" and obj.retopo_hub.provider == "sboxcool"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        settings = context.active_object.retopo_hub
        layout.prop(settings, "sbox_generate_pbr")
        col = layout.column()
        col.active = settings.sbox_generate_pbr
        for name in ("sbox_pbr_normal_strength", "sbox_pbr_roughness_base", "sbox_pbr_ao_strength"):
            col.prop(settings, name)
        layout.prop(settings, "sbox_skip_bone_mapping")
        col = layout.column()
        col.active = not settings.sbox_skip_bone_mapping
        for name in ("sbox_mapping_id", "sbox_most_popular_mapping", "sbox_auto_match_threshold",
                     "sbox_skeleton_target"):  # fmt: skip
            col.prop(settings, name)


def _elapsed(record) -> str:
    end = record.finished or time.time()
    seconds = max(0, int(end - record.created))
    return f"{seconds // 60}:{seconds % 60:02d}"


def draw_job(layout: bpy.types.UILayout, record) -> None:
    box = layout.box()
    row = box.row(align=True)
    icon = ACTIVE_ICONS.get(record.state, "SORTTIME")
    row.label(
        text=f"{record.source_name} · {PROVIDER_NAMES.get(record.provider, record.provider)}", icon=icon
    )
    row.label(text=_elapsed(record))
    if record.state in ACTIVE_ICONS:
        op = row.operator("retopo_hub.remove_job", text="", icon="X", emboss=False)
    else:
        op = row.operator("retopo_hub.cancel_job", text="", icon="CANCEL", emboss=False)
    op.job_id = record.job_id
    if record.state not in ACTIVE_ICONS:
        text = f"{record.state.capitalize()} {int(record.progress * 100)}%"
        if hasattr(box, "progress"):
            box.progress(factor=record.progress, type="BAR", text=text)
        else:
            box.label(text=text)
    if record.message:
        box.label(text=record.message)
    if record.faces_requested or record.faces_achieved:
        achieved = f"{record.faces_achieved:,}" if record.imported else "…"
        box.label(text=f"Faces: {record.faces_requested:,} requested, {achieved} achieved")
    if record.remote_id:
        box.label(text=f"Remote job: {record.remote_id}")
    if record.result_objects:
        names = json.loads(record.result_objects)
        box.label(text=", ".join(names), icon="OUTLINER_OB_MESH")
        _draw_previews(box, names)
    mappings = json.loads(record.details_json or "{}").get("mappings") if record.state == "failed" else None
    if mappings:
        col = box.column(align=True)
        col.label(text="Pick a bone mapping and resubmit:", icon="ARMATURE_DATA")
        for mapping in mappings:
            row = col.row(align=True)
            row.label(text=f"{mapping.get('name')} by {mapping.get('author')}")
            row.label(text=f"{mapping.get('matchPercent')}% · +{mapping.get('upvotes', 0)}")
            op = row.operator("retopo_hub.use_mapping", text="Use")
            op.job_id, op.mapping_id = record.job_id, str(mapping.get("publicId", ""))


def _draw_previews(layout: bpy.types.UILayout, object_names: list[str]) -> None:
    """CSM sends a render of each variation; show them side by side so the artist can pick one."""
    images = []
    for name in object_names:
        obj = bpy.data.objects.get(name)
        image = bpy.data.images.get(obj.get("retopo_hub_preview", "")) if obj is not None else None
        if image is not None:
            images.append((name, image))
    if not images:
        return
    row = layout.row()
    for name, image in images:
        col = row.column()
        preview = image.preview_ensure() if hasattr(image, "preview_ensure") else image.preview
        if preview is not None:
            col.template_icon(icon_value=preview.icon_id, scale=5.0)
        col.label(text=name)


class VIEW3D_PT_retopo_hub_jobs(RetopoHubPanel, bpy.types.Panel):
    bl_label = "Jobs"
    bl_parent_id = "VIEW3D_PT_retopo_hub_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        jobs = context.scene.retopo_hub.jobs
        if not jobs:
            layout.label(text="No jobs in this file yet")
            layout.operator("retopo_hub.attach_job", icon="LINKED")
            return
        for record in reversed(jobs):
            draw_job(layout, record)
        row = layout.row(align=True)
        row.operator("retopo_hub.attach_job", icon="LINKED")
        row.operator("retopo_hub.clear_finished", icon="TRASH")


def draw_object_menu(self, context: bpy.types.Context) -> None:
    self.layout.separator()
    self.layout.operator("retopo_hub.submit", icon="MOD_REMESH")


CLASSES = (VIEW3D_PT_retopo_hub_main, VIEW3D_PT_retopo_hub_sbox_advanced, VIEW3D_PT_retopo_hub_jobs)
