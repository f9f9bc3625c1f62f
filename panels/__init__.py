# SPDX-License-Identifier: GPL-3.0-or-later
"""The N-panel: ``settings`` (the active object's settings, the button) and ``jobs`` (this file's jobs).

Runs in: Blender's main thread; ``draw()`` only reads. May import: bpy, ``jobs`` (read-only helpers),
``providers.registry``. Imported by: ``registration``.
"""

from . import jobs, settings

CLASSES = (*settings.CLASSES, *jobs.CLASSES)
