# SPDX-License-Identifier: GPL-3.0-or-later
"""Attach a remote job by its id; resubmit an object to sboxcool with a chosen bone mapping; submit again
an interrupted job the service never confirmed (after a confirmation: it is a new paid job).

All work headless: without a window they block until the job ends. Main thread only.
"""

from __future__ import annotations

import json

import bpy
from bpy.props import StringProperty

from ..blender_io.importer import find_source
from ..core.errors import RetopoError
from ..core.jobs import State
from ..jobs import records, resume, session, step
from ..providers import registry
from .watch import ensure_driver


class RETOPO_HUB_OT_use_mapping(bpy.types.Operator):
    """Resubmit this object to sboxcool with the chosen bone mapping"""

    bl_idname = "retopo_hub.use_mapping"
    bl_label = "Use Bone Mapping"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})
    mapping_id: StringProperty(options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        record = records.find(self.job_id)
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


class RETOPO_HUB_OT_resubmit_job(bpy.types.Operator):
    """Submit this object again as a new job. If the interrupted submit reached the service, that job is
    billed too: check your account first (or attach that job instead)"""

    bl_idname = "retopo_hub.resubmit_job"
    bl_label = "Submit Again"
    bl_options = {"INTERNAL"}

    job_id: StringProperty(options={"HIDDEN"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        record = records.find(self.job_id)
        if record is None or records.resubmit_offer(record) is None:
            self.report({"ERROR"}, "This job has nothing to submit again")
            return {"CANCELLED"}
        source = find_source(record.source_name, record.source_uid)
        if source is None:
            self.report({"ERROR"}, f"The source object {record.source_name!r} no longer exists")
            return {"CANCELLED"}
        invoke = "EXEC_DEFAULT" if bpy.app.background or context.window is None else "INVOKE_DEFAULT"
        result = bpy.ops.retopo_hub.submit(invoke, object_names=source.name)
        if "CANCELLED" not in result:
            # The interrupted job is settled by the user's choice: no re-run or reopen offers it again.
            session.journal().update(record.job_id, state=State.FAILED.value, message="submitted again")
            record.details_json = json.dumps({k: v for k, v in records.details(record).items()
                                              if k != "resubmit_offer"})  # fmt: skip
            record.message = "submitted again as a new job"
        return result


class RETOPO_HUB_OT_attach_job(bpy.types.Operator):
    """Poll and import a job the service already has, by its job or session id (results go next to the
    active object)"""

    bl_idname = "retopo_hub.attach_job"
    bl_label = "Attach Job"
    bl_options = {"REGISTER"}

    provider: bpy.props.EnumProperty(
        name="Provider",
        items=tuple((e.name, e.label, e.description) for e in registry.REGISTRY if e.cloud),
    )
    remote_id: StringProperty(name="Job ID", description="The job or session id the service gave")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: bpy.types.Context) -> set[str]:
        active = context.active_object
        source = active if active is not None and active.type == "MESH" else None
        try:
            job_id = resume.attach(context.scene, self.provider, self.remote_id, source)
        except RetopoError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if bpy.app.background or context.window is None:
            (record,) = step.run_blocking([job_id], on_update=step.print_progress)
            level = "INFO" if record.state == State.DONE else "ERROR"
            self.report({level}, f"{self.remote_id}: {record.message}")
            return {"FINISHED"} if record.state == State.DONE else {"CANCELLED"}
        ensure_driver()
        self.report({"INFO"}, f"Attached {self.remote_id}; see the Retopo tab")
        return {"FINISHED"}


CLASSES = (RETOPO_HUB_OT_use_mapping, RETOPO_HUB_OT_resubmit_job, RETOPO_HUB_OT_attach_job)
