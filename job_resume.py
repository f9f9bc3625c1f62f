# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing lost across quits and crashes: resume unfinished jobs when a file opens, attach remote jobs by id,
and the persistent timer that drives resumed jobs in the UI. Main thread only.

On every file load, each unfinished job of the file (its records), and each journaled job that belonged to
this file (or to an unsaved file, when the startup file loads) but has no record, is brought back: results
that were downloaded are imported once, remote jobs are polled again by their remote id, local jobs restart.
A job whose submit was never confirmed by the service is never submitted again: it is marked failed with
advice to check the account, because it may or may not have been paid for.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import bpy
from bpy.app.handlers import persistent

from . import job_engine
from .blender_io.mesh_arrays import snapshot_object
from .core.errors import InputError
from .core.jobs import new_job_id
from .core.validation import validate_options

log = logging.getLogger(__name__)

TIMER_INTERVAL_S = 0.2
UNFINISHED = {"queued", "exporting", "uploading", "waiting", "running", "downloading", "importing"}
JOURNAL_MAX_AGE_S = 30 * 24 * 3600  # older unfinished entries are forgotten: their links have long expired


def resumable(context, dedupe_key: str) -> dict[str, Any] | None:
    entry = job_engine.journal(context).find(dedupe_key)
    if entry is None or entry.get("state") in {"done", "failed", "cancelled"}:
        return None
    if entry.get("provider") != "local" and not entry.get("remote_id") and not entry.get("results"):
        return None  # never confirmed by the service: nothing to resume
    return entry


def resume_entry(context, entry: dict[str, Any], *, source: bpy.types.Object | None = None) -> str:
    """Bring a journaled job back: import downloaded results, or poll its remote id again (never resubmit)."""
    job_id, provider = entry["job_id"], entry["provider"]
    options = dict(entry.get("options") or {})
    source = source or bpy.data.objects.get(entry.get("source_name") or "")
    record = job_engine.find_record(job_id) or job_engine.new_record(
        context, job_id=job_id, provider=provider, source=source, options=options,
        work_dir=entry.get("work_dir") or "", remote_id=entry.get("remote_id") or "",
        source_name=entry.get("source_name") or "",
    )  # fmt: skip
    if source is not None:
        record.source_name, record.source_uid = source.name, source.session_uid
    if job_engine.runner().is_running(job_id):
        return job_id  # still running (the file was reopened meanwhile): its events find this record
    if entry.get("results"):
        record.results_json = json.dumps(entry["results"])
        record.state, record.message = "importing", "importing downloaded results"
        if job_id not in job_engine.pending_imports():
            job_engine.pending_imports().append(job_id)
        return job_id
    if provider == "local":
        if source is None or source.type != "MESH":
            record.state, record.message = "failed", "the source object is gone: submit again"
            return job_id
        record.state, record.message = "queued", "restarting the local engine"
        depsgraph = context.evaluated_depsgraph_get()
        spec = job_engine.make_spec(
            context, job_id=job_id, provider=provider, source_name=source.name, options=options,
            work_dir=record.work_dir, snapshot=snapshot_object(source, depsgraph),
        )  # fmt: skip
    else:
        record.state, record.message = "waiting", f"resuming {entry['remote_id']}"
        spec = job_engine.make_spec(context, job_id=job_id, provider=provider, source_name=record.source_name,
                         options=options, work_dir=record.work_dir, remote_id=entry["remote_id"])  # fmt: skip
    job_engine.runner().start(spec)
    return job_id


def _record_entry(record) -> dict[str, Any]:
    return {
        "job_id": record.job_id,
        "provider": record.provider,
        "remote_id": record.remote_id,
        "source_name": record.source_name,
        "options": json.loads(record.settings_json or "{}"),
        "work_dir": record.work_dir,
        "state": record.state,
        "results": json.loads(record.results_json or "null"),
    }


