# SPDX-License-Identifier: GPL-3.0-or-later
"""Baked maps on LOD0 (--bake, the Game-Ready bake toggles): Cycles bakes the source's detail in process
without a UI and in a background process with one, the results wear the maps, the CLI writes and
references them, and the source and the scene stay as they were. Small meshes and 512 px maps: fast."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np

from tests.support.cli import export_selected_obj, run_cli
from tests.support.layout import draw_panel
from tests.support.scene import fingerprint, select_only

SIZE = 512


def _bumpy(bpy, name: str = "Bumpy"):
    """A UV sphere with bumps (a displacement applied), red on top and blue below (two plain materials)."""
    bpy.ops.mesh.primitive_uv_sphere_add(segments=64, ring_count=32, radius=1.0)
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    bumps = 1.0 + 0.06 * np.sin(9 * co[:, 0]) * np.sin(9 * co[:, 1]) * np.sin(9 * co[:, 2] + 0.5)
    obj.data.vertices.foreach_set("co", (co * bumps[:, None]).ravel())
    for color in ((0.8, 0.05, 0.05, 1.0), (0.05, 0.05, 0.8, 1.0)):
        material = bpy.data.materials.new(f"{name}_{len(obj.data.materials)}")
        if bpy.app.version < (5, 0, 0):
            material.use_nodes = True
        material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = color
        obj.data.materials.append(material)
    centres = np.empty(len(obj.data.polygons) * 3, np.float32)
    obj.data.polygons.foreach_get("center", centres)
    obj.data.polygons.foreach_set("material_index", (centres.reshape(-1, 3)[:, 2] < 0).astype(np.int32))
    obj.data.update()
    select_only(obj)
    return obj


def _pixels(bpy, path) -> np.ndarray:
    image = bpy.data.images.load(str(path))
    try:
        assert tuple(image.size) == (SIZE, SIZE)
        return np.array(image.pixels[:], np.float32).reshape(SIZE, SIZE, 4)
    finally:
        bpy.data.images.remove(image)


def _wired(lod0) -> dict[str, object]:
    """The images on the Principled BSDF's Base Color and (through a Normal Map node) Normal inputs."""
    (material,) = [slot.material for slot in lod0.material_slots]
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    color_links = bsdf.inputs["Base Color"].links
    normal_map = bsdf.inputs["Normal"].links[0].from_node
    assert normal_map.type == "NORMAL_MAP"
    normal = normal_map.inputs["Color"].links[0].from_node
    ao = next((n for n in material.node_tree.nodes if n.type == "TEX_IMAGE" and n.label == "Occlusion"), None)
    color = color_links[0].from_node.image if color_links else None
    return {"material": material, "color": color, "normal": normal.image, "ao": ao and ao.image}


def _scene_view(bpy) -> tuple:
    scene = bpy.context.scene
    return (scene.render.engine, bpy.context.view_layer.objects.active.name,
            sorted(o.name for o in bpy.context.selected_objects), len(bpy.data.scenes))  # fmt: skip


