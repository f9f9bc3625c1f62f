# SPDX-License-Identifier: GPL-3.0-or-later
"""Carry the source's attributes over to a cloud service's OBJ results; runs in the worker host.

Contract: ``carry_attributes(spec, ctx, results)`` returns ``results`` unchanged and, for the OBJ meshes
among them, writes ``<file>.attributes.npz`` beside each: the engine's transfer (``python -m
engines.transfer_cli``, a child process as the local engine is) run on the file as our own OBJ reader
reads it, in the engine's result layout for one level (``attributes``, ``group_names``,
``lod0_face_materials``, ``lod0_weight_*``, ``lod0_hard_edges``) plus ``lod0_verts``, so Blender's side
can check that the mesh it imported is this one, in this order. Jobs without a snapshot (resumed or
attached ones) and other formats (GLB and FBX go through Blender's importers, which reorder vertices) get
nothing. The service's result is paid for: a failure here is logged and never fails the job; a cancel
still cancels. Never imports bpy.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import numpy as np

from ..core.errors import Cancelled
from ..core.jobs import ATTRIBUTES_SUFFIX, JobSpec, ResultFile, State
from ..formats.obj import read_obj
from ..worker.ipc import SNAPSHOT_NAME, save_snapshot
from ..worker.runner import WorkerContext

log = logging.getLogger(__name__)

TRANSFER_COMMAND = (sys.executable, "-m", "engines.transfer_cli")


def sidecar(result_path: str | os.PathLike[str]) -> Path:
    return Path(f"{result_path}{ATTRIBUTES_SUFFIX}")


def carry_attributes(spec: JobSpec, ctx: WorkerContext, results: list[ResultFile]) -> list[ResultFile]:
    meshes = [r for r in results if r.kind == "mesh" and r.path.lower().endswith(".obj")]
    if spec.snapshot is None or not meshes or not spec.extension_root:
        return results
    try:
        _carry(spec, ctx, meshes)
    except Cancelled:
        raise
    except Exception:  # the paid result is imported bare rather than lost
        log.warning("could not carry the source's attributes over to job %s", spec.job_id, exc_info=True)
    return results


def _carry(spec: JobSpec, ctx: WorkerContext, meshes: list[ResultFile]) -> None:
    work = Path(spec.work_dir)
    source = work / SNAPSHOT_NAME
    if not source.is_file():  # the job did not come through the host client (tests, tools)
        source = work / "attributes_source.npz"
        save_snapshot(spec.snapshot, source)
    levels: dict[str, np.ndarray] = {"lod_count": np.asarray(len(meshes))}
    for k, result in enumerate(meshes):
        data = read_obj(Path(result.path))
        for name in ("verts", "face_sizes", "corner_verts"):
            levels[f"lod{k}_{name}"] = np.asarray(data[name])
    meshes_path, out_path = work / "attributes_meshes.npz", work / "attributes_out.npz"
    np.savez(meshes_path, **levels)
    ctx.emit(State.DOWNLOADING, None, "carrying materials, vertex groups and hard edges over")
    _run_child(spec, ctx, [str(source), str(meshes_path), str(out_path)])
    with np.load(out_path) as data:
        for k, result in enumerate(meshes):
            prefix = f"lod{k}_"
            arrays = {"lod0_" + n[len(prefix) :]: data[n] for n in data.files if n.startswith(prefix)}
            arrays.update({n: data[n] for n in ("attributes", "group_names") if n in data.files})
            arrays["lod0_verts"] = levels[prefix + "verts"]
            final = sidecar(result.path)
            temp = final.with_name(final.name + ".tmp")
            with open(temp, "wb") as fh:  # through a handle, so np.savez keeps the temporary name
                np.savez(fh, **arrays)
            temp.replace(final)
    for path in (meshes_path, out_path):
        with suppress(OSError):
            path.unlink()


def _run_child(spec: JobSpec, ctx: WorkerContext, args: list[str]) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (spec.extension_root, *spec.python_paths) if p)
    proc = subprocess.Popen(
        [*TRANSFER_COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=spec.extension_root,
        env=env,
        text=True,
    )
    try:
        while proc.poll() is None:
            if ctx.cancel_event.wait(0.1):
                raise Cancelled("cancelled by the user")
            if ctx.time_left() <= 0:
                raise TimeoutError("the attribute transfer ran past the job's deadline")
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if proc.returncode != 0:
        lines = [line for line in out.splitlines() if line.strip()]
        message = json.loads(lines[-1]).get("error", "") if lines else ""
        raise RuntimeError(f"exit code {proc.returncode}: {message or err[-2000:]}")
