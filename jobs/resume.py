# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing lost across quits and crashes: resume unfinished jobs when a file opens, and attach remote jobs.

On every file load, each unfinished job of the file (its records), and each journaled job that belonged to
this file (or to an unsaved file, when the startup file loads) but has no record, is brought back: results
that were downloaded are imported once, remote jobs are polled again by their remote id, local jobs restart.
A cloud job the service never confirmed (``core.journal.is_confirmed``) is never submitted again: it is
marked failed with advice to check the account, because it may or may not have been paid for.
Main thread only; the UI timer that drives resumed jobs is ``operators.watch``'s.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import bpy

from ..blender_io.attributes import rest_pose
from ..blender_io.mesh_arrays import snapshot_object
from ..core import journal
from ..core.errors import ONLINE_ACCESS_OFF, InputError
from ..core.jobs import State, new_job_id
from ..core.options import validate
from . import records, session, specs

log = logging.getLogger(__name__)

JOURNAL_MAX_AGE_S = 30 * 24 * 3600  # older unfinished entries are forgotten: their links have long expired


def resumable(prefs: specs.Preferences, dedupe_key: str) -> dict[str, Any] | None:
    """The journaled job of an earlier CLI run with this key, if it can be picked up without paying: an
    interrupted one the service confirmed, or a finished one whose downloaded results are still on disk."""
    entry = prefs.journal().find(dedupe_key)
    if entry is None:
        return None
    if journal.reusable(entry) or (journal.is_unfinished(entry) and journal.is_confirmed(entry)):
        return entry
    return None


def resume_entry(scene, prefs: specs.Preferences, entry: dict[str, Any], *, source=None) -> str:
    """Bring a journaled job back: import downloaded results, or poll its remote id again (never resubmit)."""
    job_id, provider = entry["job_id"], entry["provider"]
    options = dict(entry.get("options") or {})
    source = source or bpy.data.objects.get(entry.get("source_name") or "")
    record = records.find(job_id) or records.new(
        scene, job_id=job_id, provider=provider, source=source, options=options,
        work_dir=entry.get("work_dir") or "", remote_id=entry.get("remote_id") or "",
        source_name=entry.get("source_name") or "",
    )  # fmt: skip
    if source is not None:
        record.source_name, record.source_uid = source.name, source.session_uid
    host = session.worker_host()
    if host.is_running(job_id):
        return job_id  # still running (the file was reopened meanwhile): its events find this record
    if entry.get("results"):
        record.results_json = json.dumps(entry["results"])
        if entry.get("warnings"):
            record.details_json = json.dumps(records.details(record) | {"warnings": list(entry["warnings"])})
        record.state, record.message = State.IMPORTING.value, "importing downloaded results"
        if job_id not in session.pending_imports():
            session.pending_imports().append(job_id)
        return job_id
    if provider == "local":
        if source is None or source.type != "MESH":
            records.finish(record, State.FAILED, "the source object is gone: submit again")
            return job_id
        record.state, record.message = State.QUEUED.value, "restarting the local engine"
        depsgraph = bpy.context.evaluated_depsgraph_get() if options.get("use_modifiers", True) else None
        with rest_pose(source, depsgraph):
            snapshot = snapshot_object(
                source, depsgraph, with_attributes=True, with_marked_edges=bool(options.get("marked_edges"))
            )
        spec = specs.make_spec(
            prefs, job_id=job_id, provider=provider, source_name=source.name, options=options,
            work_dir=record.work_dir, snapshot=snapshot,
        )  # fmt: skip
    else:
        record.state, record.message = State.WAITING.value, f"resuming {entry['remote_id']}"
        spec = specs.make_spec(
            prefs, job_id=job_id, provider=provider, source_name=record.source_name, options=options,
            work_dir=record.work_dir, remote_id=entry["remote_id"],
        )  # fmt: skip
    host.start(spec)
    return job_id


def resume_unfinished(scene) -> list[str]:
    """Resume what this file left unfinished; returns the job ids brought back."""
    prefs = specs.read_preferences()
    host = session.worker_host()
    resumed: list[str] = []
    known: set[str] = set()
    for each in bpy.data.scenes:
        for record in each.retopo_hub.jobs:
            known.add(record.job_id)
            record.source_uid = 0  # session uids are per session: a stored one could name another object
            if record.state == State.BAKING.value and record.job_id not in session.bakes():
                # The bake process belonged to the session that saved the file: the results are whole.
                records.finish(record, State.DONE, "bake interrupted: the results have no maps")
            elif record.state in records.UNFINISHED and not host.is_running(record.job_id):
                resumed.extend(_resume_record(scene, prefs, record))
    resumed.extend(_resume_journal(scene, prefs, known))
    return resumed


