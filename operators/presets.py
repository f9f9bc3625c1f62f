# SPDX-License-Identifier: GPL-3.0-or-later
"""Presets of an object's Retopo Hub settings, with Blender's own preset machinery (``AddPresetBase``).

Contract: ``RETOPO_HUB_MT_presets`` lists the presets shipped in the extension's ``presets`` folder (read
only; an update replaces them), then the user's own, which ``retopo_hub.add_preset`` saves into Blender's
user presets folder (``scripts/presets/<PRESET_SUBDIR>``) so they survive an extension update. Choosing one
runs Blender's ``script.execute_preset`` on the active object. A user preset stores the provider and every
option of the catalogue (``core.options``); a shipped one first resets every setting to its default
(``retopo_hub.reset_settings``: the RNA default, which comes from the catalogue) and then sets only what
its name promises. Main thread only.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bl_operators.presets import AddPresetBase

from ..core.options import CATALOGUE

PRESET_SUBDIR = "retopo_hub/object"
SHIPPED = Path(__file__).resolve().parent.parent / "presets"


def preset_files() -> list[Path]:
    """Every preset the menu offers: the shipped ones, then the user's."""
    folders = [SHIPPED, *map(Path, bpy.utils.preset_paths(PRESET_SUBDIR))]
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.py"))]


class RETOPO_HUB_MT_presets(bpy.types.Menu):
    bl_label = "Presets"
    preset_subdir = PRESET_SUBDIR
    preset_operator = "script.execute_preset"

    def draw(self, context: bpy.types.Context) -> None:
        # Menu.draw_preset would search Blender's script folders only; the shipped presets live in the
        # extension, so both folders are listed.
        self.path_menu(
            [str(SHIPPED), *bpy.utils.preset_paths(PRESET_SUBDIR)],
            self.preset_operator,
            props_default={"menu_idname": type(self).__name__},
            filter_ext=lambda ext: ext.lower() == ".py",
        )


class RETOPO_HUB_OT_reset_settings(bpy.types.Operator):
    """Set every Retopo Hub setting of the active object back to its default"""

    bl_idname = "retopo_hub.reset_settings"
    bl_label = "Reset Retopo Hub Settings"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "MESH"

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.active_object.retopo_hub
        for prop in settings.bl_rna.properties:
            if prop.identifier != "rna_type":
                settings.property_unset(prop.identifier)  # the RNA default, which is the catalogue's
        return {"FINISHED"}


class RETOPO_HUB_OT_add_preset(AddPresetBase, bpy.types.Operator):
    """Save the active object's Retopo Hub settings as a preset (or remove the chosen one)"""

    bl_idname = "retopo_hub.add_preset"
    bl_label = "Add Retopo Hub Preset"
    preset_menu = "RETOPO_HUB_MT_presets"
    preset_subdir = PRESET_SUBDIR
    preset_defines = ["settings = bpy.context.active_object.retopo_hub"]
    preset_values = ["settings.provider", *(f"settings.{option.name}" for option in CATALOGUE)]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "MESH"


CLASSES = (RETOPO_HUB_MT_presets, RETOPO_HUB_OT_reset_settings, RETOPO_HUB_OT_add_preset)