def test_operator_bakes_in_process_and_dresses_lod0_and_lods(blank):
    bpy = blank
    source = _bumpy(bpy)
    before, view = fingerprint(source), _scene_view(bpy)
    materials = [m.name for m in source.data.materials]
    settings = source.retopo_hub
    settings.target_faces, settings.lod_levels = 300, 1
    settings.bake, settings.bake_size = {"n", "c", "a"}, SIZE
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    assert fingerprint(source) == before and [m.name for m in source.data.materials] == materials
    assert _scene_view(bpy) == view, "render engine, active object, selection and scenes must be restored"
    coll = bpy.data.collections["Bumpy_RetopoHub"]
    lod0, lod1 = coll.objects["Bumpy_retopo"], coll.objects["Bumpy_LOD1"]
    maps = json.loads(record.details_json)["maps"]
    assert set(maps) == {"normal", "color", "ao"} and all(Path(p).is_file() for p in maps.values())
    wired = _wired(lod0)
    assert {wired[k].filepath for k in ("normal", "color", "ao")} == set(maps.values())
    assert wired["normal"].colorspace_settings.name == "Non-Color"
    assert [s.material for s in lod1.material_slots] == [wired["material"]] and lod1.data.uv_layers

    color = _pixels(bpy, maps["color"])
    covered = color[..., :3].max(-1) > 0.1  # baked texels (and their padding); the rest stays black
    assert covered.mean() > 0.3
    color = color[covered]  # sRGB: the materials' 0.8 is 0.91, their 0.05 is 0.25
    assert ((color[:, 0] > 0.7) & (color[:, 2] < 0.4)).mean() > 0.2, "the red top is baked"
    assert ((color[:, 2] > 0.7) & (color[:, 0] < 0.4)).mean() > 0.2, "the blue bottom is baked"
    normal = _pixels(bpy, maps["normal"])[covered]
    assert normal[:, :2].std(axis=0).min() > 0.02, "the bumps must show in the normal map"
    ao = _pixels(bpy, maps["ao"])[covered][:, 0]
    assert ao.max() > 0.8 and ao.min() < ao.max()


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def test_cli_writes_maps_referenced_by_obj_glb_and_fbx(addon, blank, tmp_path, capsys):
    bpy = blank
    _bumpy(bpy)
    source = export_selected_obj(tmp_path / "bumpy.obj")
    out_dir, cache = tmp_path / "out", tmp_path / "cache"
    common = [source, "--out", out_dir, "--cache", cache, "--faces", 300, "--bake", "normal,color,ao"]
    common += ["--bake-size", SIZE, "--normal-convention", "directx", "--json"]
    for fmt in ("obj", "glb", "fbx"):
        code, out, err = run_cli(addon, [*common, "--format", fmt], capsys)
        assert code == 0, err
        (result,) = json.loads(out.strip().splitlines()[-1])["results"]
        (output,) = result["outputs"]
        files = {"normal": "normal", "color": "basecolor", "ao": "ao"}
        expected = {role: str(out_dir / f"bumpy_{name}.png") for role, name in files.items()}
        assert output["maps"] == expected, output
        assert result["settings"]["uv"] is True  # --bake implies --uv
        assert all(Path(p).is_file() for p in expected.values())
    mtl = (out_dir / "bumpy_retopo.mtl").read_text()
    assert "mtllib bumpy_retopo.mtl" in (out_dir / "bumpy_retopo.obj").read_text()
    for line in ("map_Kd bumpy_basecolor.png", "norm bumpy_normal.png", "map_Ka bumpy_ao.png"):
        assert line in mtl
    doc = _glb_json(out_dir / "bumpy_retopo.glb")
    assert len(doc["images"]) == 3 and all("bufferView" in image for image in doc["images"])
    (material,) = doc["materials"]
    assert {"normalTexture", "occlusionTexture"} <= set(material)
    assert "baseColorTexture" in material["pbrMetallicRoughness"]
    fbx = (out_dir / "bumpy_retopo.fbx").read_bytes()
    assert all(name.encode() in fbx for name in ("bumpy_basecolor.png", "bumpy_normal.png"))
    # DirectX: green points down, so the flipped green averages to about the same 0.5 but the material
    # flips it back for Blender.
    assert not list(out_dir.glob("*.part*"))


def test_ui_path_bakes_in_a_background_process_and_cancels(addon, blank, monkeypatch):
    bpy = blank
    source = _bumpy(bpy)
    before = fingerprint(source)
    settings = source.retopo_hub
    settings.target_faces, settings.uv = 300, True
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    lod0 = bpy.data.objects["Bumpy_retopo"]
    bake, steps = addon.jobs.bake, addon.jobs.step
    monkeypatch.setattr(bake, "has_ui", lambda: True)
    options = {"bake": "nc", "bake_size": SIZE}

    assert bake.start(record, source, lod0, options=options)
    run = addon.jobs.session.bakes()[record.job_id]
    assert record.state == "baking"
    started = time.monotonic()
    assert steps.step() is True  # busy, but it returns at once: the bake runs in another process
    assert time.monotonic() - started < 0.5
    assert run.process.poll() is None
    deadline = time.monotonic() + 120
    while steps.step() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record.state == "done", record.message
    maps = json.loads(record.details_json)["maps"]
    assert set(maps) == {"normal", "color"} and not run.folder.exists()
    assert _wired(lod0)["normal"].filepath == maps["normal"]
    assert fingerprint(source) == before

    maps_dir = Path(record.work_dir) / "maps"
    kept = sorted(maps_dir.iterdir())
    assert bake.start(record, source, lod0, options={"bake": "a", "bake_size": SIZE})
    run = addon.jobs.session.bakes()[record.job_id]
    time.sleep(0.3)
    assert bpy.ops.retopo_hub.cancel_job(job_id=record.job_id) == {"FINISHED"}  # the Jobs panel's Cancel
    assert run.process.poll() is not None, "the bake process must be gone"
    assert not run.folder.exists() and sorted(maps_dir.iterdir()) == kept, "no partial files may stay"
    assert record.state == "cancelled" and not addon.jobs.session.bakes()
    assert fingerprint(source) == before


