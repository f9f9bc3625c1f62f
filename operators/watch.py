# SPDX-License-Identifier: GPL-3.0-or-later
"""The UI driver of jobs: one persistent timer calls ``jobs.step.step`` and redraws the sidebar once.

Contract: ``ensure_driver()`` starts the timer (it stops by itself when no job is left); the
``retopo_hub.watch_jobs`` modal operator listens for ESC, which cancels the running jobs, shows the jobs'
progress in the status bar (``status_line``) and reports each job once when it ends (``newly_ended``).
Headless (``blender -b``, the ``bpy`` module) timers never tick, so EXEC blocks in ``jobs.step.run_blocking``
instead: both drivers call the same step function. ``on_load_post`` resumes a reopened file's jobs.
Main thread only.
"""

from __future__ import annotations

import logging

import bpy
from bpy.app.handlers import persistent

from ..jobs import records, resume, session, step

log = logging.getLogger(__name__)

TIMER_INTERVAL_S = 0.1  # fast enough for a live progress bar, cheap because a tick only drains a pipe


def _redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _tick() -> float | None:
    busy = step.step()
    _redraw()
    return TIMER_INTERVAL_S if busy else None


def ensure_driver() -> None:
    """Drive the jobs from the UI's event loop; a no-op headless, where the callers block instead."""
    if not bpy.app.background and not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=TIMER_INTERVAL_S, persistent=True)


def stop_driver() -> None:
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)


def status_line(scene) -> str | None:
    """The status bar's text while jobs run (None when none does): how many, the first one's progress."""
    running = [r for r in scene.retopo_hub.jobs if not records.terminal(r.state)]
    if not running:
        return None
    first = running[0]
    more = f" (+{len(running) - 1} more)" if len(running) > 1 else ""
    return f"Retopo Hub: {first.source_name} {int(first.progress * 100)}% {first.message}{more} · Esc cancels"


def newly_ended(scene, seen: set[str]) -> list[tuple[str, str]]:
    """(report level, one line) for every job that ended since the last call; ``seen`` remembers them."""
    reports = []
    for record in scene.retopo_hub.jobs:
        if records.terminal(record.state) and record.job_id not in seen:
            seen.add(record.job_id)
            level = {"done": "INFO", "failed": "ERROR"}.get(record.state, "WARNING")
            reports.append((level, f"{record.source_name}: {record.message or record.state}"))
    return reports


class RETOPO_HUB_OT_watch_jobs(bpy.types.Operator):
    """Watch running retopology jobs without blocking Blender (ESC cancels them)"""

    bl_idname = "retopo_hub.watch_jobs"
    bl_label = "Watch Retopology Jobs"
    bl_options = {"INTERNAL"}

    _watching = False  # one listener per session is enough: it covers every job
    REPORT_INTERVAL_S = 0.5

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if context.window is None:
            return self.execute(context)
        ensure_driver()
        if type(self)._watching:
            return {"FINISHED"}
        type(self)._watching = True
        # Jobs that ended before this listener started were reported by the one before it (or long ago).
        self._seen = {r.job_id for r in context.scene.retopo_hub.jobs if records.terminal(r.state)}
        self._timer = context.window_manager.event_timer_add(self.REPORT_INTERVAL_S, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        # Headless: there is no event loop, so drive the same step function to completion.
        step.run_blocking(step.active_job_ids(), on_update=step.print_progress)
        return {"FINISHED"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        active = step.active_job_ids()
        if event.type == "ESC" and event.value == "PRESS" and active:
            for job_id in active:
                step.cancel(job_id)
            self.report({"WARNING"}, "Retopology jobs cancelled")
        if event.type == "TIMER" or not active:
            # Each finished job is reported once, through the operator's report (the info bar and log).
            for level, line in newly_ended(context.scene, self._seen):
                self.report({level}, line)
            if context.workspace is not None:
                context.workspace.status_text_set(status_line(context.scene))
        if not active:
            self._finish(context)
            return {"FINISHED"}
        return {"PASS_THROUGH"}

    def cancel(self, context: bpy.types.Context) -> None:
        self._finish(context)

    def _finish(self, context: bpy.types.Context) -> None:
        type(self)._watching = False
        context.window_manager.event_timer_remove(self._timer)
        if context.workspace is not None:
            context.workspace.status_text_set(None)


@persistent
def on_load_post(*_args: object) -> None:
    if session.cli_mode():
        return  # the CLI resumes by its own dedupe key, never by file-load handlers
    try:
        if resume.resume_unfinished(bpy.context.scene):
            ensure_driver()
    except Exception:  # a broken journal must never stop a file from opening
        log.exception("retopo_hub: resuming jobs failed")


CLASSES = (RETOPO_HUB_OT_watch_jobs,)
