# SPDX-License-Identifier: GPL-3.0-or-later
"""Submit: validate every object, read the settings once, snapshot the meshes, then start one job each.

Contract: ``submit_objects`` refuses a bad selection with one ``InputError`` line before anything starts
(a bad object in a selection starts nothing, and the work folders already made are removed again). Each job
gets a record, a journal entry and a frozen ``JobSpec`` handed to the worker host. With a CLI dedupe key,
a journaled, confirmed job of an interrupted run is resumed instead of submitted (and paid) again.
Main thread only.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bpy

from ..blender_io.attributes import rest_pose
from ..blender_io.exporter import export_fbx
from ..blender_io.mesh_arrays import check_source, snapshot_object, triangle_count
from ..core import journal
from ..core.errors import ONLINE_ACCESS_OFF, InputError
from ..core.jobs import State, new_job_id
from ..core.options import validate, with_implied
from . import records, resume, session, specs

log = logging.getLogger(__name__)


def submit_objects(
    context: bpy.types.Context,
    objects: Iterable[bpy.types.Object],
    *,
    provider: str | None = None,
    options: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    interactive: bool = False,
) -> list[str]:
    """Validate every object first, then start one job per object. Returns the new job ids.

    With ``provider``/``options`` given (the CLI), they replace each object's own settings. ``interactive``
    (a click in the UI): a quote above the limit waits for the user's answer instead of failing the job.
    """
    objects = list(objects)
    if not objects:
        raise InputError("nothing selected: select one or more mesh objects and try again")
    prefs = specs.read_preferences(probe=True)
    depsgraph = context.evaluated_depsgraph_get()
    plans = [check_object(obj, prefs, depsgraph, provider=provider, options=options) for obj in objects]
    root = prefs.job_folder
    # Everything that can still fail (snapshots, a rigged mesh's FBX export) happens before the first job
    # starts, so a bad object in a selection starts nothing.
    prepared = []
    try:
        for obj, prov, opts in plans:
            earlier = resume.resumable(prefs, dedupe_key) if dedupe_key else None
            ready = None if earlier else _prepare(obj, prov, opts, depsgraph, root)
            prepared.append((obj, prov, opts, earlier, ready))
    except BaseException:
        for *_rest, ready in prepared:
            if ready is not None:
                shutil.rmtree(ready["work_dir"], ignore_errors=True)
        raise
    job_ids = []
    for obj, prov, opts, earlier, ready in prepared:
        if earlier is not None:
            job_ids.append(resume.resume_entry(context.scene, prefs, earlier, source=obj))
        else:
            job_ids.append(_start_job(context.scene, prefs, obj, prov, opts, ready, dedupe_key=dedupe_key,
                                      interactive=interactive))  # fmt: skip
    return job_ids


def check_object(
    obj: bpy.types.Object,
    prefs: specs.Preferences,
    depsgraph,
    *,
    provider: str | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[bpy.types.Object, str, dict[str, Any]]:
    """Everything a submit checks before it starts anything (InputError); ``--dry-run`` stops here.
    Returns (object, provider, options)."""
    check_source(obj)
    job_provider = provider or obj.retopo_hub.provider
    specs.provider_entry(job_provider)
    job_options = with_implied(options if options is not None else specs.options_from_object(obj))
    validate(job_provider, job_options, source_tris=_shown_triangles(obj, depsgraph, job_options))
    if job_provider != "local" and not prefs.online:
        raise InputError(ONLINE_ACCESS_OFF)
    if job_provider != "local" and (problem := prefs.credentials_problem(job_provider)):
        raise InputError(problem)  # refused before a job record exists: nothing would be sent anyway
    return obj, job_provider, job_options


def _shown_triangles(obj: bpy.types.Object, depsgraph, options: dict[str, Any]) -> int:
    """Triangles of the mesh the job will get: as the viewport shows it (modifiers, shape keys) unless the
    options ask for the base mesh. Read from the evaluated mesh the depsgraph already holds (no copy)."""
    mesh = obj.evaluated_get(depsgraph).data if options.get("use_modifiers", True) else obj.data
    return triangle_count(mesh)


def _prepare(obj, provider: str, options: dict[str, Any], depsgraph, root: Path) -> dict[str, Any]:
    job_id = new_job_id()
    work_dir = specs.job_folder(root, provider, job_id)
    evaluated = depsgraph if options.get("use_modifiers", True) else None
    # Results get the source's rig: read the rest shape, with what carries over to results.
    with rest_pose(obj, evaluated):
        snapshot = snapshot_object(
            obj, evaluated, with_uvs=provider != "local", with_attributes=True,
            with_marked_edges=provider == "local" and bool(options.get("marked_edges")),
        )  # fmt: skip
    input_file = None
    if provider == "sboxcool" and options.get("sbox_format", "fbx") == "fbx" and snapshot.has_armature:
        # Bones and skin weights need Blender's exporter: a rigged mesh's FBX is the one upload written on
        # the main thread. Every other upload is written by the worker from the snapshot.
        input_file = str(export_fbx(obj, work_dir / "upload.fbx"))
    return {"job_id": job_id, "work_dir": work_dir, "snapshot": snapshot, "input_file": input_file}


def _start_job(
    scene, prefs, obj, provider: str, options: dict[str, Any], ready, *, dedupe_key=None, interactive=False
) -> str:
    job_id, work_dir = ready["job_id"], ready["work_dir"]
    records.new(scene, job_id=job_id, provider=provider, source=obj, options=options, work_dir=work_dir)
    prefs.journal().write(
        journal.entry(
            job_id=job_id, provider=provider, source_name=obj.name, options=options, work_dir=str(work_dir),
            state=State.QUEUED.value, created=time.time(), dedupe_key=dedupe_key,
            blend_file=f"cli:{dedupe_key}" if dedupe_key else bpy.data.filepath,
        )
    )  # fmt: skip
    spec = specs.make_spec(
        prefs, job_id=job_id, provider=provider, source_name=obj.name, options=options, work_dir=work_dir,
        snapshot=ready["snapshot"], input_file=ready["input_file"], quote_can_ask=interactive,
    )  # fmt: skip
    session.worker_host().start(spec)
    log.info("started %s job %s for %s", provider, job_id, obj.name)
    return job_id
