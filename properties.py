# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender properties: per-object request settings and the per-file job list.

Exactly one attribute per ID type: ``Object.retopo_hub`` (the settings an artist picks for that object) and
``Scene.retopo_hub`` (the jobs of this file). Job records hold no secret: credentials live in the add-on
preferences or the environment only. Main thread only.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

PROVIDER_ITEMS = (
    ("local", "Local", "Offline quad remesh and decimation on this computer (free, seconds)"),
    ("csm", "CSM.ai", "CSM.ai v3 retopology session (swift or precision, minutes)"),
    ("tripo", "Tripo (Scenario)", "Tripo retopology through Scenario's API (face limit, quads, bake)"),
    ("sboxcool", "sboxcool", "sboxcool Model Importer: decimation, LoD chain, PBR maps, s&box .vmdl"),
)

STATE_ITEMS = tuple(
    (s, s.capitalize(), "")
    for s in (
        "queued", "exporting", "uploading", "waiting", "running",
        "downloading", "importing", "done", "failed", "cancelled",
    )
)  # fmt: skip


class RetopoHubObjectSettings(bpy.types.PropertyGroup):
    provider: EnumProperty(name="Provider", items=PROVIDER_ITEMS, default="local")
    mode: EnumProperty(
        name="Mode",
        items=(
            ("quad", "Retopology", "Field-aligned remesh to clean, evenly sized faces"),
            ("decimate", "Decimate", "Collapse triangles, keeping the original layout"),
        ),
        default="quad",
    )
    target_faces: IntProperty(
        name="Target Faces",
        description="Face count to aim for (the result lands within 10%)",
        default=5000, min=4, max=1_000_000, soft_min=100, soft_max=100_000,
    )  # fmt: skip
    quads: BoolProperty(name="Quads", description="Output quads instead of triangles", default=True)
    lod_levels: IntProperty(name="LoD Levels", description="Extra levels of detail after LOD0", default=0,
                            min=0, max=5)  # fmt: skip
    lod_final_ratio: FloatProperty(
        name="Final LoD Ratio", description="Face ratio of the last LoD relative to LOD0",
        default=0.15, min=0.001, max=1.0, precision=3,
    )  # fmt: skip
    lod_max_threshold: FloatProperty(
        name="Max Switch Distance", description="Switch distance of the furthest LoD",
        default=50.0, min=1.0, max=500.0,
    )  # fmt: skip
    # CSM
    csm_model: EnumProperty(
        name="Model",
        items=(
            ("swift", "Swift", "Up to 8K faces, about 5 to 10 minutes"),
            ("precision", "Precision", "High face count, fine detail, up to 50 minutes"),
        ),
        default="swift",
    )
    csm_mesh_url: StringProperty(
        name="Mesh URL or Asset ID",
        description="Optional: a public GLB URL or a CSM ASSET_ id to use instead of uploading the object",
        default="",
    )
    # Tripo through Scenario
    tripo_bake: BoolProperty(name="Bake Textures", description="Bake textures onto the low-poly mesh",
                             default=True)  # fmt: skip
    tripo_adaptive_faces: BoolProperty(
        name="Adaptive Face Count", default=False,
        description="Let Tripo choose the face count (no face limit is sent)",
    )  # fmt: skip
    # sboxcool
    sbox_ratio: FloatProperty(name="Ratio", description="Base decimation ratio (lower = fewer faces)",
                              default=0.5, min=0.01, max=1.0)  # fmt: skip
    sbox_pipeline: EnumProperty(
        name="Pipeline",
        items=(
            ("standard", "Standard", "Decimation and LoDs"),
            ("source1", "s&box (.vmdl)", "Also write an s&box ModelDoc .vmdl with LoD groups"),
        ),
        default="standard",
    )
    sbox_format: EnumProperty(
        name="Upload Format",
        items=(("fbx", "FBX", "Binary FBX (keeps bones)"), ("obj", "OBJ", "Wavefront OBJ (static meshes)")),
        default="fbx",
    )
    sbox_generate_pbr: BoolProperty(
        name="Generate PBR Maps", default=False,
        description="Generate normal, roughness and AO maps from the color map",
    )  # fmt: skip
    sbox_pbr_normal_strength: FloatProperty(name="Normal Strength", default=1.5, min=0.5, max=4.0)
    sbox_pbr_roughness_base: IntProperty(name="Roughness Base", default=180, min=100, max=240)
    sbox_pbr_ao_strength: FloatProperty(name="AO Strength", default=0.3, min=0.0, max=1.0)
    sbox_skip_bone_mapping: BoolProperty(name="Skip Bone Mapping", default=False,
                                         description="Keep the original bone names")  # fmt: skip
    sbox_mapping_id: StringProperty(name="Mapping ID", description="Public bone mapping id (map_...)")
    sbox_most_popular_mapping: BoolProperty(
        name="Most Popular Mapping", default=False,
        description="Auto-select the highest-rated matching mapping",
    )  # fmt: skip
    sbox_auto_match_threshold: IntProperty(name="Auto-Match %", default=80, min=50, max=100)
    sbox_skeleton_target: EnumProperty(
        name="Skeleton", items=(("citizen", "Citizen", ""), ("human", "Human", "")), default="citizen"
    )


class RetopoHubJob(bpy.types.PropertyGroup):
    job_id: StringProperty(name="Job ID")
    provider: StringProperty(name="Provider")
    source_name: StringProperty(name="Source Object")
    source_uid: IntProperty(name="Source Session UID")  # follows a rename while the job runs
    state: EnumProperty(name="State", items=STATE_ITEMS, default="queued")
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(name="Message")
    remote_id: StringProperty(name="Remote ID")
    created: FloatProperty(name="Created")
    updated: FloatProperty(name="Updated")
    finished: FloatProperty(name="Finished")
    faces_requested: IntProperty(name="Requested Faces")
    faces_achieved: IntProperty(name="Achieved Faces")
    work_dir: StringProperty(name="Work Folder", subtype="DIR_PATH")
    settings_json: StringProperty(name="Settings")
    results_json: StringProperty(name="Results")
    result_objects: StringProperty(name="Result Objects")
    details_json: StringProperty(name="Details")  # what a service added (e.g. sboxcool's bone mappings)
    imported: BoolProperty(name="Imported", default=False)


class RetopoHubSceneJobs(bpy.types.PropertyGroup):
    jobs: CollectionProperty(type=RetopoHubJob)
    active_job_index: IntProperty(default=0)


CLASSES = (RetopoHubObjectSettings, RetopoHubJob, RetopoHubSceneJobs)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Object.retopo_hub = PointerProperty(type=RetopoHubObjectSettings)
    bpy.types.Scene.retopo_hub = PointerProperty(type=RetopoHubSceneJobs)


def unregister() -> None:
    del bpy.types.Scene.retopo_hub
    del bpy.types.Object.retopo_hub
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
