# SPDX-License-Identifier: GPL-3.0-or-later
"""Child-process entry point: ``python -m engines.child IN.npz PARAMS.json OUT.npz``.

Contract: IN.npz holds ``verts`` float32 (N, 3) and either ``tris`` int32 (M, 3) or polygons in Blender's
loop layout (``face_sizes``, ``corner_verts``: the snapshot file Blender writes, read as it is); PARAMS.json
holds the ``EngineParams`` fields. IN.npz may also hold ``feature_edges`` int32 (K, 2): pairs of its vertex
indices the user marked as hard (Blender's sharp edges, seams, material borders); the remesh puts edge
loops along them as it does along edges sharper than ``sharp_angle``.
``engines.serve`` runs such jobs one after another in a long-lived process (``python -m engines.serve``).
Stdout carries one JSON object per line and nothing else:
``{"progress": 0.4, "message": "..."}`` while working, then ``{"done": true, "lods": [...]}`` (plus
``"warnings": [...]``, one line each for the user, when there are any, e.g. parts too small to keep); each lod
entry may carry ``info`` (see ``remesh.Remeshed``: feature and sharp edge counts, ``target_exceeded``,
topology of the result and the source, ``topology_kept``). OUT.npz gets,
per level i, ``lod{i}_verts``, ``lod{i}_face_sizes``, ``lod{i}_corner_verts``, ``lod{i}_switch_threshold``,
``lod{i}_error`` (its Hausdorff distance to LOD0 in object units, also in the lod entry's ``error``; plus
``lod_count``), and ``lod{i}_sharp_edges`` int32 (E, 2), pairs of that
level's vertex indices to mark sharp (empty except for a quad-remeshed LOD0), plus what
``transfer.transfer_results`` carries over from IN.npz's optional ``face_materials``, ``group_names``,
``weight_*`` and ``sharp_edges`` (``lod{i}_face_materials``, ``lod{i}_weight_*``, ``lod{i}_hard_edges``),
and, when ``uv`` is on, LOD0's ``lod0_uvs`` float32 (C, 2) per corner and ``lod0_uv_stats`` (JSON text; also
LOD0's ``info["uv"]``; see ``uv.lod0_uv_arrays``: without xatlas LOD0 has no UVs and a warning says so),
written to a temporary name
beside it and moved into place with os.replace, so readers never see half a file. Exit codes: 0 done,
2 EngineError (``{"error": ...}``, the message is for the user; a cancelled job adds
``"cancelled": true``), 1 anything else
(``{"error": "internal error: <type>: <msg>"}``). SIGTERM asks for a cooperative stop at the next stage
boundary (a running Instant Meshes or decimation call is not interrupted; kill the process for that).
Native libraries print to file descriptor 1; it is pointed at /dev/null for the duration so only protocol
lines reach the parent. Imports the stdlib, numpy and the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .errors import EngineCancelled, EngineError, EngineInputError, EngineUnavailable, one_line
from .lodlook import Look
from .meshdata import MeshArrays
from .pipeline import EngineParams, LodResult, run
from .symmetry import axes_of
from .transfer import SourceAttributes, load_source_attributes, transfer_results
from .uv import lod0_uv_arrays

log = logging.getLogger(__name__)

USAGE = "usage: python -m engines.child IN.npz PARAMS.json OUT.npz"
# Engine processes yield the CPU to everything at normal priority: Blender's UI first, and the job that is
# running while another engine process loads its libraries (that load slowed a running remesh by a third).
NICENESS = 10
# The headless CLI sets it to 0: there is no UI to yield to, and the user picks the priority (`nice`).
NICENESS_ENV = "RETOPO_HUB_ENGINE_NICENESS"
# Progress lines closer together than this are dropped unless the message changes; keeps the pipe quiet.
PROGRESS_INTERVAL = 0.1


class _Protocol:
    """Writes the JSON-lines protocol through sys.stdout (which main points at the real stdout)."""

    def __init__(self) -> None:
        self._last_time = 0.0
        self._last_message = ""

    @staticmethod
    def emit(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if message == self._last_message and now - self._last_time < PROGRESS_INTERVAL:
            return
        self._last_time, self._last_message = now, message
        self.emit({"progress": round(float(fraction), 4), "message": one_line(message)})


@contextmanager
def _protocol_stdout() -> Iterator[None]:
    """Keep a private copy of the real stdout for protocol lines and silence fd 1 for native code."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved_stdout = sys.stdout
    stream: TextIO = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8", buffering=1)
    try:
        os.dup2(devnull, 1)
        sys.stdout = stream
        yield
    finally:
        with suppress(OSError, ValueError):
            stream.flush()
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        for fd in (saved_fd, devnull):
            os.close(fd)
        stream.close()


