# SPDX-License-Identifier: GPL-3.0-or-later
"""The importer in real Blender: all-or-nothing, renames followed, PBR maps wired per source material."""

from __future__ import annotations

import importlib
import struct
import zlib

import numpy as np
import pytest

from tests.support.scene import ico_sphere, scene_state


def _png(path, value: int) -> None:
    raw = b"".join(b"\x00" + bytes([value, value, value]) * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _arrays_result(addon, tmp_path):
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    path = tmp_path / "result.npz"
    np.savez(path, lod0_verts=verts, lod0_face_sizes=np.array([4], np.int32),
             lod0_corner_verts=np.array([0, 1, 2, 3], np.int32))  # fmt: skip
    return addon.core.jobs.ResultFile(path=str(path), kind="arrays", lod=0)


def test_pbr_maps_per_source_material(addon, blank, tmp_path):
    bpy = blank
    rock = ico_sphere("Rock", subdivisions=2)
    for name in ("Bark", "Moss"):
        rock.data.materials.append(bpy.data.materials.new(name))
    maps = tmp_path / "pbr"
    maps.mkdir()
    for i, name in enumerate(("bark_normal.png", "bark_roughness.png", "moss_normal.png", "moss_ao.png")):
        _png(maps / name, 40 * i)
    results = [_arrays_result(addon, tmp_path), addon.core.jobs.ResultFile(path=str(maps), kind="textures")]
    (obj,) = addon.blender_io.importer.import_results(
        bpy.context.scene, source_name="Rock", provider="sboxcool", job_id="j1", remote_id="r1", settings={},
        results=results,
    )  # fmt: skip
    assert [m.name for m in obj.data.materials] == ["Rock_bark_PBR", "Rock_moss_PBR"]
    images = {n.image.name for n in obj.data.materials[0].node_tree.nodes if n.type == "TEX_IMAGE"}
    assert images == {"bark_normal.png", "bark_roughness.png"}


def test_failed_import_leaves_nothing(addon, blank, tmp_path):
    bpy = blank
    ico_sphere("Rock", subdivisions=2)
    broken = tmp_path / "broken.obj"
    broken.write_text("v 0 0 0\nf 1 2 3\n")  # indices out of range
    before = scene_state()
    good = _arrays_result(addon, tmp_path)
    bad = addon.core.jobs.ResultFile(path=str(broken), kind="mesh", lod=1)
    with pytest.raises(addon.core.errors.RetopoError, match=r"could not read the result broken\.obj"):
        addon.blender_io.importer.import_results(
            bpy.context.scene, source_name="Rock", provider="csm", job_id="j2", remote_id="r2", settings={},
            results=[good, bad],
        )  # fmt: skip
    assert scene_state() == before


def test_rename_while_running_is_followed(addon, blank, tmp_path):
    bpy = blank
    rock = ico_sphere("Rock", subdivisions=2)
    uid = rock.session_uid
    rock.name = "Boulder"
    (obj,) = addon.blender_io.importer.import_results(
        bpy.context.scene, source_name="Rock", provider="local", job_id="j3", remote_id="", settings={},
        results=[_arrays_result(addon, tmp_path)], source_uid=uid,
    )  # fmt: skip
    assert obj.name == "Boulder_retopo"
    assert np.allclose(np.array(obj.matrix_world), np.array(rock.matrix_world))


def test_a_glb_with_nan_positions_is_refused_not_moved_to_the_origin(addon, blank, tmp_path):
    """Blender's glTF importer turns NaN into 0; a broken result must be refused like any other."""
    bpy = blank
    glb = importlib.import_module(f"{addon.__name__}.formats.glb")
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.25]], np.float32)
    path = tmp_path / "nan.glb"
    glb.write_glb(path, verts, np.array([3, 3]), np.array([0, 1, 2, 0, 2, 3]))
    data = path.read_bytes()
    marker = struct.pack("<f", 1.25)  # the one vertex coordinate with that value, wherever the axes put it
    assert data.count(marker) == 1
    path.write_bytes(data.replace(marker, struct.pack("<f", float("nan"))))
    ico_sphere("Rock", subdivisions=2)
    before = scene_state()
    bad = addon.core.jobs.ResultFile(path=str(path), kind="mesh", lod=0)
    with pytest.raises(
        addon.core.errors.RetopoError, match=r"nan\.glb: glTF vertex positions must be finite"
    ):
        addon.blender_io.importer.import_results(
            bpy.context.scene, source_name="Rock", provider="tripo", job_id="j4", remote_id="r4", settings={},
            results=[bad],
        )  # fmt: skip
    assert scene_state() == before
