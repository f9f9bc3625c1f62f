# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators: submit the selection, watch jobs (the UI driver), cancel and tidy jobs, attach remote jobs,
review results, bake maps onto a result, export a job's LoDs for an engine, test a cloud provider's
connection, presets of the object settings.

Runs in: Blender's main thread; EXEC blocks (headless), INVOKE hands over to ``watch``.
May import: bpy, ``jobs``, ``core``, ``blender_io``, ``providers.registry``. Imported by: ``registration``.
"""

from . import attach, bake, connection, export_package, jobs, presets, review, submit, watch

CLASSES = (
    *submit.CLASSES, *watch.CLASSES, *jobs.CLASSES, *attach.CLASSES, *review.CLASSES, *connection.CLASSES,
    *presets.CLASSES, *export_package.CLASSES, *bake.CLASSES,
)  # fmt: skip
