# SPDX-License-Identifier: GPL-3.0-or-later
# Retopo Hub preset: every setting back to its default, then what the name promises.
import bpy

bpy.ops.retopo_hub.reset_settings()
settings = bpy.context.active_object.retopo_hub
settings.provider = "local"
settings.mode = "quad"
settings.target_faces = 5000
settings.quads = True
settings.sharp_angle = 40.0
settings.marked_edges = True
