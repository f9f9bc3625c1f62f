# SPDX-License-Identifier: GPL-3.0-or-later
"""A LoD chain's .glb (MSFT_lod + MSFT_screencoverage) and Godot's .tscn, read back and validated."""

import json
import re
import struct

import numpy as np
import pytest
from retopo_hub.formats.lodglb import write_lod_glb
from retopo_hub.formats.tscn import godot_lod_scene
from shapes import icosphere

from tests.support.gltf_validator import errors, validate


def _levels():
    out = []
    for number, subdivisions in enumerate((3, 2, 1)):
        verts, tris = icosphere(subdivisions)
        out.append((f"Rock_LOD{number}", verts, np.full(len(tris), 3), tris.ravel()))
    return out


def _json(data: bytes) -> dict:
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def test_msft_lod_glb_is_valid(tmp_path):
    path = tmp_path / "rock.glb"
    data = write_lod_glb(path, _levels(), screen_coverage=[0.2, 0.05, 0.0])
    doc = _json(data)
    assert doc["extensionsUsed"] == ["MSFT_lod"]
    assert doc["scenes"] == [{"nodes": [0]}]
    lod0 = doc["nodes"][0]
    assert lod0["extensions"]["MSFT_lod"]["ids"] == [1, 2]
    assert lod0["extras"]["MSFT_screencoverage"] == [0.2, 0.05, 0.0]
    assert [n["name"] for n in doc["nodes"]] == ["Rock_LOD0", "Rock_LOD1", "Rock_LOD2"]
    counts = [doc["accessors"][m["primitives"][0]["indices"]]["count"] // 3 for m in doc["meshes"]]
    assert counts == [20 * 4**3, 20 * 4**2, 20 * 4]
    report = validate(path)
    assert errors(report) == [] and report["issues"]["numWarnings"] == 0, report["issues"]


def test_side_by_side_glb_is_valid(tmp_path):
    path = tmp_path / "rock.glb"
    doc = _json(write_lod_glb(path, _levels()))
    assert "extensionsUsed" not in doc and doc["scenes"] == [{"nodes": [0, 1, 2]}]
    assert validate(path)["issues"]["numErrors"] == 0


@pytest.mark.parametrize("coverage", [[0.4, 0.0], [0.2, 0.4, 0.0], [1.5, 0.2, 0.0]])
def test_bad_coverages_are_refused(coverage):
    with pytest.raises(ValueError, match=r"screencoverage|coverages"):
        write_lod_glb(None, _levels(), screen_coverage=coverage)


def _parse_tscn(text: str) -> list[tuple[str, dict, dict]]:
    """(section, its attributes, its properties) per [section] of a .tscn."""
    sections = []
    for line in text.splitlines():
        if header := re.fullmatch(r"\[(\w+)(.*)\]", line):
            attrs = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', header.group(2)))
            sections.append((header.group(1), {k: v.strip('"') for k, v in attrs.items()}, {}))
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1][2][key] = float(value)
    return sections


def test_godot_scene_gives_each_level_its_distance_band():
    text = godot_lod_scene("Rock.glb", "Rock", [("Rock_LOD0", 0.0), ("Rock_LOD1", 12.5), ("Rock_LOD2", 40.0)])
    sections = _parse_tscn(text)
    assert sections[0][0] == "gd_scene" and sections[0][1]["format"] == "3"
    assert sections[1][1]["path"] == "Rock.glb" and sections[1][1]["type"] == "PackedScene"
    assert sections[2][1] == {"name": "Rock", "instance": 'ExtResource("1_lods")'}
    nodes = {attrs["name"]: props for kind, attrs, props in sections[3:] if kind == "node"}
    assert nodes == {
        "Rock_LOD0": {"visibility_range_end": 12.5},
        "Rock_LOD1": {"visibility_range_begin": 12.5, "visibility_range_end": 40.0},
        "Rock_LOD2": {"visibility_range_begin": 40.0},
    }
    with pytest.raises(ValueError, match="never fall"):
        godot_lod_scene("Rock.glb", "Rock", [("a", 0.0), ("b", 5.0), ("c", 4.0)])


def _dressed_levels():
    """The levels with spherical UVs per corner and two material slots (upper and lower half)."""
    out = []
    for name, verts, sizes, corners in _levels():
        p = verts[corners]
        uvs = np.stack([np.arctan2(p[:, 1], p[:, 0]) / (2 * np.pi) + 0.5, p[:, 2] * 0.5 + 0.5], 1)
        slots = (p.reshape(-1, 3, 3)[:, :, 2].mean(axis=1) > 0).astype(np.int32)
        out.append((name, verts, sizes, corners, uvs.astype(np.float32), slots, ["Body", "Lid"]))
    return out


