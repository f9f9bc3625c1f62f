# SPDX-License-Identifier: GPL-3.0-or-later
"""Job operators: the modal timer watcher (the UI driver of ``job_engine.step``), cancel, remove, clear.

The watcher never blocks: each TIMER tick applies queued events and imports at most one finished result.
ESC while it runs cancels the running jobs.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from .. import job_engine

TIMER_INTERVAL_S = 0.1  # fast enough for a live progress bar, cheap because a tick only drains a queue


def _redraw(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


class RETOPO_HUB_OT_watch_jobs(bpy.types.Operator):
    """Poll running retopology jobs without blocking Blender (ESC cancels them)"""

    bl_idname = "retopo_hub.watch_jobs"
    bl_label = "Watch Retopology Jobs"
    bl_options = {"INTERNAL"}

    _watching = False  # one watcher per session is enough: it drives every job

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if type(self)._watching or context.window is None:
            return {"CANCELLED"}
        type(self)._watching = True
        self._timer = context.window_manager.event_timer_add(TIMER_INTERVAL_S, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        # Headless: there is no event loop, so drive the same step function to completion.
        job_engine.run_blocking(context, job_engine.active_job_ids(), on_update=job_engine.print_progress)
        return {"FINISHED"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS":
            for job_id in job_engine.active_job_ids():
                job_engine.cancel(job_id)
            self.report({"WARNING"}, "Retopology jobs cancelled")
            return {"RUNNING_MODAL"}
        if event.type != "TIMER" or event.timer is not self._timer:
            return {"PASS_THROUGH"}
        busy = job_engine.step(context)
        _redraw(context)
        if not busy:
            self._finish(context)
            return {"FINISHED"}
        return {"PASS_THROUGH"}

    def cancel(self, context: bpy.types.Context) -> None:
        self._finish(context)

    def _finish(self, context: bpy.types.Context) -> None:
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        type(self)._watching = False


class RETOPO_HUB_OT_cancel_job(bpy.types.Operator):
    """Cancel this retopology job (nothing half-imported stays in the scene)"""

    bl_idname = "retopo_hub.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        job_engine.cancel(self.job_id)
        job_engine.step(context)
        return {"FINISHED"}


class RETOPO_HUB_OT_remove_job(bpy.types.Operator):
    """Remove this job from the list (its result objects stay)"""

    bl_idname = "retopo_hub.remove_job"
    bl_label = "Remove Job"
    bl_options = {"INTERNAL", "UNDO"}

    job_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        jobs = context.scene.retopo_hub.jobs
        for index, record in enumerate(jobs):
            if record.job_id == self.job_id:
                if not job_engine.terminal(record.state):
                    self.report({"ERROR"}, "Cancel the job before removing it")
                    return {"CANCELLED"}
                jobs.remove(index)
                return {"FINISHED"}
        return {"CANCELLED"}


class RETOPO_HUB_OT_clear_finished(bpy.types.Operator):
    """Remove every finished, failed or cancelled job from the list (result objects stay)"""

    bl_idname = "retopo_hub.clear_finished"
    bl_label = "Clear Finished Jobs"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        jobs = context.scene.retopo_hub.jobs
        for index in reversed(range(len(jobs))):
            if job_engine.terminal(jobs[index].state):
                jobs.remove(index)
        return {"FINISHED"}


CLASSES = (
    RETOPO_HUB_OT_watch_jobs,
    RETOPO_HUB_OT_cancel_job,
    RETOPO_HUB_OT_remove_job,
    RETOPO_HUB_OT_clear_finished,
)


class RETOPO_HUB_OT_use_mapping(bpy.types.Operator):
    """Resubmit this object to sboxcool with the chosen bone mapping"""

    bl_idname = "retopo_hub.use_mapping"
    bl_label = "Use Bone Mapping"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})
    mapping_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        record = job_engine.find_record(self.job_id)
        source = bpy.data.objects.get(record.source_name) if record is not None else None
        if source is None:
            self.report({"ERROR"}, "The source object of this job no longer exists")
            return {"CANCELLED"}
        settings = source.retopo_hub
        settings.provider = "sboxcool"
        settings.sbox_mapping_id = self.mapping_id
        settings.sbox_skip_bone_mapping = False
        settings.sbox_most_popular_mapping = False
        invoke = "EXEC_DEFAULT" if bpy.app.background or context.window is None else "INVOKE_DEFAULT"
        return bpy.ops.retopo_hub.submit(invoke, object_names=source.name)


CLASSES = (*CLASSES, RETOPO_HUB_OT_use_mapping)


class RETOPO_HUB_OT_attach_job(bpy.types.Operator):
    """Poll and import a job the service already has, by its job or session id (results go next to the
    active object)"""

    bl_idname = "retopo_hub.attach_job"
    bl_label = "Attach Job"
    bl_options = {"REGISTER"}

    provider: bpy.props.EnumProperty(
        name="Provider",
        items=(("csm", "CSM.ai", ""), ("tripo", "Tripo (Scenario)", ""), ("sboxcool", "sboxcool", "")),
    )
    remote_id: StringProperty(name="Job ID", description="The job or session id the service gave")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[str]:
        from .. import job_resume
        from ..core.errors import RetopoError

        active = context.active_object
        source = active if active is not None and active.type == "MESH" else None
        try:
            job_id = job_resume.attach(context, self.provider, self.remote_id, source)
        except RetopoError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if bpy.app.background or context.window is None:
            (record,) = job_engine.run_blocking(context, [job_id], on_update=job_engine.print_progress)
            level = "INFO" if record.state == "done" else "ERROR"
            self.report({level}, f"{self.remote_id}: {record.message}")
            return {"FINISHED"} if record.state == "done" else {"CANCELLED"}
        self.report({"INFO"}, f"Attached {self.remote_id}; see the Retopo tab")
        return {"FINISHED"}


CLASSES = (*CLASSES, RETOPO_HUB_OT_attach_job)