def resume_unfinished(context: bpy.types.Context) -> list[str]:
    """Resume what this file left unfinished; returns the job ids brought back."""
    resumed: list[str] = []
    runner = job_engine.runner()
    known: set[str] = set()
    for scene in bpy.data.scenes:
        for record in scene.retopo_hub.jobs:
            known.add(record.job_id)
            record.source_uid = 0  # session uids are per session: a stored one could name another object
            if record.state not in UNFINISHED or runner.is_running(record.job_id):
                continue
            resumed.extend(_resume_record(context, record))
    resumed.extend(_resume_journal(context, known))
    if resumed:
        ensure_timer()
    return resumed


def _resume_record(context, record) -> list[str]:
    entry = job_engine.journal(context).get(record.job_id) or _record_entry(record)
    # The journal is written by the worker and can be ahead of the last save of the .blend.
    if entry.get("state") in {"failed", "cancelled"}:
        record.state, record.message = entry["state"], entry.get("message") or entry["state"]
        return []
    if record.provider != "local" and not entry.get("remote_id") and not entry.get("results"):
        record.state = "failed"
        record.message = (
            "interrupted before the service confirmed the job; check your account before submitting again"
        )
        return []
    return [resume_entry(context, entry)]


def _resume_journal(context, known: set[str]) -> list[str]:
    current = bpy.data.filepath
    resumed = []
    for entry in job_engine.journal(context).entries():
        if entry["job_id"] in known or entry.get("state") not in UNFINISHED:
            continue
        if time.time() - float(entry.get("created") or 0) > JOURNAL_MAX_AGE_S:
            continue
        if (entry.get("blend_file") or "") != current:
            continue
        running = job_engine.runner().is_running(entry["job_id"])
        if (
            not running
            and entry["provider"] != "local"
            and not entry.get("remote_id")
            and not entry.get("results")
        ):
            continue
        log.info("resuming journaled job %s (%s)", entry["job_id"], entry["provider"])
        resumed.append(resume_entry(context, entry))
    return resumed


def attach(
    context: bpy.types.Context,
    provider: str,
    remote_id: str,
    source: bpy.types.Object | None,
    options: dict[str, Any] | None = None,
) -> str:
    """Poll and import a job the service already has (a timed-out job, or one started elsewhere)."""
    remote_id = remote_id.strip()
    if provider == "local":
        raise InputError("local jobs have no remote id: pick csm, tripo or sboxcool to attach a job")
    if not remote_id or any(c.isspace() for c in remote_id) or len(remote_id) > 200:
        raise InputError("paste the job or session id exactly as the service gave it")
    if not job_engine.online_allowed():
        raise InputError(
            "online access is off: enable 'Allow Online Access' in Preferences > System "
            "(or pass --online-mode)"
        )
    if options is None:
        options = job_engine.options_from_object(source) if source is not None else {}
    options = dict(options)
    validate_options(provider, options)
    job_id = new_job_id()
    entry = {
        "job_id": job_id,
        "provider": provider,
        "remote_id": remote_id,
        "source_name": source.name if source is not None else remote_id,
        "blend_file": bpy.data.filepath,
        "options": options,
        "work_dir": str(job_engine.cache_root(context) / f"{provider}-{job_id}"),
        "state": "waiting",
        "created": time.time(),
    }
    job_engine.journal(context).write(entry)
    resume_entry(context, entry, source=source)
    ensure_timer()
    return job_id


# -- the persistent timer driver (UI) --------------------------------------------------------------


def _timer_step() -> float | None:
    busy = job_engine.step(bpy.context)
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
    return TIMER_INTERVAL_S if busy else None


def ensure_timer() -> None:
    """Drive resumed jobs in the UI. Under ``-b`` and the bpy module timers never tick; callers block."""
    if not bpy.app.background and not bpy.app.timers.is_registered(_timer_step):
        bpy.app.timers.register(_timer_step, first_interval=TIMER_INTERVAL_S, persistent=True)


@persistent
def on_load_post(*_args: object) -> None:
    if job_engine.cli_mode():
        return
    try:
        resume_unfinished(bpy.context)
    except Exception:  # a broken journal must never stop a file from opening
        log.exception("retopo_hub: resuming jobs failed")


def register() -> None:
    bpy.app.handlers.load_post.append(on_load_post)


def unregister() -> None:
    if on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(on_load_post)
    if bpy.app.timers.is_registered(_timer_step):
        bpy.app.timers.unregister(_timer_step)
