# SPDX-License-Identifier: GPL-3.0-or-later
"""The wire format between Blender and the worker host process: one JSON object per line.

Blender -> host: ``{"op": "start", "spec": {...}}``, ``{"op": "cancel", "job_id": ...}``,
``{"op": "confirm", "job_id": ...}`` (the user accepted the job's quote),
``{"op": "probe", "spec": {...}, "timeout_s": ...}`` (Test Connection: a spec with no mesh, its ``job_id``
naming the probe), ``{"op": "measure", "id", "source": npz path, "results": {name: npz path}}``,
``{"op": "limit", "provider": ..., "limit": N or null}`` (jobs of that provider at once; null: its own),
``{"op": "spares", "provider": ..., "count": N}`` (only N more jobs will come: prepare nothing beyond),
``{"op": "prewarm", "provider": "local", "extension_root": ..., "python_paths": [...]}`` (start what the
next job of that provider needs), ``{"op": "shutdown"}``. Host -> Blender: ``{"event": {...}}`` for every
``JobEvent``, ``{"probe": {"id", "outcome", "message"}}`` for every finished probe,
``{"measured": {"id", "results"}}`` (or ``"error"``) for every finished measurement (logs go to stderr),
and ``{"beat": 1}`` every ``BEAT_S`` while the host runs jobs and has nothing else to say: a host that stops
answering (stopped, deadlocked) is noticed by its silence, ``SILENCE_LIMIT_S``, and replaced.

A spec's mesh snapshot travels as an uncompressed ``.npz`` in the job's folder (written on the main thread,
which is far cheaper than any exporter); credentials travel only over the pipe, never to disk. Pure Python
and numpy; never imports bpy. ``LineReader`` reads a pipe without blocking and without a thread, on POSIX and
on Windows, so Blender's main thread can poll it from its step function.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..core.jobs import Credentials, JobEvent, JobSpec, MeshSnapshot, ResultFile, State

BEAT_S = 1.0
# Far above any pause a working host makes (its pump thread beats whatever the jobs do); the tests shorten it.
SILENCE_LIMIT_S = float(os.environ.get("RETOPO_HUB_TEST_SILENCE_LIMIT_S") or 30.0)
SNAPSHOT_NAME = "snapshot.npz"  # each job's mesh, in its work folder; the local engine reads it as it is
SNAPSHOT_ARRAYS = MeshSnapshot.ARRAYS
# Set when the host is started by ``WorkerHost.prewarm``: JSON [extension_root, python_paths] for the local
# engine's first warm child, which the host then starts before anything else.
PREWARM_ENV = "RETOPO_HUB_PREWARM_ENGINE"
NICENESS_ENV = (
    "RETOPO_HUB_ENGINE_NICENESS"  # read by engine processes as they start (it inherits the host's env)
)


def save_snapshot(snapshot: MeshSnapshot, path: Path) -> None:
    arrays = {k: getattr(snapshot, k) for k in SNAPSHOT_ARRAYS if getattr(snapshot, k) is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")  # np.savez appends .npz to names without it
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_snapshot(path: Path, meta: dict[str, Any]) -> MeshSnapshot:
    with np.load(path) as data:
        arrays = {k: data[k] for k in SNAPSHOT_ARRAYS if k in data}
    return MeshSnapshot.from_arrays(
        arrays,
        material_names=tuple(meta.get("material_names", ())),
        textures=tuple(tuple(t) for t in meta.get("textures", ())),
        has_armature=bool(meta.get("has_armature", False)),
    )


def encode_spec(spec: JobSpec, snapshot_path: Path | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: getattr(spec, name)
        for name in ("job_id", "provider", "source_name", "work_dir", "input_file", "remote_id", "base_url",
                     "online", "deadline_s", "extension_root", "journal_dir", "quote_limit", "quote_can_ask")
    }  # fmt: skip
    data["options"] = dict(spec.options)
    data["credentials"] = dict(spec.credentials.values)
    data["python_paths"] = list(spec.python_paths)
    if spec.snapshot is not None and snapshot_path is not None:
        snap = spec.snapshot
        data["snapshot"] = {
            "path": str(snapshot_path),
            "material_names": list(snap.material_names),
            "textures": [list(t) for t in snap.textures],
            "has_armature": snap.has_armature,
        }
    return data


def decode_spec(data: dict[str, Any]) -> JobSpec:
    snap_meta = data.get("snapshot")
    snapshot = load_snapshot(Path(snap_meta["path"]), snap_meta) if snap_meta else None
    return JobSpec(
        job_id=data["job_id"],
        provider=data["provider"],
        source_name=data["source_name"],
        options=dict(data.get("options") or {}),
        work_dir=data["work_dir"],
        snapshot=snapshot,
        input_file=data.get("input_file"),
        remote_id=data.get("remote_id"),
        credentials=Credentials(dict(data.get("credentials") or {})),
        base_url=data.get("base_url") or "",
        online=bool(data.get("online")),
        deadline_s=float(data.get("deadline_s") or 3600.0),
        extension_root=data.get("extension_root") or "",
        python_paths=tuple(data.get("python_paths") or ()),
        journal_dir=data.get("journal_dir") or "",
        quote_limit=float(data.get("quote_limit") or 0.0),
        quote_can_ask=bool(data.get("quote_can_ask")),
    )


def encode_event(event: JobEvent) -> dict[str, Any]:
    return {
        "job_id": event.job_id,
        "state": event.state.value if event.state is not None else None,
        "progress": event.progress,
        "message": event.message,
        "remote_id": event.remote_id,
        "results": [r.to_dict() for r in event.results] if event.results is not None else None,
        "error": event.error,
        "extra": dict(event.extra),
    }


def decode_event(data: dict[str, Any]) -> JobEvent:
    results = data.get("results")
    return JobEvent(
        job_id=data["job_id"],
        state=State(data["state"]) if data.get("state") else None,
        progress=data.get("progress"),
        message=data.get("message"),
        remote_id=data.get("remote_id"),
        results=tuple(ResultFile.from_dict(r) for r in results) if results is not None else None,
        error=data.get("error"),
        extra=data.get("extra") or {},
    )


def dumps(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")


class LineReader:
    """Non-blocking line reader over a pipe's file descriptor (no thread: Blender's main thread polls it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self.closed = False
        if sys.platform != "win32":
            os.set_blocking(fd, False)

    def _available(self) -> int:
        if sys.platform == "win32":  # Windows pipes cannot be non-blocking; ask how much is waiting
            import _winapi
            import msvcrt

            try:
                avail, _left = _winapi.PeekNamedPipe(msvcrt.get_osfhandle(self.fd), 0)
            except OSError:
                self.closed = True
                return 0
            return int(avail)
        return 1 << 16

    def read_lines(self) -> list[bytes]:
        while not self.closed:
            size = self._available()
            if size <= 0:
                break
            try:
                chunk = os.read(self.fd, size)
            except BlockingIOError:
                break
            except OSError:
                self.closed = True
                break
            if not chunk:
                self.closed = True
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line for line in lines if line.strip()]

    def wait(self, timeout: float) -> None:
        """Sleep until data may be waiting or ``timeout`` passes."""
        if sys.platform == "win32":
            import time

            end = time.monotonic() + timeout
            while time.monotonic() < end and self._available() == 0 and not self.closed:
                time.sleep(0.01)
            return
        import select

        select.select([self.fd], [], [], max(0.0, timeout))
