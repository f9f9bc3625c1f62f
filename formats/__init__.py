# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure file formats on plain arrays: mesh rules, OBJ, GLB, FBX and s&box .vmdl.

Runs in: any process (the worker host writes uploads, Blender's process reads results and writes CLI outputs).
May import: numpy, the stdlib and ``core``; never bpy. Imported by: ``providers``, ``blender_io``, ``jobs``.
"""