@contextmanager
def _cancel_on_sigterm() -> Iterator[list[bool]]:
    flag = [False]
    if not hasattr(signal, "SIGTERM") or not _is_main_thread():
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        flag[0] = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def load_params(path: str | os.PathLike[str]) -> EngineParams:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise EngineInputError(f"could not read engine parameters {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise EngineInputError(f"engine parameters in {path} must be a JSON object")
    return EngineParams.from_dict(data)


def load_feature_edges(path: str | os.PathLike[str]) -> np.ndarray | None:
    """The optional ``feature_edges`` (K, 2) array of IN.npz, or None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "feature_edges" not in data:
                return None
            edges = np.asarray(data["feature_edges"])
    except (OSError, ValueError) as exc:
        raise EngineInputError(f"could not read the mesh file {path}: {exc}") from exc
    if not np.issubdtype(edges.dtype, np.integer) or (edges.size and edges.reshape(-1).shape[0] % 2):
        raise EngineInputError("feature_edges must be an integer (K, 2) array of vertex index pairs")
    return edges.reshape(-1, 2)


def load_mesh(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            verts = np.asarray(data["verts"])
            if "tris" in data:
                return verts, np.asarray(data["tris"])
            sizes, corners = np.asarray(data["face_sizes"]), np.asarray(data["corner_verts"])
    except KeyError as exc:
        raise EngineInputError(
            f"{path} must hold 'verts' and 'tris' (or 'face_sizes' and 'corner_verts') arrays; missing {exc}"
        ) from exc
    except (OSError, ValueError) as exc:
        raise EngineInputError(f"could not read the mesh file {path}: {exc}") from exc
    return verts, MeshArrays(verts, sizes, corners).validate().triangles()


def result_arrays(
    results: Sequence[LodResult], attributes: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """The result file's arrays, plus ``attributes`` (``transfer.transfer_results``) when given."""
    arrays: dict[str, np.ndarray] = {"lod_count": np.asarray(len(results), dtype=np.int64)}
    for item in results:
        key = f"lod{item.lod}_"
        arrays[key + "verts"] = item.mesh.verts
        arrays[key + "face_sizes"] = item.mesh.face_sizes
        arrays[key + "corner_verts"] = item.mesh.corner_verts
        arrays[key + "switch_threshold"] = np.asarray(item.switch_threshold, dtype=np.float64)
        arrays[key + "error"] = np.asarray(item.error, dtype=np.float64)
        arrays[key + "sharp_edges"] = np.asarray(item.sharp_edges, dtype=np.int32).reshape(-1, 2)
    arrays.update(attributes or {})
    return arrays


def write_results(
    path: str | os.PathLike[str],
    results: Sequence[LodResult],
    attributes: dict[str, np.ndarray] | None = None,
) -> None:
    """Write OUT.npz atomically: temp file in the same folder, then os.replace."""
    final = Path(path)
    temp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        # Writing through an open handle stops np.savez from appending ".npz" to the temp name.
        with open(temp, "wb") as fh:
            np.savez(fh, **result_arrays(results, attributes))
            fh.flush()
            os.fsync(fh.fileno())
        temp.replace(final)
    except OSError as exc:
        with suppress(OSError):
            temp.unlink()
        raise EngineInputError(f"could not write the result file {final}: {exc}") from exc


def group_weights(attributes: SourceAttributes, name: str, vert_count: int) -> np.ndarray | None:
    """Each source vertex's weight in vertex group ``name`` (0 outside it), or None for no name; a name
    the source does not have is an EngineInputError naming the groups it has."""
    if not name:
        return None
    names = [] if attributes.group_names is None else [str(n) for n in attributes.group_names]
    if name not in names:
        have = f"its groups are {', '.join(repr(n) for n in names[:8])}" if names else "it has none"
        raise EngineInputError(
            f"the object has no vertex group {name!r} for Density Group ({have}): pick one or clear the field"
        )
    weights = np.zeros(vert_count)
    if attributes.has_weights:
        rows = attributes.weight_groups == names.index(name)
        weights[attributes.weight_verts[rows]] = attributes.weight_values[rows]
    return weights


def summary(results: Sequence[LodResult]) -> list[dict[str, Any]]:
    return [
        {
            "lod": item.lod,
            "faces": item.mesh.face_count,
            "quads": item.mesh.quad_count,
            "tris": item.mesh.tri_count,
            "verts": item.mesh.vert_count,
            "target_faces": item.target_faces,
            "switch_threshold": item.switch_threshold,
            "error": item.error,
            "engine": item.engine,
            **({"info": item.info} if item.info else {}),
        }
        for item in results
    ]


def _work(argv: Sequence[str], protocol: _Protocol, cancel_flag: list[bool]) -> int:
    in_path, params_path, out_path = argv
    params = load_params(params_path)
    verts, tris = load_mesh(in_path)
    protocol.progress(0.0, f"loaded {tris.shape[0]:,} triangles")
    marked = load_feature_edges(in_path)
    source_attributes = load_source_attributes(in_path, tris.shape[0])
    made: dict[str, Any] = {}
    mirror = axes_of(params.symmetry) if params.uv_mirror else ()  # shared mirror UVs (uvmirror.py)

    def lod0_look(lod0: LodResult) -> Look | None:
        """LOD0's materials and UVs, made before its LoDs so that they keep them (lodlook.py)."""
        protocol.progress(0.8, "carrying materials over and unwrapping LOD0")
        made["lod0"] = transfer_results(
            verts, tris, source_attributes, [(lod0.mesh, lod0.sharp_edges)], cancelled=lambda: cancel_flag[0]
        )
        if params.uv:
            made["uv"] = lod0_uv_arrays(lod0.mesh, made["lod0"], mirror)
        uvs = made["uv"][0].get("lod0_uvs") if "uv" in made else None
        materials = made["lod0"].get("lod0_face_materials") if source_attributes.mixed_materials else None
        return Look.of(lod0.mesh, uvs, materials) if uvs is not None or materials is not None else None

    results = run(
        params,
        verts,
        tris,
        progress=protocol.progress,
        cancelled=lambda: cancel_flag[0],
        marked_edges=marked,
        # Without UVs or mixed materials there is no look to keep, and the LoDs may start before LOD0 is
        # done, on the second core (pipeline.run's ``workers``; branch.py).
        dress=lod0_look if params.uv or source_attributes.mixed_materials else None,
        workers=2 if (os.cpu_count() or 1) >= 2 else 1,
        density_weights=group_weights(source_attributes, params.density_group, verts.shape[0]),
    )
    protocol.progress(1.0, "carrying materials, vertex groups and hard edges over")
    done = 1 if "lod0" in made else 0
    attributes = {
        **made.get("lod0", {}),
        **transfer_results(
            verts,
            tris,
            source_attributes,
            [(item.mesh, item.sharp_edges) for item in results[done:]],
            cancelled=lambda: cancel_flag[0],
            first_lod=done,
        ),
    }
    for item in results[1:]:  # a look-keeping LoD's own slots and UVs (lodlook.py)
        if item.face_materials is not None:
            attributes[f"lod{item.lod}_face_materials"] = item.face_materials
        if item.corner_uvs is not None:
            attributes[f"lod{item.lod}_uvs"] = item.corner_uvs
    warnings = [line for item in results for line in item.warnings]
    if params.uv and results:
        if "uv" not in made:
            protocol.progress(1.0, "unwrapping LOD0")
            made["uv"] = lod0_uv_arrays(results[0].mesh, attributes, mirror)
        uv_arrays, uv_stats, uv_warning = made["uv"]
        attributes.update(uv_arrays)
        if uv_stats is not None:
            results[0] = replace(results[0], info={**results[0].info, "uv": uv_stats})
        warnings += [uv_warning] if uv_warning else []
    write_results(out_path, results, attributes)
    protocol.emit({"done": True, "lods": summary(results), **({"warnings": warnings} if warnings else {})})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one job; returns the process exit code (0 ok, 2 engine error, 1 internal error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    protocol = _Protocol()
    with _protocol_stdout(), _cancel_on_sigterm() as cancel_flag:
        if len(args) != 3:
            protocol.emit({"error": USAGE})
            return 2
        try:
            return _work(args, protocol, cancel_flag)
        except EngineCancelled as exc:
            protocol.emit({"error": one_line(str(exc)), "cancelled": True})
            return 2
        except EngineUnavailable as exc:
            # The Blender side falls back to its own Decimate/QuadriFlow on this flag.
            protocol.emit({"error": one_line(str(exc)), "unavailable": True})
            return 2
        except EngineError as exc:
            protocol.emit({"error": one_line(str(exc))})
            return 2
        except Exception as exc:
            log.exception("engine child failed")
            protocol.emit({"error": one_line(f"internal error: {type(exc).__name__}: {exc}")})
            return 1


def run_process(entry: Callable[[], int]) -> None:
    """Be an engine process: logs to stderr, a lower priority, ``entry()``'s exit code (never returns)."""
    # Logs go to stderr (stdout is the protocol); RETOPO_HUB_ENGINE_LOG=DEBUG shows the stage timings.
    level_name = os.environ.get("RETOPO_HUB_ENGINE_LOG", "WARNING").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level_name, logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Only the process entry lowers its priority: main() may also run inside a caller's process.
    if hasattr(os, "nice"):
        with suppress(OSError):
            os.nice(int(os.environ.get(NICENESS_ENV, "") or NICENESS))
    exit_code = entry()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # The result file is written and synced and the last protocol line sent: skipping the interpreter's
    # teardown (freeing every numpy array and module) ends the process about 25 ms sooner, and the parent
    # waits for the exit.
    os._exit(exit_code)


if __name__ == "__main__":
    run_process(main)