def test_panel_shows_the_bake_settings_under_game_ready(blank):
    bpy = blank
    _bumpy(bpy)
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
    start = log.index(("label", "Game-Ready"))
    for name in ("uv", "bake", "bake_size", "normal_convention", "ray_distance"):
        assert log.index(("prop", name)) > start, name


def test_bake_onto_this_result_unwraps_and_bakes_a_result_without_uvs(blank):
    bpy = blank
    source = _bumpy(bpy)
    before = fingerprint(source)
    source.retopo_hub.target_faces = 300  # no UVs, no bake: as a cloud service's result comes back
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    lod0 = bpy.data.objects["Bumpy_retopo"]
    assert not lod0.data.uv_layers
    source.retopo_hub.bake, source.retopo_hub.bake_size = {"n"}, SIZE
    assert bpy.ops.retopo_hub.bake_result(job_id=record.job_id) == {"FINISHED"}
    assert lod0.data.uv_layers and set(json.loads(record.details_json)["maps"]) == {"normal"}
    assert _wired(lod0)["normal"].size[0] == SIZE
    assert fingerprint(source) == before


def test_cli_refuses_bad_bake_flags(addon, blank, tmp_path, capsys):
    bpy = blank
    _bumpy(bpy)
    source = export_selected_obj(tmp_path / "bumpy.obj")
    for argv, said in (
        (["--bake", "normal,shiny"], "--bake"),
        (["--bake-size", 256], "Bake Size must be a whole number between 512 and 8192"),
        (["--bake", "normal", "--provider", "csm"], "--bake does not apply to --provider csm"),
        (["--bake", "normal", "--provider", "tripo"], "--bake does not apply to --provider tripo"),
    ):
        code, _, err = run_cli(addon, [source, "--out", tmp_path / "out", "--dry-run", *argv], capsys)
        assert code == 2 and said in err, err
    parsed = addon.jobs.cli.build_parser().parse_args([str(source), "--out", "x", "--bake", "ao,normal"])
    assert parsed.bake == "na"  # names or letters, kept in the catalogue's order
    parsed = addon.jobs.cli.build_parser().parse_args([str(source), "--out", "x", "--no-tripo-bake"])
    assert parsed.tripo_bake is False


def test_color_bakes_from_an_image_texture_and_a_color_attribute(blank):
    """The source's Base Color from an image (half green, half red by U) and, on a second material, from a
    color attribute (yellow): the baked map carries all three."""
    bpy = blank
    source = _bumpy(bpy, "Textured")
    image = bpy.data.images.new("Textured_albedo", 64, 64, alpha=False)
    pixels = np.zeros((64, 64, 4), np.float32)
    pixels[..., 3] = 1.0
    pixels[:, :32, 1] = 0.8  # U < 0.5: green
    pixels[:, 32:, 0] = 0.8  # U > 0.5: red
    image.pixels.foreach_set(pixels.ravel())
    top, bottom = source.data.materials
    tree = top.node_tree
    texture = tree.nodes.new("ShaderNodeTexImage")
    texture.image = image
    tree.links.new(texture.outputs["Color"], tree.nodes["Principled BSDF"].inputs["Base Color"])
    colors = source.data.color_attributes.new("Paint", "FLOAT_COLOR", "POINT")
    colors.data.foreach_set(
        "color", np.tile([0.8, 0.8, 0.05, 1.0], len(source.data.vertices)).astype(np.float32)
    )
    attribute = bottom.node_tree.nodes.new("ShaderNodeAttribute")
    attribute.attribute_name = "Paint"
    bottom.node_tree.links.new(
        attribute.outputs["Color"], bottom.node_tree.nodes["Principled BSDF"].inputs["Base Color"]
    )
    settings = source.retopo_hub
    settings.target_faces, settings.bake, settings.bake_size = 300, {"c"}, SIZE
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    color = _pixels(bpy, json.loads(record.details_json)["maps"]["color"])
    color = color[color[..., :3].max(-1) > 0.1]
    red = (color[:, 0] > 0.7) & (color[:, 1] < 0.4) & (color[:, 2] < 0.4)
    green = (color[:, 1] > 0.7) & (color[:, 0] < 0.4) & (color[:, 2] < 0.4)
    yellow = (color[:, 0] > 0.7) & (color[:, 1] > 0.7) & (color[:, 2] < 0.4)
    assert red.mean() > 0.1 and green.mean() > 0.1, "both halves of the image are baked"
    assert yellow.mean() > 0.2, "the color attribute is baked"
