# SPDX-License-Identifier: GPL-3.0-or-later
"""The bake phase of a job: the source's detail baked into maps on the imported LOD0 (option ``bake``).

Contract: ``start(record, source, lod0, levels)`` bakes the maps the job's settings ask for with
``blender_io.baking`` (Cycles "selected to active"). Without a UI (``bpy.app.background``: the ``bpy``
module, ``blender -b``, the CLI) it bakes in process and returns when done. With a UI it never blocks
Blender: it writes the source and LOD0 into ``<job>/bake-<id>/bake.blend`` and starts a background Blender
(``bpy.app.binary_path -b --factory-startup --python blender_io/bake_child.py``; under the ``bpy`` module,
whose binary_path is no Blender, the same script with ``sys.executable``), sets the record to ``baking``
and lets ``poll()``, called by the step function, finish it. The maps end up as
``<job>/maps/<lod0>_<map>.png`` (moved there whole), on the results through ``blender_io.bakedmaps``, and in
``details["maps"]``. ``cancel(job_id)`` kills the process and removes its folder: no partial file stays.
A failed bake leaves the results without maps and says why in the job's warnings; it never fails the job.
The source and the user's scene are never changed. Main thread only.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import bpy

from ..blender_io import baking
from ..blender_io.bakedmaps import apply_maps
from ..core.errors import one_line
from ..core.jobs import State
from ..core.options import bake_maps, default
from . import records, session

log = logging.getLogger(__name__)

CHILD_SCRIPT = Path(baking.__file__).with_name("bake_child.py")


@dataclass
class BakeRun:
    """One background bake process and what its answer is for."""

    job_id: str
    process: subprocess.Popen
    folder: Path
    answer: Path
    lod0: str
    levels: tuple[str, ...]
    request: baking.BakeRequest
    started: float
    done_message: str  # the job's message before the bake, which the bake's outcome is added to

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def request_of(options: dict) -> baking.BakeRequest:
    return baking.BakeRequest(
        maps=bake_maps(options.get("bake", "")),
        size=int(options.get("bake_size", default("bake_size"))),
        convention=str(options.get("normal_convention", default("normal_convention"))),
        ray_distance=float(options.get("ray_distance", 0.0) or 0.0),
    )


def has_ui() -> bool:
    return not bpy.app.background


def start(record, source, lod0, levels=(), *, options: dict | None = None) -> bool:
    """Bake ``lod0`` from ``source`` as ``options`` (default: the job's settings) ask; True when a
    background bake was started (the record is then ``baking`` until ``poll`` ends it)."""
    request = request_of(options if options is not None else records.settings(record))
    if not request.maps:
        return False
    if source is None:
        _warn(record, "no maps were baked: the source object is gone")
        return False
    if not lod0.data.uv_layers:
        _warn(record, f"no maps were baked: {lod0.name} has no UVs (unwrap it, then Bake onto This Result)")
        return False
    folder = Path(record.work_dir) / f"bake-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    level_names = tuple(o.name for o in levels)
    if not has_ui():
        started = time.monotonic()
        try:
            maps, distance = baking.bake_maps(source, lod0, request, folder)
        except (RuntimeError, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            _warn(record, f"no maps were baked: {one_line(str(exc), 200)}")
            return False
        answer = {"maps": maps, "ray_distance": distance, "seconds": time.monotonic() - started}
        try:
            _finish(record, folder, answer, lod0.name, level_names, request)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            _warn(record, f"no maps were baked: {one_line(str(exc), 200)}")
        return False
    blend, answer = folder / "bake.blend", folder / "answer.json"
    job = {
        "blend": str(blend), "source": source.name, "target": lod0.name, "maps": list(request.maps),
        "size": request.size, "convention": request.convention, "ray_distance": request.ray_distance,
        "out_dir": str(folder), "answer": str(answer),
    }  # fmt: skip
    try:
        bpy.data.libraries.write(str(blend), {source, lod0}, path_remap="ABSOLUTE", fake_user=True)
        (folder / "request.json").write_text(json.dumps(job))
        process = subprocess.Popen(
            [*_child_command(), str(folder / "request.json")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        _warn(record, f"no maps were baked: could not start the bake process ({one_line(str(exc), 160)})")
        return False
    run = BakeRun(record.job_id, process, folder, answer, lod0.name, level_names, request,
                  time.monotonic(), record.message)  # fmt: skip
    session.bakes()[record.job_id] = run
    record.state, record.message = State.BAKING.value, f"baking {', '.join(request.maps)} maps"
    return True


def _child_command() -> list[str]:
    binary = bpy.app.binary_path
    if binary and Path(binary).name.lower().startswith("blender"):
        return [binary, "-b", "--factory-startup", "--python", str(CHILD_SCRIPT), "--"]
    # The bpy module: binary_path is no Blender, but this Python imports bpy just as well.
    return [sys.executable, str(CHILD_SCRIPT), "--"]


def poll() -> bool:
    """Finish the background bakes that ended; True while any still runs. Never waits."""
    for job_id, run in list(session.bakes().items()):
        if run.process.poll() is None:
            continue
        del session.bakes()[job_id]
        record = records.find(job_id)
        try:
            answer = json.loads(run.answer.read_text())
        except (OSError, ValueError):
            answer = {"error": f"the bake process ended (code {run.process.returncode}) without an answer"}
        if record is None:
            shutil.rmtree(run.folder, ignore_errors=True)
            continue
        record.message = run.done_message
        answer["seconds"] = time.monotonic() - run.started  # what the artist waited, start included
        error = answer.get("error")
        if error is None:
            try:
                _finish(record, run.folder, answer, run.lod0, run.levels, run.request)
            except OSError as exc:
                error = one_line(str(exc), 200)
        if error is not None:
            shutil.rmtree(run.folder, ignore_errors=True)
            _warn(record, f"no maps were baked: {error}")
        if record.state == State.BAKING.value:
            records.finish(record, State.DONE, record.message)
    return bool(session.bakes())


def cancel(job_id: str) -> bool:
    """Stop ``job_id``'s background bake (the process is gone and its folder removed when this returns)."""
    run = session.bakes().pop(job_id, None)
    if run is None:
        return False
    run.stop()
    record = records.find(job_id)
    if record is not None:
        records.finish(record, State.CANCELLED, "bake cancelled: the results are kept as they were")
    return True


def _finish(record, folder: Path, answer: dict, lod0_name: str, levels, request) -> None:
    """Move the baked maps into ``<job>/maps`` and dress the results in them."""
    maps, distance = answer["maps"], answer["ray_distance"]
    final_dir = Path(record.work_dir) / "maps"
    final_dir.mkdir(parents=True, exist_ok=True)
    final = {}
    for name, path in maps.items():
        target = final_dir / f"{lod0_name}_{name}.png"
        Path(path).replace(target)
        final[name] = str(target)
    shutil.rmtree(folder, ignore_errors=True)
    lod0 = bpy.data.objects.get(lod0_name)
    if lod0 is None:
        _warn(record, "the maps were baked but the result object is gone")
        return
    level_objects = [o for n in levels if (o := bpy.data.objects.get(n)) is not None]
    apply_maps(lod0, level_objects, final, f"{lod0_name}_baked", request.convention)
    details = records.details(record)
    seconds = round(float(answer.get("seconds", 0.0)), 3)
    record.details_json = json.dumps(
        details | {"maps": final, "ray_distance": distance, "bake_seconds": seconds}
    )
    record.message += f"; baked {', '.join(final)} at {request.size} px"


def _warn(record, text: str) -> None:
    log.warning("job %s: %s", record.job_id, text)
    details = records.details(record)
    record.details_json = json.dumps(details | {"warnings": [*(details.get("warnings") or []), text]})
    record.message += f"; {text}"
