# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Retopo" tab's settings panels: the active object's settings and the submit button, and the Object
menu entry. ``draw()`` only reads properties; it never starts work. Main thread only.
"""

from __future__ import annotations

import bpy

from ..jobs.records import UNFINISHED
from ..jobs.session import local_engine_problem
from ..providers import registry


class RetopoHubPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Retopo"


def _draw_local_options(layout: bpy.types.UILayout, settings) -> None:
    if problem := local_engine_problem():
        # Results still come, from Blender's QuadriFlow/Decimate: say why, so the fallback is not silent.
        box = layout.box()
        box.label(text="Local engine unavailable in this Blender:", icon="ERROR")
        box.label(text=problem)
    layout.prop(settings, "mode")
    layout.prop(settings, "target_faces")
    if settings.mode == "quad":
        layout.prop(settings, "quads")
    # Only the local engine offers these (the cloud services have no symmetry): one toggle per local axis.
    layout.label(text="Topology")
    layout.row(align=True).prop(settings, "symmetry", expand=True)
    if settings.mode == "quad":
        layout.prop(settings, "sharp_angle")
        layout.prop(settings, "marked_edges")
        layout.prop(settings, "keep_boundaries")
        if settings.quads:
            layout.prop(settings, "edge_flow")
            layout.prop(settings, "adaptive")
            # The object's own vertex groups to pick from (``id_data`` is the object holding the settings).
            layout.prop_search(settings, "density_group", settings.id_data, "vertex_groups")
    layout.label(text="Game-Ready")
    row = layout.row()
    row.active = not settings.bake  # a bake unwraps LOD0 whatever this says (core.options.with_implied)
    row.prop(settings, "uv")
    if settings.symmetry:
        row = layout.row()
        row.active = settings.uv or bool(settings.bake)
        row.prop(settings, "uv_mirror")
    layout.row(align=True).prop(settings, "bake", expand=True)
    col = layout.column()
    col.active = bool(settings.bake)
    col.prop(settings, "bake_size")
    col.prop(settings, "normal_convention")
    auto = " (auto)" if settings.ray_distance == 0 else ""
    col.prop(settings, "ray_distance", text=f"Ray Distance{auto}")


def _draw_provider_options(layout: bpy.types.UILayout, settings) -> None:
    provider = settings.provider
    if provider == "local":
        _draw_local_options(layout, settings)
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
        if provider == "local":
            sub.prop(settings, "lod_switch")
        by_error = provider == "local" and settings.lod_switch == "error"
        if by_error:
            sub.prop(settings, "pixel_error")
            sub.prop(settings, "screen_width")
            sub.prop(settings, "fov")
        else:
            sub.prop(settings, "lod_max_threshold")


def _draw_expectation(layout: bpy.types.UILayout, scene, settings) -> None:
    """What the service documents about time, limits and price, before the artist pays; for sboxcool also
    how many of its 5 slots this file's jobs hold."""
    entry = registry.BY_NAME[settings.provider]
    options = {name: getattr(settings, name) for name, _value, _text in entry.expectations if name}
    text = registry.expectation(entry, options)
    if not text:
        return
    col = layout.column(align=True)
    shown = f"Paid: {text}" if entry.cloud else text[0].upper() + text[1:]
    col.label(text=shown, icon="FUND" if entry.cloud else "TIME")
    if entry.name == "sboxcool":
        active = sum(1 for r in scene.retopo_hub.jobs if r.provider == "sboxcool" and r.state in UNFINISHED)
        if active:
            col.label(text=f"{active} sboxcool job(s) of this file running or queued")


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
            row = layout.row(align=True)
            row.menu("RETOPO_HUB_MT_presets", text=bpy.types.RETOPO_HUB_MT_presets.bl_label, icon="PRESET")
            row.operator("retopo_hub.add_preset", text="", icon="ADD")
            row.operator("retopo_hub.add_preset", text="", icon="REMOVE").remove_active = True
            layout.prop(settings, "provider")
            if settings.provider != "local" and not bpy.app.online_access:
                layout.label(text="Needs Allow Online Access (Preferences > System)", icon="ERROR")
            _draw_provider_options(layout, settings)
            layout.prop(settings, "use_modifiers")
            _draw_expectation(layout, context.scene, settings)
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


def draw_object_menu(self, context: bpy.types.Context) -> None:
    self.layout.separator()
    self.layout.operator("retopo_hub.submit", icon="MOD_REMESH")


CLASSES = (VIEW3D_PT_retopo_hub_main, VIEW3D_PT_retopo_hub_sbox_advanced)
