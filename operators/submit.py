# SPDX-License-Identifier: GPL-3.0-or-later
"""``retopo_hub.submit``: retopologize the selected mesh objects, each with its own settings.

EXEC (scripts, ``blender -b``, the ``bpy`` module) blocks until every job is done and leaves the results in
the scene; INVOKE (a click in the UI) returns at once and hands the jobs to ``operators.watch``'s timer.
Before a click sends objects to a paid service it asks once for the whole batch (``paid_summary`` says how
many, where, and what each service documents about time and price), unless the preferences say not to.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..core.errors import RetopoError
from ..core.jobs import State
from ..jobs import step, submit
from ..jobs.specs import options_from_object
from ..preferences import get_prefs
from ..providers import registry


def _targets(context: bpy.types.Context, names: str) -> list[bpy.types.Object]:
    if names:
        wanted = [n.strip() for n in names.split("\n") if n.strip()]
        missing = [n for n in wanted if n not in bpy.data.objects]
        if missing:
            raise RetopoError(f"no object named {missing[0]!r}: check the name and try again")
        objects = [bpy.data.objects[n] for n in wanted]
    else:
        objects = list(context.selected_objects)
    meshes = [o for o in objects if o.type == "MESH"]
    if objects and not meshes:
        first = objects[0]
        raise RetopoError(f"'{first.name}' is a {first.type.lower()}, not a mesh: select a mesh object")
    return meshes


def paid_summary(objects) -> str | None:
    """One line for the confirmation: the paid jobs a submit of ``objects`` starts, per service, with what
    the service documents about time and price; None when none is paid (local only)."""
    per_provider: dict[str, list] = {}
    for obj in objects:
        entry = registry.BY_NAME[obj.retopo_hub.provider]
        if entry.cloud:
            per_provider.setdefault(entry.name, []).append(obj)
    if not per_provider:
        return None
    parts = []
    for name, group in per_provider.items():
        entry = registry.BY_NAME[name]
        expectation = registry.expectation(entry, options_from_object(group[0]))
        parts.append(f"{len(group)} on {entry.service}" + (f" ({expectation})" if expectation else ""))
    total = sum(len(group) for group in per_provider.values())
    return f"{total} paid job{'s' if total > 1 else ''}: " + "; ".join(parts)


class RETOPO_HUB_OT_submit(bpy.types.Operator):
    """Retopologize the selected meshes with each object's provider and settings"""

    bl_idname = "retopo_hub.submit"
    bl_label = "Retopologize"
    bl_options = {"REGISTER"}

    object_names: StringProperty(
        name="Objects",
        description="Newline-separated object names to use instead of the selection",
        options={"HIDDEN", "SKIP_SAVE"},
    )
    # Set by invoke before its confirmation: the confirmed click still runs without blocking the UI.
    interactive: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode first")
            return False
        return True

    def _submit(self, context: bpy.types.Context) -> list[str] | None:
        try:
            objects = _targets(context, self.object_names)
            return submit.submit_objects(context, objects, interactive=self.interactive)
        except RetopoError as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.interactive:
            return self._start(context)
        job_ids = self._submit(context)
        if job_ids is None:
            return {"CANCELLED"}
        records = step.run_blocking(job_ids, on_update=step.print_progress)
        failed = [r for r in records if r is not None and r.state != State.DONE]
        for record in records:
            if record is not None and record.state == State.DONE:
                self.report({"INFO"}, f"{record.source_name}: {record.message}")
        for record in failed:
            self.report({"ERROR"}, f"{record.source_name}: {record.message}")
        return {"CANCELLED"} if len(failed) == len(records) else {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        self.interactive = True
        prefs = get_prefs()
        try:
            summary = paid_summary(_targets(context, self.object_names))
        except RetopoError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if summary and (prefs is None or prefs.confirm_paid):
            return context.window_manager.invoke_confirm(
                self, event, title="Submit paid jobs?", message=summary, confirm_text="Submit"
            )
        return self._start(context)

    def _start(self, context: bpy.types.Context) -> set[str]:
        job_ids = self._submit(context)
        if job_ids is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Started {len(job_ids)} retopology job(s); see the Retopo tab")
        bpy.ops.retopo_hub.watch_jobs("INVOKE_DEFAULT")
        return {"FINISHED"}


CLASSES = (RETOPO_HUB_OT_submit,)
