# SPDX-License-Identifier: GPL-3.0-or-later
"""The Blender side of jobs: submit the selection, apply worker events to job records, import results.

Main thread only. ``step()`` is the one step function: the modal timer operator calls it in the UI, and
``run_blocking()`` calls it in a loop for ``blender -b``, the ``bpy`` module and the CLI. Workers run in
the worker host process (``core.host``; ``core.runner`` states the threading rules): they never see Blender
data, only the frozen ``JobSpec``s built here, and Blender's own process runs no worker thread at all.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import bpy

from .blender_io.exporter import export_fbx
from .blender_io.fallback import run_fallback
from .blender_io.importer import find_source, import_results
from .blender_io.mesh_arrays import check_source, face_stats, snapshot_object
from .core.errors import ConfigError, InputError, RetopoError
from .core.files import check_writable_dir
from .core.host_client import WorkerHost
from .core.jobs import TERMINAL_STATES, Credentials, JobSpec, ResultFile, State, freeze, new_job_id
from .core.journal import Journal
from .core.validation import validate_options
from .preferences import (
    ADDON_ID,
    base_url_for,
    credentials_for,
    deadline_for,
    get_prefs,
    missing_credentials,
)
from .providers import all_providers

log = logging.getLogger(__name__)

EXTENSION_ROOT = str(Path(__file__).resolve().parent)
GENERIC_OPTIONS = ("mode", "target_faces", "quads", "lod_levels", "lod_final_ratio", "lod_max_threshold")
TERMINAL_VALUES = frozenset(s.value for s in TERMINAL_STATES)
MAX_HOST_LOSSES, HOST_LOSS_WINDOW_S = 3, 60.0  # a host dying more often than this is not restarted
PROVIDER_PREFIX = {"csm": "csm_", "tripo": "tripo_", "sboxcool": "sbox_"}


class _Session:
    """Process-wide runtime state that must not live in a .blend (threads, queues, overrides)."""

    runner: WorkerHost | None = None
    pending_imports: deque[str] = deque()
    cache_override: str | None = None
    online_override: bool = False
    cli_mode: bool = False  # the CLI resumes by its own dedupe key, never by file-load handlers
    engine_problem: str = ""  # why the local engine's wheels could not load in this Blender, once known


def pending_imports() -> deque[str]:
    return _Session.pending_imports


def runner() -> WorkerHost:
    """The worker host process: Blender itself runs no worker thread (see core.host for why)."""
    if _Session.runner is None:
        _Session.runner = WorkerHost(EXTENSION_ROOT, all_providers())
    return _Session.runner


def set_cache_dir(path: str | None) -> None:
    _Session.cache_override = path


def set_online_override(enabled: bool) -> None:
    _Session.online_override = enabled


def set_cli_mode(enabled: bool) -> None:
    _Session.cli_mode = enabled


def cli_mode() -> bool:
    return _Session.cli_mode


def local_engine_problem() -> str:
    """Why the local engine's wheels could not load in this Blender ('' while they could): the panel says
    it once, above the local settings, until the extension is disabled (``shutdown``)."""
    return _Session.engine_problem


def online_allowed() -> bool:
    return bool(bpy.app.online_access or _Session.online_override)


def cache_root(context: bpy.types.Context | None = None, *, probe: bool = False) -> Path:
    """The job folder. ``probe`` also proves a file can be written there: done once per submit (and for
    ``--cache``), not on every journal write, which runs on the main thread's step."""
    prefs = get_prefs(context)
    configured = _Session.cache_override or (prefs.cache_dir if prefs else "")
    if configured:
        root = Path(bpy.path.abspath(configured))
        try:
            root.mkdir(parents=True, exist_ok=True)
            return check_writable_dir(root) if probe else root
        except (OSError, ConfigError) as exc:
            raise ConfigError(
                f"cannot use the job folder {root}: pick another one in Preferences > Add-ons > Retopo Hub "
                "or with --cache"
            ) from exc
    return Path(bpy.utils.extension_path_user(ADDON_ID, path="jobs", create=True))


