# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Retopo" tab's Jobs panel: this file's jobs with their progress, results, previews and bone-mapping
choices. ``draw()`` only reads properties (JSON fields through ``jobs.records``' cached parse); it never
starts work. Main thread only.
"""

from __future__ import annotations

import time

import bpy

from ..blender_io.packages import RIGGED_TARGETS
from ..blender_io.rigs import rigs_of
from ..core.jobs import State
from ..jobs import measure, records
from ..providers.registry import BY_NAME as PROVIDERS
from .settings import RetopoHubPanel

ENDED_ICONS = {State.DONE: "CHECKMARK", State.FAILED: "ERROR", State.CANCELLED: "CANCEL"}


def _elapsed(record) -> str:
    end = record.finished or time.time()
    seconds = max(0, int(end - record.created))
    return f"{seconds // 60}:{seconds % 60:02d}"


def draw_job(layout: bpy.types.UILayout, record) -> None:
    box = layout.box()
    row = box.row(align=True)
    icon = ENDED_ICONS.get(record.state, "SORTTIME")
    row.label(
        text=f"{record.source_name} · {getattr(PROVIDERS.get(record.provider), 'label', record.provider)}",
        icon=icon,
    )
    row.label(text=_elapsed(record))
    if record.state in ENDED_ICONS:
        op = row.operator("retopo_hub.remove_job", text="", icon="X", emboss=False)
    else:
        op = row.operator("retopo_hub.cancel_job", text="", icon="CANCEL", emboss=False)
    op.job_id = record.job_id
    if record.state not in ENDED_ICONS:
        text = f"{record.state.capitalize()} {int(record.progress * 100)}%"
        box.progress(factor=record.progress, type="BAR", text=text)
    if record.message:
        box.label(text=record.message)
    if (quote := records.awaiting_quote(record)) is not None:
        row = box.row(align=True)
        accept = row.operator("retopo_hub.accept_quote", text=f"Accept {quote:g} Credits", icon="CHECKMARK")
        accept.job_id = record.job_id
        row.operator("retopo_hub.cancel_job", text="Cancel", icon="CANCEL").job_id = record.job_id
    if record.faces_requested or record.faces_achieved:
        achieved = f"{record.faces_achieved:,}" if record.imported else "…"
        box.label(text=f"Faces: {record.faces_requested:,} requested, {achieved} achieved")
    if record.state == State.DONE:
        _draw_quality(box, record)
    if record.remote_id:
        box.label(text=f"Remote job: {record.remote_id}")
    names = records.result_names(record)
    if names:
        box.label(text=", ".join(names), icon="OUTLINER_OB_MESH")
        _draw_previews(box, names)
    if record.state == State.DONE:
        _draw_review(box, record, names)
    offer = records.resubmit_offer(record)
    if offer is not None:
        row = box.row(align=True)
        if offer.get("sent"):  # the service may have the job: attaching it costs nothing
            attach = row.operator("retopo_hub.attach_job", text="Attach Job", icon="LINKED")
            attach.provider = record.provider
        again = row.operator("retopo_hub.resubmit_job", text="Submit Again", icon="FILE_REFRESH")
        again.job_id = record.job_id
    mappings = records.mappings(record)
    if mappings:
        col = box.column(align=True)
        col.label(text="Pick a bone mapping and resubmit:", icon="ARMATURE_DATA")
        for mapping in mappings:
            row = col.row(align=True)
            row.label(text=f"{mapping.get('name')} by {mapping.get('author')}")
            row.label(text=f"{mapping.get('matchPercent')}% · +{mapping.get('upvotes', 0)}")
            op = row.operator("retopo_hub.use_mapping", text="Use")
            op.job_id, op.mapping_id = record.job_id, str(mapping.get("publicId", ""))


def _draw_quality(layout: bpy.types.UILayout, record) -> None:
    """The LOD0 result's quality report (``jobs.measure``), or that it is still being measured."""
    if measure.pending(record.job_id):
        layout.label(text="Measuring the result against the source…", icon="SORTTIME")
        return
    quality = records.quality(record)
    if quality:
        report = next(iter(quality.values()))  # LOD0, or the first variation
        layout.label(text=measure.summary(report), icon="INFO")
        topology, source = report.get("topology") or {}, report.get("source_topology") or {}
        changed = [k for k in ("pieces", "boundary_loops", "genus") if topology.get(k) != source.get(k)]
        if changed:
            text = ", ".join(f"{k.replace('_', ' ')} {source.get(k)} -> {topology.get(k)}" for k in changed)
            layout.label(text=f"Topology changed: {text}", icon="ERROR")


def _draw_review(layout: bpy.types.UILayout, record, names: tuple[str, ...]) -> None:
    """Compare, keep or drop the results (``operators.review``)."""
    source = bpy.data.objects.get(record.source_name)  # by name: a redraw must not scan every object
    if any(name in bpy.data.objects for name in names):
        row = layout.row(align=True)
        for idname, text, icon in (
            ("retopo_hub.toggle_result", "Source / Result", "HIDE_OFF"),
            ("retopo_hub.isolate_job", "Isolate", "VIS_SEL_11" if bpy.app.version < (4, 3) else "HIDE_ON"),
        ):
            row.operator(idname, text=text, icon=icon).job_id = record.job_id
        row = layout.row(align=True)
        if records.quality(record):
            row.operator("retopo_hub.distance_heatmap", icon="COLOR").job_id = record.job_id
        row = layout.row(align=True)
        row.operator("retopo_hub.apply_to_source", icon="MOD_REMESH").job_id = record.job_id
        row.operator("retopo_hub.delete_results", icon="TRASH").job_id = record.job_id
        if records.terminal(record.state):
            layout.operator("retopo_hub.bake_result", icon="RENDER_STILL").job_id = record.job_id
        _draw_export(layout, record)
    if source is not None and source.get(records.ORIGINAL_MESH_KEY):
        layout.operator("retopo_hub.restore_original", icon="LOOP_BACK").job_id = record.job_id


def _draw_export(layout: bpy.types.UILayout, record) -> None:
    """One "Export for..." button per engine (``operators.export_package``); for a rigged chain, the engines
    whose package cannot carry the armature are greyed out (the operator would refuse it)."""
    results = [bpy.data.objects.get(name) for name in records.result_names(record)]
    rigged = bool(rigs_of(obj for obj in results if obj is not None))
    row = layout.row(align=True)
    row.label(text="Export for")
    for target, text in (("unity", "Unity"), ("unreal", "Unreal"), ("godot", "Godot"), ("gltf", "glTF"),
                         ("sbox", "s&box")):  # fmt: skip
        button = row.row(align=True)
        button.enabled = target in RIGGED_TARGETS or not rigged
        op = button.operator("retopo_hub.export_package", text=text)
        op.job_id, op.target = record.job_id, target


def _draw_previews(layout: bpy.types.UILayout, object_names: tuple[str, ...]) -> None:
    """CSM sends a render of each variation; show them side by side so the artist can pick one."""
    images = []
    for name in object_names:
        obj = bpy.data.objects.get(name)
        image = bpy.data.images.get(obj.get("retopo_hub_preview", "")) if obj is not None else None
        if image is not None:
            images.append((name, image))
    if not images:
        return
    row = layout.row()
    for name, image in images:
        col = row.column()
        preview = image.preview_ensure() if hasattr(image, "preview_ensure") else image.preview
        if preview is not None:
            col.template_icon(icon_value=preview.icon_id, scale=5.0)
        col.label(text=name)


class VIEW3D_PT_retopo_hub_jobs(RetopoHubPanel, bpy.types.Panel):
    bl_label = "Jobs"
    bl_parent_id = "VIEW3D_PT_retopo_hub_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        jobs = context.scene.retopo_hub.jobs
        if not jobs:
            layout.label(text="No jobs in this file yet")
            layout.operator("retopo_hub.attach_job", icon="LINKED")
            return
        quotes = [q for q in map(records.awaiting_quote, jobs) if q is not None]
        if len(quotes) > 1:  # a batch asks once
            text = f"Accept All {len(quotes)} Quotes ({sum(quotes):g} Credits)"
            layout.operator("retopo_hub.accept_quote", text=text, icon="CHECKMARK").job_id = ""
        for record in reversed(jobs):
            draw_job(layout, record)
        row = layout.row(align=True)
        row.operator("retopo_hub.attach_job", icon="LINKED")
        row.operator("retopo_hub.clear_finished", icon="TRASH")


CLASSES = (VIEW3D_PT_retopo_hub_jobs,)
