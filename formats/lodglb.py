# SPDX-License-Identifier: GPL-3.0-or-later
"""Binary glTF 2.0 of a LoD chain: ``write_lod_glb``.

Contract: ``levels`` are ``(name, verts, face_sizes, corner_verts)`` in ``formats.mesh``'s layout (Blender
Z-up, written Y-up), LOD0 first, optionally followed by ``corner_uvs``, ``face_materials``, ``material_names``
and ``corner_normals`` (each may be None or empty); each becomes one mesh (fan-triangulated, uint32 indices;
one primitive per material it uses, all sharing its vertices) and one node of that name. UVs become
``TEXCOORD_0``, normals ``NORMAL`` and tangents ``TANGENT`` (with UVs and normals only; xyz and the
bitangent's sign, as Blender's MikkTSpace gives them and its own glTF exporter writes them), vertices split
only where their corners' UVs, normals or tangents differ (without normals, glTF viewers shade every face
flat); materials are named glTF materials, one per name across the levels. With ``screen_coverage`` (one value
per level: the coverage below which it gives way to the next, the last level's being where nothing is drawn;
see core/lodmath.py) the file uses ``MSFT_lod``: LOD0's node lists the other levels' nodes in its extension's
``ids`` and carries ``extras.MSFT_screencoverage``; only LOD0's node is in the scene, so a viewer without the
extension shows LOD0 alone (the extension's README in KhronosGroup/glTF, extensions/2.0/Vendor/MSFT_lod).
Without it every level is a root node of the scene, side by side at the same place (what Godot's .tscn package
instances). ``maps`` (``{"color"|"normal"|"ao": PNG bytes}``, the normal map in OpenGL's green) are embedded
and every material uses them (one material for all primitives when the levels name none). With ``skeleton``
and ``skin_weights`` (per level, ``(joints, weights)`` per vertex: formats/gltfskin.py) every level is skinned
by one skin whose armature node is a root of the scene. Writes are atomic; malformed arrays raise ValueError.
Pure Python + numpy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .glb import _fan_corners, add_textures, check_pngs, pack_glb
from .gltfskin import add_skin
from .mesh import PathLike, check_mesh, check_normals, check_tangents, convert_axes, material_slots
from .skeleton import Skeleton, check_skin_arguments

Level = tuple[Any, ...]


def _check_coverages(coverages: Sequence[float], count: int) -> list[float]:
    values = [float(c) for c in coverages]
    if len(values) != count:
        raise ValueError(f"MSFT_screencoverage needs one value per level, {count} (got {len(values)})")
    if any(not math.isfinite(c) or not 0.0 <= c <= 1.0 for c in values):
        raise ValueError(f"screen coverages must be from 0 to 1 (got {values})")
    if any(b > a for a, b in itertools.pairwise(values)):
        raise ValueError(f"screen coverages must not rise from one level to the next (got {values})")
    return values


def _row_ids(values: np.ndarray) -> np.ndarray:
    """One id per distinct row of ``values`` (rows compared bit for bit), int64 (N,)."""
    rows = np.ascontiguousarray(values).view(np.dtype((np.void, values.itemsize * values.shape[1])))
    return np.unique(rows.ravel(), return_inverse=True)[1].ravel().astype(np.int64)


def _level_mesh(level: Level, add_view, accessors: list[dict], material_index: dict[str, int], y_up: bool,
                weights=None):  # fmt: skip
    """The glTF mesh of one level, its buffers added through ``add_view`` and ``accessors``; ``weights``:
    its skin's ``(joints, weights)`` per vertex of ``verts``."""
    name, verts, face_sizes, corner_verts = level[:4]
    corner_uvs, face_materials, material_names, corner_normals, corner_tangents = (
        *level[4:], None, None, (), None, None)[:5]  # fmt: skip
    v, sizes, corners, uvs = check_mesh(verts, face_sizes, corner_verts, corner_uvs)
    normals = check_normals(corner_normals, corners.size)
    # glTF takes tangents only beside normals, and they follow the UVs.
    tangents = (
        check_tangents(corner_tangents, corners.size) if normals is not None and uvs is not None else None
    )
    if sizes.size == 0:
        raise ValueError(f"glTF cannot store a mesh without faces ({name})")
    fans = _fan_corners(sizes)
    # One written vertex per distinct (vertex, UV, normal, tangent) of the corners.
    key = corners
    for values in (uvs, normals, tangents):
        if values is not None:
            value_id = _row_ids(values)
            key = np.unique(key * (int(value_id.max()) + 1) + value_id, return_inverse=True)[1].ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    source = corners[first]
    positions, indices = v[source], inverse.ravel()[fans]
    # glTF's v runs from the top.
    texcoords = None if uvs is None else uvs[first] * np.float32([1, -1]) + np.float32([0, 1])
    indices = indices.reshape(-1, 3)
    positions = convert_axes(positions, True) if y_up else np.ascontiguousarray(positions, np.float32)
    accessors.append({"bufferView": add_view(positions.tobytes(), 34962), "componentType": 5126,
                      "count": len(positions), "type": "VEC3", "min": positions.min(axis=0).tolist(),
                      "max": positions.max(axis=0).tolist()})  # fmt: skip
    attributes = {"POSITION": len(accessors) - 1}
    if normals is not None:
        written = convert_axes(normals[first], True) if y_up else normals[first]
        accessors.append({"bufferView": add_view(written.tobytes(), 34962), "componentType": 5126,
                          "count": len(written), "type": "VEC3"})  # fmt: skip
        attributes["NORMAL"] = len(accessors) - 1
    if tangents is not None:
        written = tangents[first]
        if y_up:
            written = np.concatenate([convert_axes(written[:, :3], True), written[:, 3:]], axis=1)
        accessors.append({"bufferView": add_view(written.tobytes(), 34962), "componentType": 5126,
                          "count": len(written), "type": "VEC4"})  # fmt: skip
        attributes["TANGENT"] = len(accessors) - 1
    if texcoords is not None:
        accessors.append({"bufferView": add_view(texcoords.tobytes(), 34962), "componentType": 5126,
                          "count": len(texcoords), "type": "VEC2"})  # fmt: skip
        attributes["TEXCOORD_0"] = len(accessors) - 1
    if weights is not None:
        attributes |= _skin_attributes(weights, source, len(v), add_view, accessors)
    materials, per_face = material_slots(face_materials, material_names or (), sizes.size)
    tri_material = None if per_face is None else np.repeat(per_face, sizes - 2)
    primitives = []
    for local, material in enumerate(materials or [None]):
        chosen = indices if tri_material is None else indices[tri_material == local]
        if chosen.size == 0:
            continue
        accessors.append({"bufferView": add_view(chosen.astype(np.uint32).tobytes(), 34963),
                          "componentType": 5125, "count": int(chosen.size), "type": "SCALAR"})  # fmt: skip
        primitive = {"attributes": dict(attributes), "indices": len(accessors) - 1, "mode": 4}
        if material is not None:
            primitive["material"] = material_index.setdefault(material, len(material_index))
        primitives.append(primitive)
    return {"name": str(name), "primitives": primitives}