def options_from_object(obj: bpy.types.Object) -> dict[str, Any]:
    settings = obj.retopo_hub
    options: dict[str, Any] = {name: getattr(settings, name) for name in GENERIC_OPTIONS}
    prefix = PROVIDER_PREFIX.get(settings.provider)
    if prefix:
        for prop in settings.bl_rna.properties:
            if prop.identifier.startswith(prefix):
                options[prop.identifier] = getattr(settings, prop.identifier)
    if settings.provider == "tripo" and options.pop("tripo_adaptive_faces", False):
        del options["target_faces"]  # no faceLimit: Tripo picks the face count itself
    if settings.provider == "csm":
        del options["target_faces"]  # CSM has no face-count parameter
    return options


def find_record(job_id: str):
    for scene in bpy.data.scenes:
        for record in scene.retopo_hub.jobs:
            if record.job_id == job_id:
                return record
    return None


# -- submit ----------------------------------------------------------------------------------------


def submit_objects(
    context: bpy.types.Context,
    objects: Iterable[bpy.types.Object],
    *,
    provider: str | None = None,
    options: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> list[str]:
    """Validate every object first, then start one job per object. Returns the new job ids.

    With ``provider``/``options`` given (the CLI), they replace each object's own settings. A
    ``dedupe_key`` (the CLI's hash of inputs and options) resumes the journaled remote job of an interrupted
    earlier run instead of submitting and paying again.
    """
    objects = list(objects)
    if not objects:
        raise InputError("nothing selected: select one or more mesh objects and try again")
    plans = []
    for obj in objects:
        check_source(obj)
        job_provider = provider or obj.retopo_hub.provider
        job_options = dict(options) if options is not None else options_from_object(obj)
        validate_options(job_provider, job_options, source_faces=len(obj.data.polygons),
                         source_tris=_triangle_count(obj))  # fmt: skip
        if job_provider != "local" and not online_allowed():
            raise InputError(
                "online access is off: enable 'Allow Online Access' in Preferences > System "
                "(or pass --online-mode) to use cloud providers"
            )
        service = runner().provider(job_provider)
        if missing_credentials(job_provider, context) and hasattr(service, "missing_credentials_message"):
            # Refuse before a job record exists: nothing would be sent anyway.
            raise InputError(service.missing_credentials_message())
        plans.append((obj, job_provider, job_options))
    from . import job_resume  # it imports this module: resolve the cycle at call time

    depsgraph = context.evaluated_depsgraph_get()
    root = cache_root(context, probe=True)
    # Everything that can still fail (snapshots, a rigged mesh's FBX export) happens before the first job
    # starts, so a bad object in a selection starts nothing; the work folders already made are removed again.
    prepared = []
    try:
        for obj, prov, opts in plans:
            earlier = job_resume.resumable(context, dedupe_key) if dedupe_key else None
            prepared.append(
                (obj, prov, opts, earlier, None if earlier else _prepare(obj, prov, opts, depsgraph, root))
            )
    except BaseException:
        for *_rest, ready in prepared:
            if ready is not None:
                shutil.rmtree(ready["work_dir"], ignore_errors=True)
        raise
    job_ids = []
    for obj, prov, opts, earlier, ready in prepared:
        if earlier is not None:
            job_ids.append(job_resume.resume_entry(context, earlier, source=obj))
        else:
            job_ids.append(_start_job(context, obj, prov, opts, ready, dedupe_key=dedupe_key))
    return job_ids


def _triangle_count(obj: bpy.types.Object) -> int:
    sizes = face_stats(obj.data)
    other = len(obj.data.polygons) - sizes["quads"] - sizes["tris"]
    return sizes["tris"] + 2 * sizes["quads"] + 3 * other  # n-gons: a fair lower estimate


def journal(context: bpy.types.Context | None = None) -> Journal:
    return Journal(cache_root(context) / "journal")


def new_record(context, *, job_id, provider, source, options, work_dir, remote_id="", source_name=""):
    record = context.scene.retopo_hub.jobs.add()
    now = time.time()
    record.job_id, record.provider = job_id, provider
    record.source_name = source.name if source is not None else source_name
    record.source_uid = source.session_uid if source is not None else 0
    record.state, record.progress, record.message = "queued", 0.0, "queued"
    record.created = record.updated = now
    if provider in ("local", "tripo"):
        record.faces_requested = int(options.get("target_faces") or 0)
    record.work_dir = str(work_dir)
    record.remote_id = remote_id or ""
    record.settings_json = json.dumps(options, sort_keys=True)
    context.scene.retopo_hub.active_job_index = len(context.scene.retopo_hub.jobs) - 1
    return record


def make_spec(context, *, job_id, provider, source_name, options, work_dir, **extra) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        provider=provider,
        source_name=source_name,
        options=freeze(options),
        work_dir=str(work_dir),
        credentials=Credentials(credentials_for(provider, context)),
        base_url=base_url_for(provider, context),
        online=online_allowed(),
        deadline_s=deadline_for(provider, options, context),
        extension_root=EXTENSION_ROOT,
        python_paths=tuple(p for p in sys.path if p),
        journal_dir=str(journal(context).folder),
        **extra,
    )