def test_levels_keep_uvs_and_materials_and_stay_valid(tmp_path):
    path = tmp_path / "rock.glb"
    doc = _json(write_lod_glb(path, _dressed_levels(), screen_coverage=[0.2, 0.05, 0.0]))
    assert doc["materials"] == [{"name": "Body"}, {"name": "Lid"}]
    for mesh in doc["meshes"]:
        assert sorted(p["material"] for p in mesh["primitives"]) == [0, 1]
        assert all("TEXCOORD_0" in p["attributes"] for p in mesh["primitives"])
    report = validate(path)
    assert errors(report) == [], report["issues"]


def _accessor(data: bytes, doc: dict, index: int) -> np.ndarray:
    accessor = doc["accessors"][index]
    view = doc["bufferViews"][accessor["bufferView"]]
    start = 20 + struct.unpack_from("<I", data, 12)[0] + 8 + view.get("byteOffset", 0)
    width = {"VEC4": 4, "VEC3": 3, "VEC2": 2, "SCALAR": 1}[accessor["type"]]
    dtype = np.float32 if accessor["componentType"] == 5126 else np.uint32
    return np.frombuffer(data, dtype, accessor["count"] * width, start).reshape(accessor["count"], -1)


def test_levels_carry_their_normals_split_only_at_hard_edges(tmp_path):
    """Smooth normals on the sphere but a hard rim round its equator (the two halves' normals bent up and
    down there): without NORMAL a viewer shades every face flat. Vertices are shared where the corners'
    normals agree and split on the rim alone; the normals come out unit length and Y-up."""
    levels = []
    for name, verts, sizes, corners in _levels():
        p = verts[corners].astype(np.float64)
        normals = p / np.linalg.norm(p, axis=1, keepdims=True)
        upper = np.repeat(p.reshape(-1, 3, 3)[:, :, 2].mean(axis=1) > 0, 3)
        rim = np.abs(p[:, 2]) < 1e-6
        normals[rim & upper] += [0.0, 0.0, 0.5]
        normals[rim & ~upper] += [0.0, 0.0, -0.5]
        levels.append((name, verts, sizes, corners, None, None, (), normals.astype(np.float32)))
    path = tmp_path / "rock.glb"
    data = write_lod_glb(path, levels, screen_coverage=[0.2, 0.05, 0.0])
    doc = _json(data)
    report = validate(path)
    assert errors(report) == [] and report["issues"]["numWarnings"] == 0, report["issues"]
    for mesh, (_name, verts, *_rest) in zip(doc["meshes"], levels, strict=True):
        attributes = mesh["primitives"][0]["attributes"]
        normals = _accessor(data, doc, attributes["NORMAL"])
        positions = _accessor(data, doc, attributes["POSITION"])
        assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
        on_rim = np.count_nonzero(np.abs(verts[:, 2]) < 1e-6)
        assert len(positions) == len(verts) + on_rim  # each rim vertex once per side, the rest once
        off_rim = np.abs(positions[:, 1]) > 1e-6  # Y-up: Blender's z is glTF's y
        radial = positions[off_rim] / np.linalg.norm(positions[off_rim], axis=1, keepdims=True)
        assert np.allclose(normals[off_rim], radial, atol=1e-5)


def test_tangents_go_with_uvs_and_normals_only(tmp_path):
    """TANGENT (xyz Y-up and the bitangent's sign) is written beside NORMAL and TEXCOORD_0; without
    normals it is left out, as glTF wants."""
    dressed = []
    for name, verts, sizes, corners, uvs, slots, names in _dressed_levels():
        p = verts[corners].astype(np.float64)
        normals = p / np.linalg.norm(p, axis=1, keepdims=True)
        tangent = np.cross([0.0, 0.0, 1.0], normals)
        tangent[:, 0] += 1e-3  # none of length 0 at the poles
        sign = np.where(p[:, 0] > 0, 1.0, -1.0)[:, None]
        dressed.append((name, verts, sizes, corners, uvs, slots, names, normals, np.hstack([tangent, sign])))
    path = tmp_path / "rock.glb"
    data = write_lod_glb(path, dressed)
    doc = _json(data)
    report = validate(path)
    assert errors(report) == [] and report["issues"]["numWarnings"] == 0, report["issues"]
    attributes = doc["meshes"][0]["primitives"][0]["attributes"]
    tangents = _accessor(data, doc, attributes["TANGENT"])
    assert tangents.shape[1] == 4 and set(np.unique(tangents[:, 3])) == {-1.0, 1.0}
    assert np.allclose(np.linalg.norm(tangents[:, :3], axis=1), 1.0, atol=1e-5)
    assert np.abs(tangents[:, 1]).max() < 0.01  # Blender's z (none here) is glTF's y
    bare = [(*level[:7], None, level[8]) for level in dressed]
    assert "TANGENT" not in _json(write_lod_glb(None, bare))["meshes"][0]["primitives"][0]["attributes"]
