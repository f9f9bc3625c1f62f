# SPDX-License-Identifier: GPL-3.0-or-later
"""Binary glTF 2.0 of a LoD chain: ``write_lod_glb`` (geometry only).

Contract: ``levels`` are ``(name, verts, face_sizes, corner_verts)`` in ``formats.mesh``'s layout (Blender
Z-up, written Y-up), LOD0 first; each becomes one mesh (one fan-triangulated primitive, uint32 indices) and
one node of that name. With ``screen_coverage`` (one value per level: the coverage below which it gives way
to the next, the last level's being where nothing is drawn; see core/lodmath.py) the file uses
``MSFT_lod``: LOD0's node lists the other levels' nodes in its extension's ``ids`` and carries
``extras.MSFT_screencoverage``; only LOD0's node is in the scene, so a viewer without the extension shows
LOD0 alone (the extension's README in KhronosGroup/glTF, extensions/2.0/Vendor/MSFT_lod). Without it every
level is a root node of the scene, side by side at the same place (what Godot's .tscn package instances).
Writes are atomic; malformed arrays raise ValueError. Pure Python + numpy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .glb import _fan_corners, pack_glb
from .mesh import PathLike, check_mesh, convert_axes

Level = tuple[str, Any, Any, Any]


def _check_coverages(coverages: Sequence[float], count: int) -> list[float]:
    values = [float(c) for c in coverages]
    if len(values) != count:
        raise ValueError(f"MSFT_screencoverage needs one value per level, {count} (got {len(values)})")
    if any(not math.isfinite(c) or not 0.0 <= c <= 1.0 for c in values):
        raise ValueError(f"screen coverages must be from 0 to 1 (got {values})")
    if any(b > a for a, b in itertools.pairwise(values)):
        raise ValueError(f"screen coverages must not rise from one level to the next (got {values})")
    return values


def write_lod_glb(
    path: PathLike | None,
    levels: Sequence[Level],
    *,
    screen_coverage: Sequence[float] | None = None,
    y_up: bool = True,
) -> bytes:
    """Build the .glb of ``levels`` (see the module contract), write it to ``path`` when given, return it."""
    if not levels:
        raise ValueError("a LoD chain needs at least one level")
    coverages = None if screen_coverage is None else _check_coverages(screen_coverage, len(levels))
    blobs: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []
    meshes: list[dict] = []
    nodes: list[dict] = []
    offset = 0

    def add_view(blob: bytes, target: int) -> int:
        nonlocal offset
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob), "target": target})
        blobs.append(blob + b"\0" * (-len(blob) % 4))  # every view starts 4-byte aligned
        offset += len(blobs[-1])
        return len(views) - 1

    for name, verts, face_sizes, corner_verts in levels:
        v, sizes, corners, _uvs = check_mesh(verts, face_sizes, corner_verts)
        if sizes.size == 0:
            raise ValueError(f"glTF cannot store a mesh without faces ({name})")
        used, indices = np.unique(corners[_fan_corners(sizes)].ravel(), return_inverse=True)
        positions = convert_axes(v[used], True) if y_up else np.ascontiguousarray(v[used], dtype=np.float32)
        position_view = add_view(positions.tobytes(), 34962)
        index_view = add_view(indices.astype(np.uint32).tobytes(), 34963)
        accessors.append({"bufferView": position_view, "componentType": 5126, "count": len(positions),
                          "type": "VEC3", "min": positions.min(axis=0).tolist(),
                          "max": positions.max(axis=0).tolist()})  # fmt: skip
        accessors.append(
            {"bufferView": index_view, "componentType": 5125, "count": int(indices.size), "type": "SCALAR"}
        )
        primitive = {"attributes": {"POSITION": len(accessors) - 2}, "indices": len(accessors) - 1, "mode": 4}
        meshes.append({"name": str(name), "primitives": [primitive]})
        nodes.append({"name": str(name), "mesh": len(meshes) - 1})
    doc: dict[str, Any] = {"asset": {"version": "2.0", "generator": "Retopo Hub"}, "scene": 0}
    if coverages is not None and len(levels) > 1:
        nodes[0]["extensions"] = {"MSFT_lod": {"ids": list(range(1, len(levels)))}}
        nodes[0]["extras"] = {"MSFT_screencoverage": coverages}
        doc["extensionsUsed"] = ["MSFT_lod"]
        doc["scenes"] = [{"nodes": [0]}]
    else:
        doc["scenes"] = [{"nodes": list(range(len(nodes)))}]
    doc |= {"nodes": nodes, "meshes": meshes, "accessors": accessors, "bufferViews": views}
    doc["buffers"] = [{"byteLength": offset}]
    return pack_glb(doc, b"".join(blobs), path)
