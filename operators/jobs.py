# SPDX-License-Identifier: GPL-3.0-or-later
"""Job list operators: cancel a job, accept its quote, remove one from the list, clear the finished ones.
Main thread only."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from ..jobs import records, step


class RETOPO_HUB_OT_cancel_job(bpy.types.Operator):
    """Cancel this retopology job (nothing half-imported stays in the scene)"""

    bl_idname = "retopo_hub.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        step.cancel(self.job_id)
        step.step(context.scene)
        return {"FINISHED"}


class RETOPO_HUB_OT_accept_quote(bpy.types.Operator):
    """Accept the service's quote: the job goes on and is paid (all waiting jobs when none is named)"""

    bl_idname = "retopo_hub.accept_quote"
    bl_label = "Accept Quote"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        waiting = [r for r in context.scene.retopo_hub.jobs if records.awaiting_quote(r) is not None]
        chosen = [r for r in waiting if not self.job_id or r.job_id == self.job_id]
        if not chosen:
            self.report({"ERROR"}, "No job is waiting for its quote to be accepted")
            return {"CANCELLED"}
        for record in chosen:
            if step.accept_quote(record.job_id):
                record.message = "quote accepted; starting"
        step.step(context.scene)
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
                if not records.terminal(record.state):
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
            if records.terminal(jobs[index].state):
                jobs.remove(index)
        return {"FINISHED"}


CLASSES = (
    RETOPO_HUB_OT_cancel_job,
    RETOPO_HUB_OT_accept_quote,
    RETOPO_HUB_OT_remove_job,
    RETOPO_HUB_OT_clear_finished,
)
