# SPDX-License-Identifier: GPL-3.0-or-later
"""Engine packages of a local LoD chain (blender_io/packages.py), each read back by its format's own tool:
the .glb by the Khronos glTF validator, the FBX files by Blender's importer (which reads an FBX LOD group
too, though it keeps no LoD meaning), the .vmdl by our reader, the .tscn parsed."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from tests.support.gltf_validator import errors, validate
from tests.support.layout import draw_panel
from tests.support.scene import ico_sphere

LEVELS = 3  # LOD0 and two more
SLOTS = ["Bottom", "Top"]


@pytest.fixture
def chain(blank):
    """A finished local job with LoDs, UVs and two material slots: (bpy, its result objects LOD0 first)."""
    bpy = blank
    rock = ico_sphere("Rock", subdivisions=5)
    for name in SLOTS:
        rock.data.materials.append(bpy.data.materials.new(name))
    upper = [int(p.center[2] > 0.2) for p in rock.data.polygons]
    rock.data.polygons.foreach_set("material_index", upper)
    rock.retopo_hub.target_faces, rock.retopo_hub.lod_levels = 1500, LEVELS - 1
    rock.retopo_hub.uv = True
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    results = sorted(bpy.data.collections["Rock_RetopoHub"].objects, key=lambda o: o["retopo_hub_lod"])
    assert [o["retopo_hub_lod"] for o in results] == list(range(LEVELS))
    return bpy, results


def _triangles(obj) -> int:
    return sum(len(p.vertices) - 2 for p in obj.data.polygons)


def _extent(obj) -> tuple[float, ...]:
    """The mesh's bounding box size in its own (object) space, rounded."""
    co = [v.co for v in obj.data.vertices]
    return tuple(round(max(c[k] for c in co) - min(c[k] for c in co), 3) for k in range(3))


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(data[20 : 20 + struct.unpack_from("<I", data, 12)[0]])


def _import_fbx(bpy, path: Path) -> dict[str, object]:
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path))
    return {o.name: o for o in bpy.data.objects}


def _dressed(obj) -> bool:
    """The imported level has a UV layer and the chain's two material slots."""
    names = [m.name.split(".")[0] for m in obj.data.materials if m is not None]
    return obj.data.uv_layers.active is not None and names == SLOTS


def _glb_triangles(doc: dict, mesh: dict) -> int:
    return sum(doc["accessors"][p["indices"]]["count"] for p in mesh["primitives"]) // 3


def test_gltf_package_is_valid_msft_lod(addon, chain, tmp_path):
    _bpy, results = chain
    folder = addon.blender_io.packages.export_package(results, "gltf", tmp_path, "Rock")
    assert folder == tmp_path / "Rock_gltf"
    glb = folder / "Rock.glb"
    report = validate(glb)
    assert errors(report) == [] and report["issues"]["numErrors"] == 0, report["issues"]
    doc = _glb_json(glb)
    lod0 = doc["nodes"][0]
    assert lod0["extensions"]["MSFT_lod"]["ids"] == [1, 2]
    coverage = lod0["extras"]["MSFT_screencoverage"]
    expected = [o["retopo_hub_screen_coverage"] for o in results[1:]]
    assert coverage == pytest.approx([*expected, 0.0])
    counts = [_glb_triangles(doc, m) for m in doc["meshes"]]
    assert counts == [_triangles(o) for o in results]
    assert [m["name"] for m in doc["materials"]] == SLOTS
    for mesh in doc["meshes"]:  # every level: LOD0's slots and UVs
        assert sorted(p["material"] for p in mesh["primitives"]) == [0, 1]
        assert all("TEXCOORD_0" in p["attributes"] for p in mesh["primitives"])


def test_godot_package_is_a_glb_and_a_visibility_range_scene(addon, chain, tmp_path):
    _bpy, results = chain
    folder = addon.blender_io.packages.export_package(results, "godot", tmp_path, "Rock")
    assert validate(folder / "Rock.glb")["issues"]["numErrors"] == 0
    names = [n["name"] for n in _glb_json(folder / "Rock.glb")["nodes"]]
    assert names == ["Rock_LOD0", "Rock_LOD1", "Rock_LOD2"]
    text = (folder / "Rock.tscn").read_text()
    assert text.startswith("[gd_scene load_steps=2 format=3]\n")
    assert '[ext_resource type="PackedScene" path="Rock.glb" id="1_lods"]' in text
    bands: dict[str, dict[str, float]] = {}
    for node, body in re.findall(r'\[node name="(Rock_LOD\d)" parent="\."\]\n((?:\w+ = [\d.e+-]+\n)*)', text):
        bands[node] = {k: float(v) for k, v in re.findall(r"(\w+) = ([\d.e+-]+)", body)}
    distances = [o["retopo_hub_switch_threshold"] for o in results]
    assert bands == {
        "Rock_LOD0": {"visibility_range_end": pytest.approx(distances[1])},
        "Rock_LOD1": {"visibility_range_begin": pytest.approx(distances[1]),
                      "visibility_range_end": pytest.approx(distances[2])},
        "Rock_LOD2": {"visibility_range_begin": pytest.approx(distances[2])},
    }  # fmt: skip