def _prepare(obj, provider: str, options: dict[str, Any], depsgraph, root: Path) -> dict[str, Any]:
    job_id = new_job_id()
    work_dir = root / f"{provider}-{job_id}"
    snapshot = snapshot_object(obj, depsgraph, with_uvs=provider != "local")
    input_file = None
    if provider == "sboxcool" and options.get("sbox_format", "fbx") == "fbx" and snapshot.has_armature:
        # Bones and skin weights need Blender's exporter: a rigged mesh's FBX is the one upload written on
        # the main thread. Every other upload is written by the worker from the snapshot.
        input_file = str(export_fbx(obj, work_dir / "upload.fbx"))
    return {"job_id": job_id, "work_dir": work_dir, "snapshot": snapshot, "input_file": input_file}


def _start_job(context, obj, provider: str, options: dict[str, Any], ready, *, dedupe_key=None) -> str:
    job_id, work_dir = ready["job_id"], ready["work_dir"]
    snapshot, input_file = ready["snapshot"], ready["input_file"]
    new_record(context, job_id=job_id, provider=provider, source=obj, options=options, work_dir=work_dir)
    journal(context).write({
        "job_id": job_id, "provider": provider, "source_name": obj.name,
        "blend_file": f"cli:{dedupe_key}" if dedupe_key else bpy.data.filepath,
        "options": options, "work_dir": str(work_dir), "state": "queued", "created": time.time(),
        "dedupe_key": dedupe_key,
    })  # fmt: skip
    spec = make_spec(context, job_id=job_id, provider=provider, source_name=obj.name, options=options,
                     work_dir=work_dir, snapshot=snapshot, input_file=input_file)  # fmt: skip
    runner().start(spec)
    log.info("started %s job %s for %s", provider, job_id, obj.name)
    return job_id


# -- step ------------------------------------------------------------------------------------------


def step(context: bpy.types.Context | None = None, *, max_imports: int = 1) -> bool:
    """Apply queued worker events and import up to ``max_imports`` finished results. True while busy."""
    context = context or bpy.context
    for event in runner().drain():
        record = find_record(event.job_id)
        if record is None:
            continue  # the file was closed or the record deleted; nothing to update
        if record.state in TERMINAL_VALUES and event.state not in (*TERMINAL_STATES, State.IMPORTING):
            # A late progress line of a job that already ended must not bring it back to life.
            if event.remote_id:
                record.remote_id = event.remote_id
            continue
        if event.state is not None:
            record.state = event.state.value
        if event.progress is not None:
            record.progress = max(0.0, min(1.0, event.progress))
        if event.message is not None:
            record.message = event.message
        if event.remote_id:
            record.remote_id = event.remote_id
        if event.extra:
            details = json.loads(record.details_json or "{}")
            details.update(event.extra)
            record.details_json = json.dumps(details)
        if event.results is not None:
            record.results_json = json.dumps([r.to_dict() for r in event.results])
            _Session.pending_imports.append(event.job_id)
        if event.state in TERMINAL_STATES:
            record.finished = time.time()
        record.updated = time.time()
        if event.state is State.FAILED and event.extra.get("host_lost"):
            _resume_after_host_loss(context, record)
        elif event.state is State.FAILED and json.loads(record.details_json or "{}").get("fallback"):
            _blender_fallback(context, record, event.message or "")
    imported = 0
    while _Session.pending_imports and imported < max_imports:
        _import_job(context, _Session.pending_imports.popleft())
        imported += 1
    return bool(_Session.pending_imports or runner().running_ids())


