# SPDX-License-Identifier: GPL-3.0-or-later
"""Job records in the scene (``Scene.retopo_hub.jobs``) and the journal entries that mirror them.

Contract: every rule about a record lives here once: ``find``/``new``, ``apply_event`` (a worker event onto
the record), ``terminal``, ``journal_entry`` (a record as a journal entry, built by ``core.journal.entry``),
``results``/``details`` (the record's JSON fields read once per change, never by the panel on a redraw).
States come from ``core.jobs.State``. Main thread only.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

import bpy

from ..core import journal
from ..core.jobs import TERMINAL_STATES, JobEvent, ResultFile, State

TERMINAL = journal.TERMINAL
UNFINISHED = frozenset(state.value for state in State) - TERMINAL
# On a source object: {"mesh": kept name, "name": its own name} of the mesh Apply to Source replaced.
ORIGINAL_MESH_KEY = "retopo_hub_original_mesh"
# (value, label, description) for the record's EnumProperty, in the order a job goes through them.
STATE_ITEMS = tuple((state.value, state.value.capitalize(), "") for state in State)


def terminal(state: str) -> bool:
    return state in TERMINAL


def find(job_id: str):
    for scene in bpy.data.scenes:
        for record in scene.retopo_hub.jobs:
            if record.job_id == job_id:
                return record
    return None


def new(scene, *, job_id, provider, source, options, work_dir, remote_id="", source_name=""):
    record = scene.retopo_hub.jobs.add()
    now = time.time()
    record.job_id, record.provider = job_id, provider
    record.source_name = source.name if source is not None else source_name
    record.source_uid = source.session_uid if source is not None else 0
    record.state, record.progress, record.message = State.QUEUED.value, 0.0, "queued"
    record.created = record.updated = now
    record.faces_requested = int(options.get("target_faces") or 0)
    record.work_dir = str(work_dir)
    record.remote_id = remote_id or ""
    record.settings_json = json.dumps(dict(options), sort_keys=True)
    scene.retopo_hub.active_job_index = len(scene.retopo_hub.jobs) - 1
    return record


@lru_cache(maxsize=512)
def _parsed(text: str) -> Any:
    # The panel reads these on every redraw: parse each distinct string once (they change rarely).
    return json.loads(text)


def result_names(record) -> tuple[str, ...]:
    return tuple(_parsed(record.result_objects or "[]"))


def set_result_names(record, names) -> None:
    record.result_objects = json.dumps(list(names))


def mappings(record) -> list[dict[str, Any]]:
    """sboxcool's suggested bone mappings of a failed job (empty otherwise)."""
    found = _parsed(record.details_json or "{}").get("mappings") if record.state == State.FAILED else None
    return list(found or [])


def resubmit_offer(record) -> dict[str, Any] | None:
    """``{"sent": time}`` of an interrupted, unconfirmed cloud job the artist may submit again (``sent`` 0
    when its paid submit never went out), else None."""
    if record.state != State.FAILED:
        return None
    return _parsed(record.details_json or "{}").get("resubmit_offer")


def quality(record) -> dict[str, Any]:
    """``{result name: quality report}`` once the results were measured (``jobs.measure``), else {}."""
    return dict(_parsed(record.details_json or "{}").get("quality") or {})


def awaiting_quote(record) -> float | None:
    """The credits a running job's quote asks for while it waits for the user's Accept, else None."""
    details = _parsed(record.details_json or "{}")
    if record.state in TERMINAL or not details.get("awaiting_quote"):
        return None
    return float(details.get("quote") or 0.0)


def settings(record) -> dict[str, Any]:
    return json.loads(record.settings_json or "{}")


def results(record) -> list[ResultFile]:
    return [ResultFile.from_dict(d) for d in json.loads(record.results_json or "[]")]


def details(record) -> dict[str, Any]:
    return json.loads(record.details_json or "{}")


def set_results(record, files) -> None:
    record.results_json = json.dumps([r.to_dict() for r in files])


def finish(record, state: State, message: str) -> None:
    record.state, record.message = state.value, message
    record.finished = record.updated = time.time()


def apply_event(record, event: JobEvent) -> bool:
    """Apply a worker event; False when it was ignored (a late line of a job that already ended)."""
    if record.state in TERMINAL and event.state not in (*TERMINAL_STATES, State.IMPORTING):
        # A late progress line of a job that already ended must not bring it back to life.
        if event.remote_id:
            record.remote_id = event.remote_id
        return False
    if event.state is not None:
        record.state = event.state.value
    if event.progress is not None:
        record.progress = max(0.0, min(1.0, event.progress))
    if event.message is not None:
        record.message = event.message
    if event.remote_id:
        record.remote_id = event.remote_id
    if event.extra:
        record.details_json = json.dumps(details(record) | dict(event.extra))
    if event.results is not None:
        set_results(record, event.results)
    if event.state in TERMINAL_STATES:
        record.finished = time.time()
    record.updated = time.time()
    return True


def journal_entry(record) -> dict[str, Any]:
    """What the journal would hold for ``record`` (used when the journal lost it)."""
    return journal.entry(
        job_id=record.job_id, provider=record.provider, remote_id=record.remote_id,
        source_name=record.source_name, options=settings(record), work_dir=record.work_dir,
        state=record.state, results=json.loads(record.results_json or "null"), created=record.created,
    )  # fmt: skip
