# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender properties: per-object request settings and the per-file job list.

Exactly one attribute per ID type: ``Object.retopo_hub`` (the settings an artist picks for that object) and
``Scene.retopo_hub`` (the jobs of this file). The settings are generated from the option catalogue
(``core.options``) and the provider registry. Job records hold no secret: credentials live in the add-on
preferences or the environment only. Main thread only.
"""

from __future__ import annotations

from typing import Any

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

from .core.options import CATALOGUE, Option
from .jobs import records
from .providers import registry


def _property(option: Option):
    """The bpy property of one catalogue option (name, default, range and description from the catalogue)."""
    common = {"name": option.label, "description": option.description}
    if option.flags:  # one toggle per letter; the job option is the toggled letters (Option.from_property)
        return EnumProperty(items=option.items, default=set(option.default), options={"ENUM_FLAG"}, **common)
    if option.items:
        return EnumProperty(items=option.items, default=option.default, **common)
    if option.kind is bool:
        return BoolProperty(default=option.default, **common)
    if option.kind is str:
        return StringProperty(default=option.default, **common)
    limits = option.range or next(iter(option.provider_ranges.values()))
    numeric: dict[str, Any] = {"default": option.default, "min": limits.low, "max": limits.high}
    if option.soft:
        numeric["soft_min"], numeric["soft_max"] = option.soft
    if option.kind is int:
        return IntProperty(**numeric, **common)
    if option.precision is not None:
        numeric["precision"] = option.precision
    return FloatProperty(**numeric, **common)


def _settings_annotations() -> dict[str, Any]:
    providers = tuple((entry.name, entry.label, entry.description) for entry in registry.REGISTRY)
    annotations: dict[str, Any] = {
        "provider": EnumProperty(name="Provider", items=providers, default="local")
    }
    for option in CATALOGUE:
        annotations[option.name] = _property(option)
    return annotations


# Built from the catalogue, so the UI's defaults and ranges are the ones validation and the CLI use.
RetopoHubObjectSettings = type(
    "RetopoHubObjectSettings", (bpy.types.PropertyGroup,), {"__annotations__": _settings_annotations()}
)


class RetopoHubJob(bpy.types.PropertyGroup):
    job_id: StringProperty(name="Job ID")
    provider: StringProperty(name="Provider")
    source_name: StringProperty(name="Source Object")
    source_uid: IntProperty(name="Source Session UID")  # follows a rename while the job runs
    state: EnumProperty(name="State", items=records.STATE_ITEMS, default="queued")
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


def attach() -> None:
    """One attribute per ID type, added once the classes are registered (``registration``)."""
    bpy.types.Object.retopo_hub = PointerProperty(type=RetopoHubObjectSettings)
    bpy.types.Scene.retopo_hub = PointerProperty(type=RetopoHubSceneJobs)


def detach() -> None:
    del bpy.types.Scene.retopo_hub
    del bpy.types.Object.retopo_hub