def test_unity_package_has_lod_children_under_one_root(addon, chain, tmp_path):
    bpy, results = chain
    triangles = [_triangles(o) for o in results]
    names_before = sorted(o.name for o in bpy.data.objects)
    folder = addon.blender_io.packages.export_package(results, "unity", tmp_path, "Rock")
    assert sorted(o.name for o in bpy.data.objects) == names_before, "stand-ins are removed, names restored"
    heights = json.loads((folder / "Rock_lods.json").read_text())
    assert [lod["name"] for lod in heights["lods"]] == ["Rock_LOD0", "Rock_LOD1", "Rock_LOD2"]
    values = [lod["screen_relative_transition_height"] for lod in heights["lods"]]
    assert values[-1] == 0.0 and values == sorted(values, reverse=True) and 0.0 < values[0] <= 1.0
    lodmath = addon.core.lodmath
    assert values[0] == pytest.approx(
        lodmath.transition_height(heights["lodgroup_size"], results[1]["retopo_hub_switch_threshold"], 60.0)
    )
    imported = _import_fbx(bpy, folder / "Rock.fbx")
    root = imported["Rock"]
    children = sorted(root.children, key=lambda o: o.name)
    assert [c.name for c in children] == ["Rock_LOD0", "Rock_LOD1", "Rock_LOD2"]
    assert [_triangles(c) for c in children] == triangles
    assert all(_dressed(c) for c in children)


def test_unreal_package_is_one_fbx_lod_group_and_screen_sizes(addon, chain, tmp_path):
    bpy, results = chain
    triangles = [_triangles(o) for o in results]
    bounds = [_extent(o) for o in results]
    folder = addon.blender_io.packages.export_package(results, "unreal", tmp_path, "Rock")
    sizes = json.loads((folder / "Rock_lods.json").read_text())
    assert sizes["model"] == "Rock.fbx"
    assert [s["name"] for s in sizes["lods"]] == ["Rock_LOD0", "Rock_LOD1", "Rock_LOD2"]
    screen = [s["screen_size"] for s in sizes["lods"]]
    assert screen[0] == 1.0 and screen == sorted(screen, reverse=True)
    # Blender's importer reads the LOD group as an empty with the levels as its children, in object space.
    imported = _import_fbx(bpy, folder / "Rock.fbx")
    group = imported["Rock"]
    assert group.type == "EMPTY"
    children = sorted(group.children, key=lambda o: o.name)
    assert [c.name for c in children] == ["Rock_LOD0", "Rock_LOD1", "Rock_LOD2"]
    assert [_triangles(c) for c in children] == triangles
    assert all(_dressed(c) for c in children)
    for child, extent in zip(children, bounds, strict=True):
        assert tuple(child.dimensions) == pytest.approx(extent, abs=2e-3)


def _corner_normals(obj) -> np.ndarray:
    normals = np.empty(len(obj.data.loops) * 3, dtype=np.float32)
    obj.data.corner_normals.foreach_get("vector", normals)
    return normals.reshape(-1, 3)


def test_packages_carry_the_normals_blender_shades_with(addon, chain, tmp_path):
    """The .glb had no NORMAL (glTF viewers then shade every face flat) and the Unreal FBX no normals:
    both now carry the levels' own, smooth and split at sharp edges."""
    bpy, results = chain
    expected = [_corner_normals(o) for o in results]
    assert any(np.ptp(n, axis=0).max() > 0.5 for n in expected)
    glb = addon.blender_io.packages.export_package(results, "gltf", tmp_path, "Rock") / "Rock.glb"
    doc = _glb_json(glb)
    assert all("NORMAL" in p["attributes"] for m in doc["meshes"] for p in m["primitives"])
    assert validate(glb)["issues"]["numErrors"] == 0
    folder = addon.blender_io.packages.export_package(results, "unreal", tmp_path, "Rock")
    imported = _import_fbx(bpy, folder / "Rock.fbx")
    for number, normals in enumerate(expected):
        level = imported[f"Rock_LOD{number}"]
        assert level.data.has_custom_normals
        assert np.allclose(_corner_normals(level), normals, atol=1e-3)


