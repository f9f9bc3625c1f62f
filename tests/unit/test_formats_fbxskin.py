# SPDX-License-Identifier: GPL-3.0-or-later
"""The skin of an FBX LOD group (formats/fbxskin.py through formats/fbxlod.py), read back with the test FBX
reader: the hierarchy Unreal wants, bones whose Lcl transforms compose to their bind matrices, and clusters
that put every vertex back where it is at rest. Blender's importer reads it back and bends a bone in
tests/blender/test_rigged_packages.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from retopo_hub.formats.fbxlod import write_lod_fbx
from retopo_hub.formats.skeleton import Skeleton
from shapes import skinned_chain
from test_formats_fbx import child, read


def _turn(axis: int, angle: float, at=(0.0, 0.0, 0.0)) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    matrix = np.eye(4)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    matrix[:3, 3] = at
    return matrix


def _skeleton() -> Skeleton:
    """A root bone, a child turned about two axes, and a second root bone, in Blender Z-up metres."""
    rest = np.stack([
        _turn(0, 0.0, (0, 0, -1)),
        _turn(2, 0.7, (0.1, 0.2, 0.3)) @ _turn(1, -0.4),
        _turn(0, 0.5, (0.5, 0.0, 1.0)),
    ])  # fmt: skip
    return Skeleton(["hips", "chest", "prop"], [-1, 0, -1], rest, "Rig")


def _chain():
    return skinned_chain("Body", (2, 1))


def _objects(tree: dict) -> dict[int, tuple[str, str, str, list]]:
    """id -> (node kind, name, class, children) of every object."""
    out = {}
    for kind, props, children in tree["Objects"][1]:
        name = props[1].split(b"\x00\x01")[0].decode()
        out[int(props[0])] = (kind, name, props[2].decode(), children)
    return out


def _p70(children: list, key: str) -> list:
    """A Properties70 row's values; FBX's default for an Lcl row the Model leaves out."""
    (block,) = [c for c in children if c[0] == "Properties70"]
    rows = [p for p in block[2] if p[1][0] == key.encode()]
    return list(rows[0][1][4:]) if rows else [1.0] * 3 if key == "Lcl Scaling" else [0.0] * 3


def _lcl(children: list) -> np.ndarray:
    """A Model's local matrix from its Lcl properties (Euler XYZ: R = Rz Ry Rx, degrees)."""
    x, y, z = (math.radians(a) for a in _p70(children, "Lcl Rotation"))
    matrix = _turn(2, z) @ _turn(1, -y) @ _turn(0, x)  # _turn(1, a) turns z into x: Ry is _turn(1, -a)
    matrix[:3, :3] = matrix[:3, :3] * np.array(_p70(children, "Lcl Scaling"))
    matrix[:3, 3] = _p70(children, "Lcl Translation")
    return matrix


def _matrix(children: list, key: str) -> np.ndarray:
    (values,) = child(children, key)[1]
    return np.asarray(values, dtype=np.float64).reshape(4, 4).T


def test_a_skinned_lod_group_has_its_armature_beside_it_and_binds_at_rest(tmp_path):
    levels, weights = _chain()
    path = tmp_path / "body.fbx"
    write_lod_fbx(path, levels, [0.0, 5.0], group_name="Body", skeleton=_skeleton(), skin_weights=weights)
    tree = read(path)
    objects = _objects(tree)
    links = [(int(c[1][1]), int(c[1][2])) for c in tree["Connections"][1]]
    # A bone is also linked to its clusters: its parent in the scene is the Model (or root) it hangs under.
    parent = {a: b for a, b in links if objects[a][0] == "Model" and (b == 0 or objects[b][0] == "Model")}
    models = {objects[i][1]: i for i in objects if objects[i][0] == "Model"}
    group, rig = models["Body"], models["Rig"]
    assert objects[group][2] == "LodGroup" and objects[rig][2] == "Null" and parent[rig] == 0 == parent[group]
    assert [objects[i][1] for i in objects if parent.get(i) == group and objects[i][0] == "Model"] == [
        "Body_LOD0", "Body_LOD1"
    ], "the group's children are its levels alone"  # fmt: skip
    assert parent[models["hips"]] == rig and parent[models["chest"]] == models["hips"]
    assert parent[models["prop"]] == rig

    def world(model: int) -> np.ndarray:
        local = _lcl(objects[model][3])
        return local if parent[model] == 0 else world(parent[model]) @ local

    mesh_world = world(group)  # the levels sit at the group's place
    assert mesh_world[:3, :3] == pytest.approx(np.array([[100, 0, 0], [0, 0, 100], [0, -100, 0]]), abs=1e-9)
    (pose,) = [o for o in objects.values() if o[0] == "Pose"]
    bind = {int(child(e[2], "Node")[1][0]): _matrix(e[2], "Matrix") for e in pose[3] if e[0] == "PoseNode"}
    for name, rest in zip(["hips", "chest", "prop"], _skeleton().rest, strict=True):
        model = models[name]
        assert world(model) == pytest.approx(bind[model], abs=1e-6), f"{name}: Lcl and bind pose agree"
        expected = mesh_world @ rest @ np.diag([0.01, 0.01, 0.01, 1.0])  # the rig's place, in centimetres
        assert bind[model] == pytest.approx(expected, abs=1e-6)
    counts = {}
    for kind, _name, cls, children in objects.values():
        if kind == "Deformer" and cls == "Cluster":
            link, transform = _matrix(children, "TransformLink"), _matrix(children, "Transform")
            assert link @ transform == pytest.approx(mesh_world, abs=1e-6), "at rest, skinning moves nothing"
            counts[cls] = counts.get(cls, 0) + 1
    assert counts == {"Cluster": 4}, "hips and chest weigh each level; prop weighs none"
    definitions = {c[1][0].decode(): c[2][0][1][0] for c in tree["Definitions"][1] if c[0] == "ObjectType"}
    assert definitions["Deformer"] == 6 and definitions["Pose"] == 1 and definitions["Model"] == 3 + 4


def test_a_skin_must_match_the_levels(tmp_path):
    levels, weights = _chain()
    with pytest.raises(ValueError, match="one \\(joints, weights\\) pair per level"):
        write_lod_fbx(tmp_path / "x.fbx", levels, [0.0, 5.0], skeleton=_skeleton(), skin_weights=weights[:1])
    with pytest.raises(ValueError, match="one row per vertex"):
        write_lod_fbx(tmp_path / "x.fbx", levels, [0.0, 5.0], skeleton=_skeleton(),
                      skin_weights=[(j[:-1], w[:-1]) for j, w in weights])  # fmt: skip
    assert not (tmp_path / "x.fbx").exists()
