# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators: submit the selection, watch jobs (the UI driver), cancel and tidy jobs, attach remote jobs,
test a cloud provider's connection.

Runs in: Blender's main thread; EXEC blocks (headless), INVOKE hands over to ``watch``.
May import: bpy, ``jobs``, ``core``, ``providers.registry``. Imported by: ``registration``.
"""

from . import attach, connection, jobs, submit, watch

CLASSES = (*submit.CLASSES, *watch.CLASSES, *jobs.CLASSES, *attach.CLASSES, *connection.CLASSES)
