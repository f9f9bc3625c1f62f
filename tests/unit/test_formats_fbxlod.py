# SPDX-License-Identifier: GPL-3.0-or-later
"""The FBX LOD group writer (formats/fbxlod.py); Blender's importer reads it back in
tests/blender/test_engine_packages.py."""

import numpy as np
import pytest
from retopo_hub.formats.fbxlod import write_lod_fbx
from shapes import icosphere


def _levels():
    out = []
    for number, subdivisions in enumerate((2, 1)):
        verts, tris = icosphere(subdivisions)
        out.append((f"Rock_LOD{number}", verts, np.full(len(tris), 3), tris.ravel()))
    return out


def test_one_lod_group_with_a_child_per_level(tmp_path):
    path = tmp_path / "rock.fbx"
    write_lod_fbx(path, _levels(), [0.0, 7.5], group_name="Rock")
    data = path.read_bytes()
    assert data.startswith(b"Kaydara FBX Binary  \x00\x1a\x00")
    assert data.count(b"LodGroup") == 3  # the attribute's class and TypeFlags, the group Model's type
    assert (
        b"Rock\x00\x01Model" in data
        and b"Rock_LOD0\x00\x01Model" in data
        and b"Rock_LOD1\x00\x01Model" in data
    )
    assert b"Thresholds|Level0" in data and b"Thresholds|Level1" not in data


@pytest.mark.parametrize("distances", [[0.0], [0.0, -1.0], [0.0, float("nan")]])
def test_one_finite_distance_per_level(tmp_path, distances):
    with pytest.raises(ValueError, match="switch distance"):
        write_lod_fbx(tmp_path / "x.fbx", _levels(), distances)


def test_levels_carry_uv_layers_and_shared_materials(tmp_path):
    levels = []
    for name, verts, sizes, corners in _levels():
        uvs = (verts[corners][:, :2] * 0.5 + 0.5).astype(np.float32)
        slots = (np.arange(len(sizes)) % 2).astype(np.int32)
        levels.append((name, verts, sizes, corners, uvs, slots, ["Body", "Lid"]))
    path = tmp_path / "rock.fbx"
    write_lod_fbx(path, levels, [0.0, 7.5], group_name="Rock")
    data = path.read_bytes()
    assert data.count(b"LayerElementUV") == 2 * 2  # per level: the layer and its table-of-contents entry
    assert data.count(b"\x00\x01Material") == 2  # one Material object per name, shared by the levels


def test_levels_carry_their_normals_per_corner(tmp_path):
    levels = []
    for name, verts, sizes, corners in _levels():
        normals = verts[corners] / np.linalg.norm(verts[corners], axis=1, keepdims=True)
        levels.append((name, verts, sizes, corners, None, None, (), normals))
    path = tmp_path / "rock.fbx"
    write_lod_fbx(path, levels, [0.0, 7.5], group_name="Rock")
    assert path.read_bytes().count(b"LayerElementNormal") == 2 * 2  # per level: the layer and its entry
    with pytest.raises(ValueError, match="corner_normals"):
        write_lod_fbx(tmp_path / "x.fbx", [(*levels[0][:7], levels[0][7][:-1])], [0.0])
