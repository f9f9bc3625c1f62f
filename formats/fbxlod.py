# SPDX-License-Identifier: GPL-3.0-or-later
"""Binary FBX 7.4 of a LoD chain as one FBX LOD group: ``write_lod_fbx``.

Contract: ``levels`` are ``(name, verts, face_sizes, corner_verts)`` in ``formats.mesh``'s layout, LOD0 first,
optionally followed by ``corner_uvs``, ``face_materials``, ``material_names`` and ``corner_normals`` (each may
be None or empty): a level's UVs become its UV layer, its normals its per-corner normals (without them an
importer computes its own, and Unreal's warns that the file has no smoothing groups), its slots Material
objects connected to its Model in slot order (a material named in several levels is one Material object,
shared). The file holds one Model of type ``LodGroup`` named ``group_name`` with a ``LodGroup`` node
attribute, and one Mesh Model child per level in that order, which is how the FBX SDK (and Unreal's FBX
importer, with *Import Mesh LODs*) knows a LOD group: child i is LOD i. ``switch_distances`` (object units,
one per level, LOD0's 0) become the attribute's ``Thresholds|Level<i>`` (centimetres, the distance from which
child i + 1 is shown). The axes, units and the rest of the scene are formats/fbx.py's: Z-up metre vertices,
the Y-up centimetre conversion carried by the group's Model. With ``skeleton`` and ``skin_weights`` (per
level, ``(joints, weights)`` per vertex: formats/skeleton.py) every level is skinned to that armature, a root
of the scene beside the group (formats/fbxskin.py), as Unreal imports a Skeletal Mesh's LODs. Blender's own
FBX exporter cannot write a LOD group, hence this writer. Malformed arrays raise ValueError; written
atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .fbx import (
    _METRES_TO_CM,
    Y_UP_ROWS,
    PathLike,
    _check_name,
    _documents,
    _f64,
    _geometry,
    _header,
    _i32,
    _i64,
    _material,
    _named,
    _Node,
    _properties,
    _str,
    _write_file,
    definitions_node,
    model_node,
)
from .fbxskin import skin_nodes
from .mesh import check_mesh, check_normals, material_slots
from .skeleton import Skeleton, check_skin_arguments

Level = tuple[Any, ...]
_SKIN_IDS = 10_000_000  # the skin's objects are numbered from here, clear of the levels' and materials' ids


def _model(name: str, uid: int, kind: str, *, convert_axes: bool) -> _Node:
    return model_node(name, uid, kind, Y_UP_ROWS if convert_axes else [])


def _lod_attribute(uid: int, distances: Sequence[float]) -> _Node:
    attribute = _Node(b"NodeAttribute", [_i64(uid), _named("", b"NodeAttribute"), _str("LodGroup")])
    rows: list[tuple] = [("MinMaxDistance", "bool", "", "", _i32(0)), ("WorldSpace", "bool", "", "", _i32(0))]
    for level, distance in enumerate(distances[1:]):
        rows.append(
            (f"Thresholds|Level{level}", "Distance", "", "", _f64(distance * _METRES_TO_CM), _str("cm"))
        )
    _properties(attribute, rows)
    attribute.add("TypeFlags", _str("LodGroup"))
    return attribute


def _definitions(levels: int, materials: int, skin: dict[str, int]) -> _Node:
    return definitions_node([
        ("GlobalSettings", 1), ("NodeAttribute", 1 + skin.get("NodeAttribute", 0)), ("Geometry", levels),
        ("Model", levels + 1 + skin.get("Model", 0)), ("Material", materials),
        ("Deformer", skin.get("Deformer", 0)), ("Pose", skin.get("Pose", 0)),
    ])  # fmt: skip


def write_lod_fbx(
    path: PathLike,
    levels: Sequence[Level],
    switch_distances: Sequence[float],
    *,
    group_name: str = "LODGroup",
    creator: str = "Retopo Hub",
    skeleton: Skeleton | None = None,
    skin_weights: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    if not levels:
        raise ValueError("a LOD group needs at least one level")
    check_skin_arguments(skeleton, skin_weights, len(levels))
    distances = [float(d) for d in switch_distances]
    if len(distances) != len(levels) or any(not math.isfinite(d) or d < 0 for d in distances):
        raise ValueError(f"one finite switch distance from 0 per level is needed (got {distances})")
    group = " ".join(_check_name(group_name, "group name").split()) or "LODGroup"
    document_id, attribute_id, group_id = 1000, 1001, 1002
    objects = _Node(b"Objects")
    objects.children += [_lod_attribute(attribute_id, distances), _model(group, group_id, "LodGroup",
                                                                         convert_axes=True)]  # fmt: skip
    links = [(group_id, 0), (attribute_id, group_id)]
    material_ids: dict[str, int] = {}
    skinned: list = []
    for number, level in enumerate(levels):
        name, verts, face_sizes, corner_verts = level[:4]
        corner_uvs, face_materials, material_names, corner_normals = (*level[4:], None, None, (), None)[:4]
        v, sizes, cv, uvs = check_mesh(verts, face_sizes, corner_verts, corner_uvs)
        normals = check_normals(corner_normals, cv.size)
        if sizes.size == 0:
            raise ValueError(f"LOD {number} has no faces")
        if len(v) > np.iinfo(np.int32).max or cv.size > np.iinfo(np.int32).max:
            raise ValueError("FBX 7.4 indexes vertices with 32-bit integers: a level is too large")
        level_name = " ".join(_check_name(name, "level name").split()) or f"LOD{number}"
        geometry_id, model_id = 2000 + 2 * number, 2001 + 2 * number
        materials, per_face = material_slots(face_materials, material_names or (), sizes.size)
        objects.children += [_geometry(level_name, geometry_id, v, sizes, cv, uvs, per_face, normals),
                             _model(level_name, model_id, "Mesh", convert_axes=False)]  # fmt: skip
        links += [(model_id, group_id), (geometry_id, model_id)]
        if skin_weights is not None:
            joints, weights = (np.asarray(a) for a in skin_weights[number])
            if joints.shape != weights.shape or joints.ndim != 2 or len(joints) != len(v):
                raise ValueError(f"LOD {number}'s skin weights need one row per vertex ({len(v)})")
            skinned.append((model_id, geometry_id, level_name, joints, weights))
        for material in materials:  # connected in slot order: the face indices count in that order
            if material not in material_ids:
                material_ids[material] = 3000 + len(material_ids)
                objects.children.append(
                    _material(_check_name(material, "material name"), material_ids[material])
                )
            links.append((material_ids[material], model_id))
    skin_counts: dict[str, int] = {}
    if skeleton is not None:
        skin_objects, skin_links, skin_counts = skin_nodes(skeleton, skinned, _SKIN_IDS)
        objects.children += skin_objects
        links += skin_links
    connections = _Node(b"Connections")
    for child, parent in links:  # children connect in LOD order: child i is LOD i
        connections.add("C", _str("OO"), _i64(child), _i64(parent))
    takes = _Node(b"Takes")
    takes.add("Current", _str(""))
    top = [
        *_header(creator),
        *_documents(document_id),
        _definitions(len(levels), len(material_ids), skin_counts),
        objects,
        connections,
        takes,
    ]
    _write_file(path, top)
