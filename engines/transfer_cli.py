# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m engines.transfer_cli SOURCE.npz MESHES.npz OUT.npz``: ``transfer`` for meshes the engine did
not make (a cloud service's results, from the worker host).

Contract: SOURCE.npz is the job's snapshot file (as the engine child reads it); MESHES.npz holds
``lod_count`` and ``lod{i}_verts``/``_face_sizes``/``_corner_verts``; OUT.npz gets what
``transfer.transfer_results`` gives, written to a temporary name beside it and moved into place. Stdout
carries one JSON line: ``{"done": true}`` or ``{"error": ...}``. Exit code 0, 2 for an ``EngineError`` (the
message is for the user), 1 for anything else. Imports the stdlib, numpy and the engine's own modules only;
never touches bpy.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .child import load_mesh
from .errors import EngineError, EngineInputError, one_line
from .meshdata import MeshArrays
from .transfer import load_source_attributes, transfer_results

log = logging.getLogger(__name__)


def _read_levels(path: str | os.PathLike[str]) -> list[tuple[MeshArrays, None]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            count = int(data["lod_count"])
            levels = [
                MeshArrays(data[f"lod{i}_verts"], data[f"lod{i}_face_sizes"], data[f"lod{i}_corner_verts"])
                for i in range(count)
            ]
    except (OSError, ValueError, KeyError) as exc:
        raise EngineInputError(f"could not read the result meshes {path}: {exc}") from exc
    return [(mesh.validate(), None) for mesh in levels]


def main(argv: Sequence[str] | None = None) -> int:
    """Carry the attributes over to meshes made elsewhere; returns the exit code (module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(args) != 3:
            raise EngineInputError("usage: python -m engines.transfer_cli SOURCE.npz MESHES.npz OUT.npz")
        source, meshes, out = args
        verts, tris = load_mesh(source)
        arrays = transfer_results(
            verts, tris, load_source_attributes(source, tris.shape[0]), _read_levels(meshes)
        )
        final = Path(out)
        temp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        with open(temp, "wb") as fh:  # through a handle, so np.savez keeps the temporary name
            np.savez(fh, **arrays)
        temp.replace(final)
    except EngineError as exc:
        _say({"error": one_line(str(exc))})
        return 2
    except Exception as exc:
        log.exception("attribute transfer failed")
        _say({"error": one_line(f"internal error: {type(exc).__name__}: {exc}")})
        return 1
    _say({"done": True})
    return 0


def _say(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    sys.exit(main())
