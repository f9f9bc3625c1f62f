# SPDX-License-Identifier: GPL-3.0-or-later
# Retopo Hub preset: every setting back to its default, then what the name promises.
import bpy

settings = bpy.context.active_object.retopo_hub
for prop in settings.bl_rna.properties:
    if prop.identifier != "rna_type":
        settings.property_unset(prop.identifier)
settings.provider = "local"
settings.mode = "quad"
settings.target_faces = 20000
settings.quads = True
settings.symmetry = {"x"}
