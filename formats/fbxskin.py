# SPDX-License-Identifier: GPL-3.0-or-later
"""The skin of an FBX LOD group (formats/fbxlod.py): ``skin_nodes``.

Contract: ``skin_nodes(skeleton, meshes, first_id)`` returns ``(objects, links, counts)``: the FBX objects,
the (child, parent) object links and the Definitions counts of an armature that deforms ``meshes``, each a
``(model_id, geometry_id, name, joints, weights)`` of one level whose Model is a child of the LOD group's
Model (``joints``/``weights``: a ``formats.skeleton`` pair per vertex of its geometry). Ids are handed out
from ``first_id`` on. What is written, as Blender's FBX exporter lays out an armature:
- a ``Null`` Model named ``skeleton.root`` at the scene's root, turned from Z-up to Y-up as the group is, with
  one ``LimbNode`` Model per bone under it (children under their parent bone) and a NodeAttribute each; bone
  transforms are in centimetres with no scale of their own (Lcl Translation, Euler XYZ Lcl Rotation, Lcl
  Scaling), so the metre-to-centimetre scale the group's Model carries stays out of the bones;
- per mesh, a ``Skin`` Deformer on its Geometry with one ``Cluster`` per bone that weighs any of its vertices
  (``Indexes``, ``Weights``; ``TransformLink`` the bone's global rest matrix, ``Transform`` its inverse times
  the mesh's global matrix, the FBX SDK's convention);
- one ``BindPose`` with the global rest matrix of every mesh, the armature and every bone.
Matrices are written as FBX stores them (translation in elements 12-14). Pure Python + numpy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .fbx import (
    _METRES_TO_CM,
    _doubles,
    _f64,
    _i32,
    _i64,
    _ints,
    _named,
    _Node,
    _properties,
    _str,
    model_node,
)
from .mesh import Y_UP_MATRIX
from .skeleton import Skeleton

Mesh = tuple[int, int, str, np.ndarray, np.ndarray]


# The LOD group's Model turns the Z-up metre data into FBX's Y-up centimetre scene (formats/fbx.py).
_MESH_GLOBAL = Y_UP_MATRIX @ np.diag([_METRES_TO_CM] * 3 + [1.0])


def _fbx_matrix(matrix: np.ndarray) -> bytes:
    return _doubles(np.ascontiguousarray(matrix.T).ravel())


def _euler_xyz(rotation: np.ndarray) -> tuple[float, float, float]:
    """FBX's default rotation order: X first, then Y, then Z (R = Rz Ry Rx), in degrees."""
    y = math.asin(max(-1.0, min(1.0, -rotation[2, 0])))
    if abs(rotation[2, 0]) < 1.0 - 1e-9:
        x, z = math.atan2(rotation[2, 1], rotation[2, 2]), math.atan2(rotation[1, 0], rotation[0, 0])
    else:  # gimbal lock: only x - z or x + z is known; put it all in z
        x, z = 0.0, math.atan2(-rotation[0, 1], rotation[1, 1])
    return math.degrees(x), math.degrees(y), math.degrees(z)


def _model(uid: int, name: str, kind: str, local: np.ndarray) -> _Node:
    scale = np.linalg.norm(local[:3, :3], axis=0)
    return model_node(name, uid, kind, [
        ("Lcl Translation", "Lcl Translation", "", "A", *map(_f64, local[:3, 3])),
        ("Lcl Rotation", "Lcl Rotation", "", "A", *map(_f64, _euler_xyz(local[:3, :3] / scale))),
        ("Lcl Scaling", "Lcl Scaling", "", "A", *map(_f64, scale)),
    ])  # fmt: skip


def _attribute(uid: int, name: str, kind: str, flags: str) -> _Node:
    attribute = _Node(b"NodeAttribute", [_i64(uid), _named(name, b"NodeAttribute"), _str(kind)])
    _properties(attribute, [("Size", "double", "Number", "", _f64(1.0))] if kind == "LimbNode" else [])
    attribute.add("TypeFlags", _str(flags))
    return attribute