def _resume_after_host_loss(context: bpy.types.Context, record) -> None:
    """The worker host died: pick its jobs up again from the journal, unless it keeps dying."""
    now = time.monotonic()
    if sum(1 for t in runner().deaths if now - t < HOST_LOSS_WINDOW_S) > MAX_HOST_LOSSES:
        return  # crashing over and over: leave the jobs failed with their message rather than loop
    from . import job_resume

    entry = journal(context).get(record.job_id)
    if entry is None:
        return
    if record.provider != "local" and not entry.get("remote_id") and not entry.get("results"):
        record.message = (
            "interrupted before the service confirmed the job; check your account before submitting again"
        )
        return
    record.finished = 0.0
    job_resume.resume_entry(context, entry)


def _blender_fallback(context: bpy.types.Context, record, reason: str) -> None:
    """The local engine's wheels are missing on this platform: use Blender's QuadriFlow/Decimate instead."""
    source = find_source(record.source_name, record.source_uid)
    if source is None:
        return
    if not _Session.engine_problem:
        log.warning("local engine unavailable (%s): falling back to Blender's own remesher", reason)
    _Session.engine_problem = reason
    record.state, record.message = "running", "using Blender's own remesher (blocking)"
    try:
        results = run_fallback(source, json.loads(record.settings_json or "{}"), Path(record.work_dir))
    except RetopoError as exc:
        record.state, record.message = "failed", str(exc)
        return
    record.results_json = json.dumps([r.to_dict() for r in results])
    _Session.pending_imports.append(record.job_id)


def _import_job(context: bpy.types.Context, job_id: str) -> None:
    record = find_record(job_id)
    if record is None or record.imported:
        return
    results = [ResultFile.from_dict(d) for d in json.loads(record.results_json or "[]")]
    try:
        objects = import_results(
            context,
            source_name=record.source_name,
            provider=record.provider,
            job_id=record.job_id,
            remote_id=record.remote_id,
            settings=json.loads(record.settings_json or "{}"),
            results=results,
            source_uid=record.source_uid,
        )
    except RetopoError as exc:
        record.state, record.message = "failed", str(exc)
        record.finished = time.time()
        journal(context).update(job_id, state="failed", message=str(exc))
        return
    record.imported = True
    journal(context).remove(job_id)
    record.result_objects = json.dumps([o.name for o in objects])
    lod0 = next((o for o in objects if o.get("retopo_hub_lod", 0) == 0), objects[0])
    record.faces_achieved = len(lod0.data.polygons)
    record.state, record.progress = "done", 1.0
    record.message = f"{len(objects)} object(s): {lod0.name} has {record.faces_achieved} faces"
    record.finished = time.time()


def cancel(job_id: str) -> None:
    record = find_record(job_id)
    if not runner().cancel(job_id) and record is not None and record.state not in TERMINAL_STATES:
        record.state, record.message = "cancelled", "cancelled"
        record.finished = time.time()


def active_job_ids() -> list[str]:
    return runner().running_ids() + list(_Session.pending_imports)


def run_blocking(
    context: bpy.types.Context,
    job_ids: Iterable[str],
    *,
    on_update: Callable[[Any], None] | None = None,
    poll_s: float = 0.1,
) -> list[Any]:
    """Drive ``step`` until every given job is terminal (headless driver). Returns the records."""
    job_ids = list(job_ids)
    last: dict[str, tuple] = {}
    try:
        while True:
            step(context, max_imports=len(job_ids) or 1)
            records = [find_record(j) for j in job_ids]
            for record in records:
                if record is None or on_update is None:
                    continue
                key = (record.state, round(record.progress, 2), record.message)
                if last.get(record.job_id) != key:
                    last[record.job_id] = key
                    on_update(record)
            if all(r is None or r.state in {s.value for s in TERMINAL_STATES} for r in records):
                return records
            runner().wait_for_event(poll_s)
    except KeyboardInterrupt:
        for job_id in job_ids:
            cancel(job_id)
        raise


def print_progress(record: Any) -> None:
    sys.stderr.write(
        f"[retopo-hub] {record.source_name}: {record.state} {int(record.progress * 100):3d}% "
        f"{record.message}\n"
    )


def terminal(state: str) -> bool:
    return State(state) in TERMINAL_STATES


def shutdown() -> None:
    """Cancel and join workers (add-on disabled or Blender quitting); records keep their remote ids."""
    if _Session.runner is not None:
        _Session.runner.shutdown()
        _Session.runner = None
    _Session.pending_imports.clear()
    _Session.engine_problem = ""