def _skin_attributes(weights, source: np.ndarray, vertex_count: int, add_view, accessors: list[dict]) -> dict:
    """``JOINTS_0`` and ``WEIGHTS_0`` of the written vertices (``source``: the level vertex each one is)."""
    joints, values = (np.asarray(a) for a in weights)
    if joints.shape != values.shape or joints.ndim != 2 or len(joints) != vertex_count or joints.shape[1] > 4:
        raise ValueError(f"skin weights need up to 4 joints and weights per vertex ({vertex_count} vertices)")
    padded_joints = np.zeros((vertex_count, 4), dtype=np.uint16)
    padded_values = np.zeros((vertex_count, 4), dtype=np.float32)
    padded_joints[:, : joints.shape[1]], padded_values[:, : values.shape[1]] = joints, values
    padded_joints[padded_values == 0] = 0  # glTF wants an unused influence's joint to be 0
    out = {}
    for key, array, component in (("JOINTS_0", padded_joints, 5123), ("WEIGHTS_0", padded_values, 5126)):
        data = np.ascontiguousarray(array[source])
        accessors.append({"bufferView": add_view(data.tobytes(), 34962), "componentType": component,
                          "count": len(data), "type": "VEC4"})  # fmt: skip
        out[key] = len(accessors) - 1
    return out