def _cluster(uid: int, bone: str, indexes: np.ndarray, weights: np.ndarray, link: np.ndarray) -> _Node:
    cluster = _Node(b"Deformer", [_i64(uid), _named(bone, b"SubDeformer"), _str("Cluster")])
    cluster.add("Version", _i32(100))
    cluster.add("UserData", _str(""), _str(""))
    cluster.add("Indexes", _ints(indexes))
    cluster.add("Weights", _doubles(weights))
    cluster.add("Transform", _fbx_matrix(np.linalg.inv(link) @ _MESH_GLOBAL))
    cluster.add("TransformLink", _fbx_matrix(link))
    return cluster


def skin_nodes(
    skeleton: Skeleton, meshes: Sequence[Mesh], first_id: int
) -> tuple[list, list, dict[str, Any]]:
    bones = skeleton.checked()
    ids = itertools.count(first_id)
    # Bones keep the rig's rotations and scale; only their positions go to centimetres.
    centimetres = np.diag([_METRES_TO_CM] * 3 + [1.0])
    world = np.einsum("ij,njk,kl->nil", Y_UP_MATRIX @ centimetres, bones.rest, np.linalg.inv(centimetres))
    armature_id, armature_attribute = next(ids), next(ids)
    objects = [
        _model(armature_id, bones.root, "Null", Y_UP_MATRIX),
        _attribute(armature_attribute, bones.root, "Null", "Null"),
    ]
    links = [(armature_id, 0), (armature_attribute, armature_id)]
    bone_ids = []
    for number, (name, parent) in enumerate(zip(bones.names, bones.parents, strict=True)):
        local = np.linalg.solve(Y_UP_MATRIX if parent < 0 else world[parent], world[number])
        bone_ids.append(next(ids))
        attribute_id = next(ids)
        objects += [
            _model(bone_ids[-1], name, "LimbNode", local),
            _attribute(attribute_id, name, "LimbNode", "Skeleton"),
        ]
        links += [
            (bone_ids[-1], armature_id if parent < 0 else bone_ids[parent]),
            (attribute_id, bone_ids[-1]),
        ]
    pose = _Node(b"Pose", [_i64(next(ids)), _named("BindPose", b"Pose"), _str("BindPose")])
    pose.add("Type", _str("BindPose"))
    pose.add("Version", _i32(100))
    poses = [(model_id, _MESH_GLOBAL) for model_id, *_rest in meshes]
    poses += [(armature_id, Y_UP_MATRIX), *zip(bone_ids, world, strict=True)]
    pose.add("NbPoseNodes", _i32(len(poses)))
    for node_id, matrix in poses:
        entry = pose.add("PoseNode")
        entry.add("Node", _i64(node_id))
        entry.add("Matrix", _fbx_matrix(matrix))
    objects.append(pose)
    deformers = 0
    for _model_id, geometry_id, name, joints, weights in meshes:
        skin_id = next(ids)
        skin = _Node(b"Deformer", [_i64(skin_id), _named(name, b"Deformer"), _str("Skin")])
        skin.add("Version", _i32(101))
        skin.add("Link_DeformAcuracy", _f64(50.0))
        objects.append(skin)
        links.append((skin_id, geometry_id))
        deformers += 1
        for number, name_of_bone in enumerate(bones.names):
            used = (joints == number) & (weights > 0)
            if not used.any():
                continue
            cluster_id = next(ids)
            vertex, slot = np.nonzero(used)
            objects.append(_cluster(cluster_id, name_of_bone, vertex, weights[vertex, slot], world[number]))
            links += [(cluster_id, skin_id), (bone_ids[number], cluster_id)]
            deformers += 1
    counts = {"Model": len(bones.names) + 1, "NodeAttribute": len(bones.names) + 1, "Deformer": deformers,
              "Pose": 1}  # fmt: skip
    return objects, links, counts
