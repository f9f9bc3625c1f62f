# SPDX-License-Identifier: GPL-3.0-or-later
"""Owns every class, menu entry and CLI command of the extension, registered in order and unregistered in
reverse (tolerantly, so a half-failed register can still be undone). Main thread only.
"""

from __future__ import annotations

import logging

import bpy

from . import cli, job_engine, job_resume, operators, panels, preferences, properties

log = logging.getLogger(__name__)

CLASSES = (*operators.CLASSES, *panels.CLASSES)
_cli_handle = None


def register() -> None:
    global _cli_handle  # noqa: PLW0603 - Blender's CLI handle must outlive this call
    preferences.register()
    properties.register()
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.VIEW3D_MT_object.append(panels.draw_object_menu)
    job_resume.register()
    if hasattr(bpy.utils, "register_cli_command"):
        _cli_handle = bpy.utils.register_cli_command("retopo_hub", cli.main)


def unregister() -> None:
    global _cli_handle  # noqa: PLW0603
    job_engine.shutdown()
    steps = [
        lambda: bpy.utils.unregister_cli_command(_cli_handle) if _cli_handle is not None else None,
        job_resume.unregister,
        lambda: bpy.types.VIEW3D_MT_object.remove(panels.draw_object_menu),
        *[(lambda c=cls: bpy.utils.unregister_class(c)) for cls in reversed(CLASSES)],
        properties.unregister,
        preferences.unregister,
    ]
    for undo in steps:
        try:
            undo()
        except (RuntimeError, ValueError, AttributeError):
            log.exception("retopo_hub: unregister step failed")
    _cli_handle = None
