# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure Python, never imports bpy (a test enforces it).

Runs on any thread; workers get frozen snapshots and never touch Blender data. Jobs, the runner, HTTP, files.
"""
