# SPDX-License-Identifier: GPL-3.0-or-later
"""The preferences' Test Connection button: one free, read-only request per cloud provider, one line back.

Contract: EXEC blocks in ``jobs.connection.run_blocking`` (``blender -b``, the ``bpy`` module, scripts);
INVOKE starts the test and polls ``jobs.connection.step`` from a modal timer, so Blender never waits on the
network (the request itself runs in the worker host). The answer is reported (INFO when OK, else WARNING)
and kept for the preferences to draw under the button. Main thread only.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty

from ..jobs import connection
from ..providers import registry

TIMER_S = 0.1

CLOUD_ITEMS = [(e.name, e.label, e.description) for e in registry.REGISTRY if e.cloud]


def _redraw_preferences() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


class RETOPO_HUB_OT_test_connection(bpy.types.Operator):
    """Send one free, read-only request with the stored key and report the answer in one line"""

    bl_idname = "retopo_hub.test_connection"
    bl_label = "Test Connection"
    bl_options = {"INTERNAL"}

    provider: EnumProperty(name="Provider", items=CLOUD_ITEMS)

    _timer = None

    def execute(self, context: bpy.types.Context) -> set[str]:
        self._report(connection.run_blocking(self.provider))
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if context.window is None or bpy.app.background:
            return self.execute(context)
        if connection.testing(self.provider):
            return {"CANCELLED"}  # the test already under way answers for this one too
        result = connection.start(self.provider)
        if result is not None:
            self._report(result)
            return {"FINISHED"}
        self._timer = context.window_manager.event_timer_add(TIMER_S, window=context.window)
        context.window_manager.modal_handler_add(self)
        _redraw_preferences()
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        result = connection.step(self.provider)
        if result is None:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        self._report(result)
        _redraw_preferences()
        return {"FINISHED"}

    def _report(self, result) -> None:
        self.report({"INFO"} if result.ok else {"WARNING"}, result.message)


CLASSES = (RETOPO_HUB_OT_test_connection,)
