# SPDX-License-Identifier: GPL-3.0-or-later
"""The bake options (core.options) and what the baked maps add to the OBJ and GLB writers (pure)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.core.errors import InputError
from retopo_hub.core.options import BY_NAME, bake_maps, defaults, validate, with_implied
from retopo_hub.formats.glb import write_glb
from retopo_hub.formats.obj import read_obj, write_mtl, write_obj

from tests.unit.test_formats_mesh import tiny_png, uv_cube


def test_bake_implies_uvs_and_names_its_maps() -> None:
    assert with_implied({"bake": "nca", "uv": False})["uv"] is True
    assert with_implied({"bake": "", "uv": False})["uv"] is False
    assert bake_maps("nca") == ("normal", "color", "ao") and bake_maps("an") == ("normal", "ao")
    assert bake_maps("") == ()


def test_bake_defaults_and_ranges_come_from_the_catalogue() -> None:
    local = defaults("local")
    assert (local["bake"], local["bake_size"], local["normal_convention"], local["ray_distance"]) == (
        "", 2048, "opengl", 0.0,
    )  # fmt: skip
    assert "bake" not in defaults("csm") and BY_NAME["tripo_bake"].cli == "--tripo-bake"
    validate("local", {"bake": "nc", "bake_size": 512, "normal_convention": "directx"})
    for bad in ({"bake_size": 256}, {"bake_size": 9000}, {"normal_convention": "vulkan"}, {"bake": "x"},
                {"ray_distance": -1.0}):  # fmt: skip
        with pytest.raises(InputError):
            validate("local", bad)


def test_obj_names_its_mtl_and_the_mtl_its_maps(tmp_path: Path) -> None:
    mesh = uv_cube()
    write_mtl(tmp_path / "c.mtl", "c baked", {"color": "c_basecolor.png", "normal": "c_normal.png"})
    write_obj(tmp_path / "c.obj", **mesh, mtllib="c.mtl", material_names=("c baked",),
              face_materials=np.zeros(len(mesh["face_sizes"]), np.int32))  # fmt: skip
    text = (tmp_path / "c.obj").read_text()
    assert "mtllib c.mtl\n" in text and "usemtl c_baked\n" in text
    mtl = (tmp_path / "c.mtl").read_text()
    assert "newmtl c_baked\n" in mtl and "map_Kd c_basecolor.png\n" in mtl and "norm c_normal.png\n" in mtl
    assert "map_Ka" not in mtl
    assert len(read_obj(tmp_path / "c.obj")["face_sizes"]) == len(mesh["face_sizes"])


def test_glb_embeds_color_normal_and_occlusion(tmp_path: Path) -> None:
    png = tiny_png()
    data = write_glb(tmp_path / "c.glb", **uv_cube(), base_color_png=png, normal_png=png, occlusion_png=png)
    length = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + length])
    assert [image["bufferView"] for image in doc["images"]] == [3, 4, 5]
    (material,) = doc["materials"]
    assert material["pbrMetallicRoughness"]["baseColorTexture"] == {"index": 0}
    assert material["normalTexture"] == {"index": 1} and material["occlusionTexture"] == {"index": 2}
    doc_normal_only = write_glb(None, **uv_cube(), normal_png=png)
    length = struct.unpack_from("<I", doc_normal_only, 12)[0]
    only = json.loads(doc_normal_only[20 : 20 + length])["materials"][0]
    assert "baseColorTexture" not in only["pbrMetallicRoughness"] and only["normalTexture"] == {"index": 0}