def _glb_attribute(path: Path, doc: dict, mesh: int, name: str) -> np.ndarray:
    accessor = doc["accessors"][doc["meshes"][mesh]["primitives"][0]["attributes"][name]]
    view = doc["bufferViews"][accessor["bufferView"]]
    data = path.read_bytes()
    start = 20 + struct.unpack_from("<I", data, 12)[0] + 8 + view.get("byteOffset", 0)
    start += accessor.get("byteOffset", 0)
    width = {"VEC2": 2, "VEC3": 3, "VEC4": 4}[accessor["type"]]
    return np.frombuffer(data, np.float32, accessor["count"] * width, start).reshape(-1, width)


def test_gltf_tangents_are_the_ones_blenders_own_exporter_writes(addon, chain, tmp_path):
    """The validator warned on every level with a normal map that no TANGENT was written. Ours now carry
    Blender's MikkTSpace tangents; for every vertex Blender's glTF exporter writes for LOD0 (with
    tangents), ours at the same position and UV has the same tangent and sign."""
    bpy, results = chain
    ours = addon.blender_io.packages.export_package(results, "gltf", tmp_path, "Rock") / "Rock.glb"
    doc = _glb_json(ours)
    assert all("TANGENT" in p["attributes"] for m in doc["meshes"] for p in m["primitives"])
    bpy.ops.object.select_all(action="DESELECT")
    results[0].select_set(True)
    theirs = tmp_path / "blender.glb"
    bpy.ops.export_scene.gltf(filepath=str(theirs), export_format="GLB", use_selection=True,
                              export_tangents=True, export_materials="NONE")  # fmt: skip
    reference = _glb_json(theirs)
    names = ("POSITION", "TEXCOORD_0", "TANGENT")
    keys = {}
    for p, uv, t in zip(*(_glb_attribute(ours, doc, 0, n) for n in names), strict=True):
        keys[(*np.round(p, 4), *np.round(uv, 4))] = t
    matched = 0
    for p, uv, t in zip(*(_glb_attribute(theirs, reference, 0, n) for n in names), strict=True):
        mine = keys.get((*np.round(p, 4), *np.round(uv, 4)))
        if mine is not None:
            matched += 1
            assert mine[3] == t[3] and np.allclose(mine[:3], t[:3], atol=1e-3)
    assert matched >= 0.9 * len(keys)


def test_sbox_package_vmdl_reads_back(addon, chain, tmp_path):
    _bpy, results = chain
    folder = addon.blender_io.packages.export_package(results, "sbox", tmp_path, "Rock")
    lods = addon.formats.vmdl.parse_vmdl_lods((folder / "Rock.vmdl").read_text("utf-8"))
    assert [name for name, _t, _f in lods] == ["LOD0", "LOD1", "LOD2"]
    assert [f for _n, _t, f in lods] == [f"models/Rock/Rock_LOD{i}.fbx" for i in range(LEVELS)]
    thresholds = [t for _n, t, _f in lods]
    assert thresholds == pytest.approx([o["retopo_hub_switch_threshold"] for o in results], abs=1e-2)
    assert all((folder / f"Rock_LOD{i}.fbx").is_file() for i in range(LEVELS))


def test_a_job_without_lod0_is_refused(addon, chain, tmp_path):
    _bpy, results = chain
    with pytest.raises(addon.core.errors.InputError, match="no LOD0"):
        addon.blender_io.packages.export_package(results[1:], "gltf", tmp_path, "Rock")


def test_export_for_button_writes_the_package(addon, chain, tmp_path):
    bpy, _results = chain
    (record,) = bpy.context.scene.retopo_hub.jobs
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    wanted = ("operator_prop", "retopo_hub.export_package", "target")
    targets = {e[3] for e in log if e[:3] == wanted}
    assert targets == {"unity", "unreal", "godot", "gltf", "sbox"}
    done = bpy.ops.retopo_hub.export_package(job_id=record.job_id, target="godot", directory=str(tmp_path))
    assert done == {"FINISHED"}
    assert (tmp_path / "Rock_godot" / "Rock.tscn").is_file()
    with pytest.raises(RuntimeError, match="no longer in the file"):
        bpy.ops.retopo_hub.export_package(job_id="gone", target="gltf", directory=str(tmp_path))


