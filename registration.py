# SPDX-License-Identifier: GPL-3.0-or-later
"""Registers everything the extension adds to Blender, in order, and unregisters it in reverse.

Contract: the preferences, the property groups and their ``PointerProperty``s, every operator and panel
class, the Object menu entry, the ``load_post`` handler that resumes jobs, and the ``blender -c retopo_hub``
CLI command are registered here and nowhere else. Unregistering stops the jobs' worker host and the UI
timer, then undoes each step in reverse, tolerantly, so a half-failed register can still be undone.
Main thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import bpy

from . import operators, panels, preferences, properties
from .jobs import cli, session
from .operators import watch
from .panels.settings import draw_object_menu

log = logging.getLogger(__name__)

CLASSES = (
    preferences.RetopoHubPreferences,
    *properties.CLASSES,
    *operators.CLASSES,
    *panels.CLASSES,
)
_undo: list[Callable[[], object]] = []
_cli_handle = None


def register() -> None:
    global _cli_handle  # noqa: PLW0603 - Blender's CLI handle must outlive this call
    for cls in CLASSES:
        bpy.utils.register_class(cls)
        _undo.append(lambda c=cls: bpy.utils.unregister_class(c))
    properties.attach()
    _undo.append(properties.detach)
    bpy.types.VIEW3D_MT_object.append(draw_object_menu)
    _undo.append(lambda: bpy.types.VIEW3D_MT_object.remove(draw_object_menu))
    bpy.app.handlers.load_post.append(watch.on_load_post)
    _undo.append(lambda: bpy.app.handlers.load_post.remove(watch.on_load_post))
    _undo.append(watch.stop_driver)
    if hasattr(bpy.utils, "register_cli_command"):
        _cli_handle = bpy.utils.register_cli_command("retopo_hub", cli.main)
        _undo.append(lambda: bpy.utils.unregister_cli_command(_cli_handle))


def unregister() -> None:
    global _cli_handle  # noqa: PLW0603
    session.shutdown()
    while _undo:
        undo = _undo.pop()
        try:
            undo()
        except (RuntimeError, ValueError, AttributeError):
            log.exception("retopo_hub: unregister step failed")
    _cli_handle = None