def write_lod_glb(
    path: PathLike | None,
    levels: Sequence[Level],
    *,
    screen_coverage: Sequence[float] | None = None,
    y_up: bool = True,
    maps: dict[str, bytes] | None = None,
    skeleton: Skeleton | None = None,
    skin_weights: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> bytes:
    """Build the .glb of ``levels`` (see the module contract), write it to ``path`` when given, return it."""
    check_skin_arguments(skeleton, skin_weights, len(levels))
    pngs = check_pngs(maps)
    if not levels:
        raise ValueError("a LoD chain needs at least one level")
    coverages = None if screen_coverage is None else _check_coverages(screen_coverage, len(levels))
    blobs: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []
    meshes: list[dict] = []
    nodes: list[dict] = []
    offset = 0

    def add_view(blob: bytes, target: int | None) -> int:
        nonlocal offset
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob)})
        if target is not None:  # images have no GPU buffer target
            views[-1]["target"] = target
        blobs.append(blob + b"\0" * (-len(blob) % 4))  # every view starts 4-byte aligned
        offset += len(blobs[-1])
        return len(views) - 1

    material_index: dict[str, int] = {}
    for number, level in enumerate(levels):
        weights = None if skin_weights is None else skin_weights[number]
        meshes.append(_level_mesh(level, add_view, accessors, material_index, y_up, weights))
        nodes.append({"name": meshes[-1]["name"], "mesh": len(meshes) - 1})
        if weights is not None:
            nodes[-1]["skin"] = 0
    doc: dict[str, Any] = {"asset": {"version": "2.0", "generator": "Retopo Hub"}, "scene": 0}
    rig_roots: list[int] = []
    if skeleton is not None:

        def add_matrices(matrices: np.ndarray) -> int:
            accessors.append({"bufferView": add_view(matrices.tobytes(), None), "componentType": 5126,
                              "count": len(matrices), "type": "MAT4"})  # fmt: skip
            return len(accessors) - 1

        skin, rig_roots = add_skin(nodes, skeleton, y_up, add_matrices)
        doc["skins"] = [skin]
    if coverages is not None and len(levels) > 1:
        nodes[0]["extensions"] = {"MSFT_lod": {"ids": list(range(1, len(levels)))}}
        nodes[0]["extras"] = {"MSFT_screencoverage": coverages}
        doc["extensionsUsed"] = ["MSFT_lod"]
        doc["scenes"] = [{"nodes": [0, *rig_roots]}]
    else:
        doc["scenes"] = [{"nodes": [*range(len(levels)), *rig_roots]}]
    doc |= {"nodes": nodes, "meshes": meshes, "accessors": accessors, "bufferViews": views}
    if pngs and not material_index:  # the maps need a material: one for every primitive
        material_index[f"{nodes[0]['name']}_material"] = 0
        for mesh in meshes:
            for primitive in mesh["primitives"]:
                primitive["material"] = 0
    body: dict = {}
    if pngs:
        body = add_textures(doc, [role for role, _png in pngs], [add_view(png, None) for _role, png in pngs])
    if material_index:
        doc["materials"] = [{"name": name, **body} for name in material_index]
    doc["buffers"] = [{"byteLength": offset}]
    return pack_glb(doc, b"".join(blobs), path)