def _tiny_png(bpy, path: Path, rgb: tuple[float, float, float]) -> Path:
    """A 16 px PNG of one colour, written by Blender."""
    image = bpy.data.images.new(path.stem, 16, 16, alpha=False)
    image.pixels.foreach_set([*rgb, 1.0] * 256)
    image.filepath_raw, image.file_format = str(path), "PNG"
    image.save()
    bpy.data.images.remove(image)
    return path


def _png_green(bpy, data: bytes, tmp_path: Path) -> float:
    """The green value (0..1) of a one-colour PNG given as bytes."""
    path = tmp_path / "probe.png"
    path.write_bytes(data)
    image = bpy.data.images.load(str(path), check_existing=False)
    image.colorspace_settings.name = "Non-Color"
    green = float(image.pixels[1])
    bpy.data.images.remove(image)
    return green


@pytest.fixture
def baked(addon, chain, tmp_path):
    """The chain wearing baked maps as a bake leaves them (``bakedmaps.apply_maps``), from tiny PNGs; the
    normal map is DirectX (green 0.25, which is 0.75 in OpenGL's green)."""
    bpy, results = chain
    folder = tmp_path / "job_maps"
    folder.mkdir()
    colours = {"color": (0.8, 0.2, 0.1), "normal": (0.5, 0.25, 1.0), "ao": (0.9, 0.9, 0.9)}
    maps = {
        role: str(_tiny_png(bpy, folder / f"Rock_retopo_{role}.png", rgb)) for role, rgb in colours.items()
    }
    addon.blender_io.bakedmaps.apply_maps(results[0], results[1:], maps, "Rock_baked", "directx")
    return bpy, results


def test_every_package_carries_the_baked_maps(addon, baked, tmp_path):
    bpy, results = baked
    out = tmp_path / "out"
    packages = {t: addon.blender_io.packages.export_package(results, t, out, "Rock") for t in
                ("gltf", "godot", "unity", "unreal", "sbox")}  # fmt: skip
    for target in ("gltf", "godot"):
        glb = packages[target] / "Rock.glb"
        report = validate(glb)
        # No warning either: with tangents written, none that the viewer must make its own.
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
        doc = _glb_json(glb)
        assert len(doc["images"]) == 3 and all(i["mimeType"] == "image/png" for i in doc["images"])
        (material,) = doc["materials"]
        assert material["name"] == "Rock_baked" and material["pbrMetallicRoughness"]["metallicFactor"] == 0.0
        assert {"normalTexture", "occlusionTexture"} <= set(material)
        # The embedded normal map has glTF's (OpenGL's) green: the DirectX 0.25 flipped to 0.75.
        view = doc["bufferViews"][
            doc["images"][doc["textures"][material["normalTexture"]["index"]]["source"]]["bufferView"]
        ]
        data = glb.read_bytes()
        start = 20 + struct.unpack_from("<I", data, 12)[0] + 8 + view.get("byteOffset", 0)
        assert _png_green(bpy, data[start : start + view["byteLength"]], tmp_path) == pytest.approx(
            0.75, abs=0.01
        )
    for target in ("unity", "unreal", "sbox"):
        folder = packages[target]
        assert sorted(p.name for p in folder.glob("*.png")) == [
            "Rock_ao.png",
            "Rock_basecolor.png",
            "Rock_normal.png",
        ]
        # Copied as they are: the files keep the job's DirectX normal map, as the job asked.
        assert _png_green(bpy, (folder / "Rock_normal.png").read_bytes(), tmp_path) == pytest.approx(
            0.25, abs=0.01
        )
    textures = json.loads((packages["unity"] / "Rock_lods.json").read_text())["textures"]
    assert textures == {"color": "Rock_basecolor.png", "normal": "Rock_normal.png", "ao": "Rock_ao.png"}
    assert json.loads((packages["unreal"] / "Rock_lods.json").read_text())["textures"] == textures
    vmat = (packages["sbox"] / "Rock_baked.vmat").read_text()
    assert 'TextureColor "models/Rock/Rock_basecolor.png"' in vmat and "TextureNormal" in vmat
    assert 'to = "models/Rock/Rock_baked.vmat"' in (packages["sbox"] / "Rock.vmdl").read_text()
    # Unity's FBX references the copies beside it; the result's own images still point at the job's maps.
    assert all("job_maps" in image.filepath for image in bpy.data.images if image.filepath)
    imported = _import_fbx(bpy, packages["unity"] / "Rock.fbx")
    files = {Path(bpy.path.abspath(i.filepath)).name for i in bpy.data.images if i.filepath}
    assert {"Rock_basecolor.png", "Rock_normal.png"} <= files
    assert set(imported) >= {"Rock_LOD0", "Rock_LOD1", "Rock_LOD2"}
