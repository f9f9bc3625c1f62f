# SPDX-License-Identifier: GPL-3.0-or-later
"""formats/gltfskin.py through formats/lodglb.py: a skinned LoD chain's .glb, checked by the Khronos
validator and by skinning its vertices the way a glTF viewer does."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from retopo_hub.formats.lodglb import write_lod_glb
from retopo_hub.formats.skeleton import Skeleton
from shapes import skinned_chain

from tests.support.gltf_validator import validate


def _turn_x(angle: float, at=(0.0, 0.0, 0.0)) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    matrix = np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1]], dtype=np.float64)
    matrix[:3, 3] = at
    return matrix


def _skeleton() -> Skeleton:
    """Two root bones (an armature may have several) and a child turned about X, in Blender Z-up."""
    rest = np.stack([_turn_x(0.0, (0, 0, -1)), _turn_x(0.3, (0, 0, 0.2)), _turn_x(-0.5, (0.5, 0.1, 1.0))])
    return Skeleton(["hips", "chest", "prop"], [-1, 0, -1], rest, "Rig")


def _chain():
    return skinned_chain("Body", (3, 2))


def _doc(data: bytes) -> tuple[dict, bytes]:
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length]), data[28 + length :]


def _accessor(doc: dict, body: bytes, index: int) -> np.ndarray:
    accessor = doc["accessors"][index]
    view = doc["bufferViews"][accessor["bufferView"]]
    kind = {5126: "<f4", 5123: "<u2", 5125: "<u4"}[accessor["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[accessor["type"]]
    raw = body[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
    return np.frombuffer(raw, kind).reshape(accessor["count"], width)


def _world(doc: dict, node: int, parents: dict[int, int]) -> np.ndarray:
    local = np.array(doc["nodes"][node].get("matrix", np.eye(4).T.ravel())).reshape(4, 4).T
    return local if node not in parents else _world(doc, parents[node], parents) @ local


def test_a_skinned_chain_is_valid_and_at_rest_where_it_was_written(tmp_path):
    levels, weights = _chain()
    path = tmp_path / "body.glb"
    doc, body = _doc(write_lod_glb(path, levels, screen_coverage=[0.3, 0.0], skeleton=_skeleton(),
                                   skin_weights=weights))  # fmt: skip
    report = validate(path)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
    (skin,) = doc["skins"]
    assert [doc["nodes"][j]["name"] for j in skin["joints"]] == ["hips", "chest", "prop"]
    holder = skin["skeleton"]
    assert doc["nodes"][holder]["name"] == "Rig" and "matrix" not in doc["nodes"][holder]
    assert doc["scenes"] == [{"nodes": [0, holder]}], "LOD0 and the armature are the scene's roots"
    parents = {child: n for n, node in enumerate(doc["nodes"]) for child in node.get("children", [])}
    binds = _accessor(doc, body, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    y_up = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])
    for joint, rest, bind in zip(skin["joints"], _skeleton().rest, binds, strict=True):
        world = _world(doc, joint, parents)
        assert world == pytest.approx(y_up @ rest, abs=1e-6), "each bone where the rig has it, Y-up"
        assert world @ bind == pytest.approx(np.eye(4), abs=1e-5), "at rest, skinning moves nothing"
    for number, (level, (joints, values)) in enumerate(zip(levels, weights, strict=True)):
        assert doc["nodes"][number]["skin"] == 0
        (primitive,) = doc["meshes"][number]["primitives"]
        written_joints = _accessor(doc, body, primitive["attributes"]["JOINTS_0"])
        written_weights = _accessor(doc, body, primitive["attributes"]["WEIGHTS_0"])
        used = np.where(values > 0, joints, 0)  # an influence of no weight points at joint 0, as glTF wants
        assert len(written_joints) == len(level[1]) and (written_joints[:, :2] == used).all()
        assert written_weights[:, :2] == pytest.approx(values) and not written_weights[:, 2:].any()


@pytest.mark.parametrize(
    ("skeleton", "message"),
    [
        (Skeleton(["a", "b"], [-1, 1], np.stack([np.eye(4)] * 2)), "earlier bone"),
        (Skeleton(["a"], [-1], np.zeros((1, 4, 4))), "not invertible"),
        (Skeleton(["a", "b"], [-1], np.stack([np.eye(4)] * 2)), "per bone"),
    ],
)
def test_a_malformed_skeleton_is_refused(skeleton, message):
    levels, weights = _chain()
    with pytest.raises(ValueError, match=message):
        write_lod_glb(None, levels, skeleton=skeleton, skin_weights=weights)


def test_weights_must_match_the_levels():
    levels, weights = _chain()
    with pytest.raises(ValueError, match="one \\(joints, weights\\) pair per level"):
        write_lod_glb(None, levels, skeleton=_skeleton(), skin_weights=weights[:1])
    with pytest.raises(ValueError, match="up to 4 joints"):
        write_lod_glb(None, levels, skeleton=_skeleton(), skin_weights=[(j[:-1], w[:-1]) for j, w in weights])
