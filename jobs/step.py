# SPDX-License-Identifier: GPL-3.0-or-later
"""The one step function of every job, and its blocking driver.

Contract: ``step()`` applies the worker host's queued events to the job records and imports at most
``max_imports`` finished results; it never waits. The UI drives it from one timer (``operators.watch``);
``run_blocking()`` drives it in a loop for ``blender -b``, the ``bpy`` module and the CLI, where timers
never tick. Workers never see Blender data: they run in the worker host process (``worker.runner`` states
the rules). Main thread only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import bpy

from ..blender_io.fallback import run_fallback
from ..blender_io.importer import find_source, import_results
from ..core.errors import RetopoError
from ..core.jobs import State
from . import bake, measure, records, resume, session

log = logging.getLogger(__name__)

MAX_HOST_LOSSES, HOST_LOSS_WINDOW_S = 3, 60.0  # a host dying more often than this is not restarted
# What brings a lost job back: in Blender, reopening the file; from the CLI, running the same command again.
RESUME_ADVICE = {
    False: ": reopen the file to resume the job",
    True: ": re-run the same command to resume the job",
}


def step(scene=None, *, max_imports: int = 1) -> bool:
    """Apply queued worker events and import up to ``max_imports`` finished results. True while busy."""
    scene = scene or bpy.context.scene
    host = session.worker_host()
    for event in host.drain():
        record = records.find(event.job_id)
        if record is None or not records.apply_event(record, event):
            continue  # the file was closed or the record deleted, or a late line of an ended job
        if event.results is not None:
            session.pending_imports().append(event.job_id)
        if event.state is State.FAILED and event.extra.get("host_lost"):
            record.message += RESUME_ADVICE[session.cli_mode()]
            now = time.monotonic()
            # Crashing over and over: leave the jobs failed with their message rather than loop.
            if sum(1 for t in host.deaths if now - t < HOST_LOSS_WINDOW_S) <= MAX_HOST_LOSSES:
                resume.resume_after_host_loss(scene, record)
        elif event.state is State.FAILED and records.details(record).get("fallback"):
            _blender_fallback(record, event.message or "")
    measure.apply(host.measured())
    imported = 0
    pending = session.pending_imports()
    while pending and imported < max_imports:
        _import_job(scene, pending.popleft())
        imported += 1
    baking = bake.poll()
    return bool(pending or host.running_ids() or session.measuring() or measure.queued() or baking)


def _blender_fallback(record, reason: str) -> None:
    """The local engine's wheels cannot load here: use Blender's QuadriFlow/Decimate instead."""
    source = find_source(record.source_name, record.source_uid)
    if source is None:
        return
    if session.note_engine_problem(reason):
        log.warning("local engine unavailable (%s): falling back to Blender's own remesher", reason)
    record.state, record.message = State.RUNNING.value, "using Blender's own remesher (blocking)"
    try:
        files = run_fallback(source, records.settings(record), Path(record.work_dir))
    except RetopoError as exc:
        records.finish(record, State.FAILED, str(exc))
        return
    records.set_results(record, files)
    session.pending_imports().append(record.job_id)


def _import_job(scene, job_id: str) -> None:
    record = records.find(job_id)
    if record is None or record.imported:
        return
    try:
        objects = import_results(
            scene,
            source_name=record.source_name,
            provider=record.provider,
            job_id=record.job_id,
            remote_id=record.remote_id,
            settings=records.settings(record),
            results=records.results(record),
            source_uid=record.source_uid,
        )
    except RetopoError as exc:
        records.finish(record, State.FAILED, str(exc))
        session.journal().update(job_id, state=State.FAILED.value, message=str(exc))
        return
    record.imported = True
    if not session.cli_mode():
        # The CLI forgets the job only once its output files are written (jobs.cli.run_input), so a full
        # disk on --out never costs a second paid job: a re-run imports the kept results again.
        session.journal().remove(job_id)
    record.result_objects = json.dumps([o.name for o in objects])
    lod0 = next((o for o in objects if o.get("retopo_hub_lod", 0) == 0), objects[0])
    record.faces_achieved = len(lod0.data.polygons)
    record.progress = 1.0
    done = f"{len(objects)} object(s): {lod0.name} has {record.faces_achieved} faces"
    if warnings := records.details(record).get("warnings"):
        done = f"done with warnings: {'; '.join(warnings)} ({done})"
    records.finish(record, State.DONE, done)
    try:
        measure.request(record, objects)  # the quality report and heatmap follow when the worker is done
    except (OSError, ValueError) as exc:
        log.warning("could not ask for the quality of job %s: %s", job_id, exc)
    levels = [o for o in objects if o is not lod0]
    bake.start(record, find_source(record.source_name, record.source_uid), lod0, levels)


def cancel(job_id: str) -> None:
    if bake.cancel(job_id):
        return
    record = records.find(job_id)
    if not session.worker_host().cancel(job_id) and record is not None and not records.terminal(record.state):
        records.finish(record, State.CANCELLED, "cancelled")


def accept_quote(job_id: str) -> bool:
    """The user accepted a job's quote: it goes on to the paid request."""
    return session.worker_host().confirm(job_id)


def active_job_ids() -> list[str]:
    return session.worker_host().running_ids() + list(session.pending_imports()) + list(session.bakes())


def run_blocking(
    job_ids: Iterable[str],
    *,
    on_update: Callable[[Any], None] | None = None,
    poll_s: float = 0.1,
) -> list[Any]:
    """Drive ``step`` until every given job is terminal (the headless driver). Returns the records.

    Interrupted (Ctrl-C), it stops the workers without cancelling anything remote and re-raises: the journal
    keeps every job as it was, so re-running the command (or reopening the file) resumes them, never pays
    twice."""
    job_ids = list(job_ids)
    last: dict[str, tuple] = {}
    try:
        while True:
            step(max_imports=len(job_ids) or 1)
            found = [records.find(j) for j in job_ids]
            for record in found:
                if record is None or on_update is None:
                    continue
                key = (record.state, round(record.progress, 2), record.message)
                if last.get(record.job_id) != key:
                    last[record.job_id] = key
                    on_update(record)
            if all(r is None or records.terminal(r.state) for r in found) and not any(
                measure.pending(j) for j in job_ids
            ):
                return found
            if not measure.queued():  # a heatmap waiting for the next step needs no event
                session.worker_host().wait_for_event(poll_s)
    except KeyboardInterrupt:
        session.shutdown()
        raise


def print_progress(record: Any) -> None:
    sys.stderr.write(
        f"[retopo-hub] {record.source_name}: {record.state} {int(record.progress * 100):3d}% "
        f"{record.message}\n"
    )
