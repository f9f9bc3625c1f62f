# SPDX-License-Identifier: GPL-3.0-or-later
"""The bpy side of files and meshes: snapshot objects to arrays, import results as new objects.

Main thread only; workers never call into this package.
"""