def _resume_record(scene, prefs, record) -> list[str]:
    entry = prefs.journal().get(record.job_id) or records.journal_entry(record)
    # The journal is written by the worker and can be ahead of the last save of the .blend.
    if entry.get("state") in (State.FAILED.value, State.CANCELLED.value):
        record.state, record.message = entry["state"], entry.get("message") or entry["state"]
        return []
    if not journal.is_confirmed(entry):
        offer_resubmit(record, entry)
        return []
    return [resume_entry(scene, prefs, entry)]


def _resume_journal(scene, prefs, known: set[str]) -> list[str]:
    current = bpy.data.filepath
    resumed = []
    for entry in prefs.journal().entries():
        if entry["job_id"] in known or not journal.is_unfinished(entry):
            continue
        if time.time() - float(entry.get("created") or 0) > JOURNAL_MAX_AGE_S:
            continue
        if (entry.get("blend_file") or "") != current:
            continue
        if not session.worker_host().is_running(entry["job_id"]) and not journal.is_confirmed(entry):
            continue
        log.info("resuming journaled job %s (%s)", entry["job_id"], entry["provider"])
        resumed.append(resume_entry(scene, prefs, entry))
    return resumed


def resume_after_host_loss(scene, record) -> None:
    """The worker host died with this job running: pick it up again from the journal."""
    prefs = specs.read_preferences()
    entry = prefs.journal().get(record.job_id)
    if entry is None:
        return
    if not journal.is_confirmed(entry):
        offer_resubmit(record, entry)
        return
    record.finished = 0.0
    resume_entry(scene, prefs, entry)


def offer_resubmit(record, entry: dict[str, Any]) -> None:
    """An interrupted cloud job the service never confirmed: fail it, and let the user choose. The Jobs
    panel shows Submit Again and, when the paid submit had been sent, Attach Job; the CLI refuses to submit
    such an input again without ``--resubmit``. An entry in doubt stays unfinished in the journal for that."""
    service = specs.provider_entry(record.provider).service
    sent = float(entry.get("submit_sent") or 0.0)
    cli = session.cli_mode()
    if journal.submit_in_doubt(entry):
        when = time.strftime("%H:%M:%S", time.localtime(sent))
        message = journal.in_doubt_message(service, sent) if cli else (
            f"the submit may have reached {service} at {when}: check your account, then Attach Job with its "
            "id, or Submit Again"
        )  # fmt: skip
    else:
        advice = "re-run the same command" if cli else "Submit Again"
        message = f"interrupted before anything was sent to {service} (nothing was paid): {advice}"
        session.journal().update(record.job_id, state=State.CANCELLED.value, message=message)
    records.finish(record, State.FAILED, message)
    record.details_json = json.dumps(records.details(record) | {"resubmit_offer": {"sent": sent}})


def attach(scene, provider: str, remote_id: str, source, options: dict[str, Any] | None = None) -> str:
    """Poll and import a job the service already has (a timed-out job, or one started elsewhere)."""
    remote_id = remote_id.strip()
    if not specs.provider_entry(provider).cloud:
        raise InputError("local jobs have no remote id: pick csm, tripo or sboxcool to attach a job")
    if not remote_id or any(c.isspace() for c in remote_id) or len(remote_id) > 200:
        raise InputError("paste the job or session id exactly as the service gave it")
    prefs = specs.read_preferences()
    if not prefs.online:
        raise InputError(ONLINE_ACCESS_OFF)
    if options is None:
        options = specs.options_from_object(source) if source is not None else {}
    options = dict(options)
    validate(provider, options)
    job_id = new_job_id()
    entry = journal.entry(
        job_id=job_id, provider=provider, remote_id=remote_id,
        source_name=source.name if source is not None else remote_id, blend_file=bpy.data.filepath,
        options=options, work_dir=str(specs.job_folder(prefs.job_folder, provider, job_id)),
        state=State.WAITING.value, created=time.time(),
    )  # fmt: skip
    prefs.journal().write(entry)
    resume_entry(scene, prefs, entry, source=source)
    return job_id
