# SPDX-License-Identifier: GPL-3.0-or-later
"""Baked maps: how much of the source's look they give back to LOD0, and the game-ready job's speed.

Quality (renders with Cycles in the ``bpy`` module, one orthographic camera, one sun, ``max_bounces`` 0, so
what differs is geometry and maps, not noise):
- shading: the source, LOD0 wearing its normal map and bare LOD0, each with the same white diffuse
  material; the mean absolute difference to the source inside both silhouettes, mapped over bare (goal
  <= 0.5x). On the pymeshlab bunny scan and the generated 82K bumpy sphere, 2,000 quads, 1024 px maps.
- albedo: the bunny given three materials (a procedural checker on its generated coordinates, a color
  attribute painted from its positions and a plain color, by region), rendered as albedo (each
  material's Base Color as emission, Standard view transform) against LOD0 wearing its baked base color
  map: mean absolute difference in display values inside both silhouettes (goal <= 0.05).
Speed, on the 1.3M-triangle sphere: the local job with ``bake`` normal+color at 2048 (remesh to 10,000
quads, xatlas unwrap, in-process bake; the operator's wall time, the bake's own seconds and the unwrap's
from the job) against Blender's manual pipeline scripted on a copy: QuadriFlow to 10,000 faces, Smart UV
Project, then Cycles "selected to active" bakes of normal and color (1 sample, the same cage) at 2048.
Goal: ours <= 0.25x. Each stage's time is reported. Runs only through ``bench/run.py --only bake``.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import bpy
import numpy as np
from harness import copy_object, remove_object, remove_results, render_pixels, say, select_only
from mathutils import Vector

RENDER_PX = 320
QUALITY_FACES, QUALITY_MAP = 2000, 1024
SPEED_FACES, SPEED_MAP = 10_000, 2048


# -- rendering ---------------------------------------------------------------------------------------
def _stage(obj) -> tuple[bpy.types.Object, bpy.types.Object]:
    """An orthographic camera framing ``obj`` from the front, and a grazing sun; returns both."""
    scene = bpy.context.scene
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    centre, size = corners.mean(0), float(np.ptp(corners, 0).max())
    camera = bpy.data.objects.new("bench_camera", bpy.data.cameras.new("bench_camera"))
    camera.data.type, camera.data.ortho_scale = "ORTHO", size * 1.15
    camera.location = Vector(centre) + Vector((0.0, -3.0 * size, 0.0))
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    sun = bpy.data.objects.new("bench_sun", bpy.data.lights.new("bench_sun", "SUN"))
    sun.data.energy, sun.data.angle = 3.0, 0.0
    sun.rotation_euler = (math.radians(60), math.radians(-35), math.radians(20))
    for item in (camera, sun):
        scene.collection.objects.link(item)
    scene.camera = camera
    render = scene.render
    render.engine, render.film_transparent = "CYCLES", True
    render.resolution_x = render.resolution_y = RENDER_PX
    render.resolution_percentage = 100
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    scene.cycles.samples, scene.cycles.max_bounces, scene.cycles.use_denoising = 8, 0, False
    scene.cycles.seed = 0
    scene.world = None
    return camera, sun


def _render(show: bpy.types.Object) -> np.ndarray:
    """RGBA floats of a render showing only ``show`` (and the camera and sun)."""
    hidden = {obj: obj.hide_render for obj in bpy.context.scene.objects if obj.type == "MESH"}
    for obj in hidden:
        obj.hide_render = obj is not show
    try:
        return _render_still()
    finally:
        for obj, flag in hidden.items():
            obj.hide_render = flag


def _render_still() -> np.ndarray:
    return render_pixels()


def _diffuse(name: str, normal_image=None) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    tree = material.node_tree
    tree.nodes.clear()
    out, bsdf = tree.nodes.new("ShaderNodeOutputMaterial"), tree.nodes.new("ShaderNodeBsdfDiffuse")
    bsdf.inputs["Color"].default_value = (0.8, 0.8, 0.8, 1.0)
    tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    if normal_image is not None:
        tex, normal_map = tree.nodes.new("ShaderNodeTexImage"), tree.nodes.new("ShaderNodeNormalMap")
        tex.image = normal_image
        tree.links.new(tex.outputs["Color"], normal_map.inputs["Color"])
        tree.links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
    return material


def _wearing(obj, materials) -> None:
    obj.data.materials.clear()
    for material in materials:
        obj.data.materials.append(material)


def _mad(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(a[mask][:, :3] - b[mask][:, :3]).mean())


def game_ready_job(obj, faces: int, size: int, maps: set[str], levels: int = 0) -> tuple[float, Any]:
    """Our game-ready job on ``obj`` (blocking), with ``levels`` LoDs: (wall seconds, its record); the
    pictures and the LoD look sections run it too."""
    select_only(obj)
    settings = obj.retopo_hub
    settings.provider, settings.mode, settings.target_faces, settings.lod_levels = (
        "local",
        "quad",
        faces,
        levels,
    )
    settings.uv, settings.bake, settings.bake_size = True, maps, size
    started = time.perf_counter()
    result = bpy.ops.retopo_hub.submit()
    seconds = time.perf_counter() - started
    record = bpy.context.scene.retopo_hub.jobs[-1]
    if result != {"FINISHED"} or "maps" not in json.loads(record.details_json):
        raise RuntimeError(f"the bake job on {obj.name} failed: {record.message}")
    return seconds, record


# -- quality -----------------------------------------------------------------------------------------
def shading_case(addon, obj) -> dict[str, Any]:
    _seconds, record = game_ready_job(obj, QUALITY_FACES, QUALITY_MAP, {"n"})
    lod0 = bpy.data.objects[f"{obj.name}_retopo"]
    details = json.loads(record.details_json)
    normal_image = bpy.data.images.load(details["maps"]["normal"], check_existing=True)
    normal_image.colorspace_settings.name = "Non-Color"
    kept_source = list(obj.data.materials)
    camera, sun = _stage(obj)
    try:
        white, mapped = _diffuse("bench_white"), _diffuse("bench_mapped", normal_image)
        _wearing(obj, [white])
        source = _render(obj)
        _wearing(lod0, [white])
        bare = _render(lod0)
        _wearing(lod0, [mapped])
        with_map = _render(lod0)
    finally:
        _wearing(obj, kept_source)
        for item in (camera, sun):
            bpy.data.objects.remove(item, do_unlink=True)
    mask = (source[..., 3] > 0.99) & (bare[..., 3] > 0.99) & (with_map[..., 3] > 0.99)
    bare_diff, mapped_diff = _mad(bare, source, mask), _mad(with_map, source, mask)
    ratio = mapped_diff / bare_diff if bare_diff else float("nan")
    remove_results(obj.name)
    return {
        "mesh": obj.name, "source_faces": len(obj.data.polygons), "lod0_faces": record.faces_achieved,
        "map_px": QUALITY_MAP, "bare_diff": round(bare_diff, 4), "mapped_diff": round(mapped_diff, 4),
        "ratio": round(ratio, 3), "goal_met": ratio <= 0.5, "ray_distance": details["ray_distance"],
        "bake_seconds": details["bake_seconds"],
    }  # fmt: skip


def _textured(obj) -> list[bpy.types.Material]:
    """Three materials by region on ``obj``: checker, color attribute, plain color; returns them."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    low, high = co.min(0), co.max(0)
    paint = mesh.color_attributes.new("bench_paint", "FLOAT_COLOR", "POINT")
    t = (co - low) / np.maximum(high - low, 1e-9)
    paint.data.foreach_set("color", np.column_stack([t[:, 0], 1 - t[:, 2], t[:, 1], np.ones(len(t))]).ravel())
    materials = []
    for kind in ("checker", "attribute", "plain"):
        material = bpy.data.materials.new(f"bench_{kind}")
        tree = material.node_tree
        bsdf = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
        if kind == "checker":
            checker = tree.nodes.new("ShaderNodeTexChecker")
            checker.inputs["Scale"].default_value = 6.0
            checker.inputs["Color1"].default_value = (0.9, 0.6, 0.1, 1.0)
            checker.inputs["Color2"].default_value = (0.1, 0.2, 0.6, 1.0)
            tree.links.new(checker.outputs["Color"], bsdf.inputs["Base Color"])
        elif kind == "attribute":
            attribute = tree.nodes.new("ShaderNodeAttribute")
            attribute.attribute_name = "bench_paint"
            tree.links.new(attribute.outputs["Color"], bsdf.inputs["Base Color"])
        else:
            bsdf.inputs["Base Color"].default_value = (0.2, 0.7, 0.3, 1.0)
        materials.append(material)
    _wearing(obj, materials)
    centres = np.empty(len(mesh.polygons) * 3, np.float32)
    mesh.polygons.foreach_get("center", centres)
    x = (centres.reshape(-1, 3)[:, 0] - low[0]) / max(high[0] - low[0], 1e-9)
    mesh.polygons.foreach_set("material_index", np.minimum((x * 3).astype(np.int32), 2))
    mesh.update()
    return materials


def _as_albedo(materials) -> list:
    """Each material's surface becomes an emission of what feeds its Base Color; returns the undo list."""
    undo = []
    for material in materials:
        tree = material.node_tree
        bsdf = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
        out = next(n for n in tree.nodes if n.type == "OUTPUT_MATERIAL")
        emission = tree.nodes.new("ShaderNodeEmission")
        base = bsdf.inputs["Base Color"]
        if base.links:
            tree.links.new(base.links[0].from_socket, emission.inputs["Color"])
        else:
            emission.inputs["Color"].default_value = base.default_value
        tree.links.new(emission.outputs["Emission"], out.inputs["Surface"])
        undo.append((tree, bsdf, out, emission))
    return undo


def albedo_case(addon, obj) -> dict[str, Any]:
    work = copy_object(obj, f"{obj.name}_textured")
    _textured(work)
    _seconds, record = game_ready_job(work, QUALITY_FACES, QUALITY_MAP, {"c"})
    lod0 = bpy.data.objects[f"{work.name}_retopo"]
    camera, sun = _stage(work)
    try:
        undo = _as_albedo([*work.data.materials, *lod0.data.materials])
        source = _render(work)
        baked = _render(lod0)
        for tree, bsdf, out, emission in undo:
            tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
            tree.nodes.remove(emission)
    finally:
        for item in (camera, sun):
            bpy.data.objects.remove(item, do_unlink=True)
    mask = (source[..., 3] > 0.99) & (baked[..., 3] > 0.99)
    diff = _mad(baked, source, mask)
    details = json.loads(record.details_json)
    remove_results(work.name)
    remove_object(work)
    return {
        "mesh": f"{obj.name} with checker, color attribute and plain materials", "map_px": QUALITY_MAP,
        "lod0_faces": record.faces_achieved, "albedo_diff": round(diff, 4), "goal_met": diff <= 0.05,
        "bake_seconds": details["bake_seconds"],
    }  # fmt: skip


# -- speed -------------------------------------------------------------------------------------------
def _manual(obj, distance: float) -> dict[str, float]:
    """Blender's manual pipeline on a copy: QuadriFlow, Smart UV Project, Cycles bakes (seconds each)."""
    copy = copy_object(obj, f"{obj.name}_manual")
    times: dict[str, float] = {}
    scene = bpy.context.scene
    engine = scene.render.engine
    images = []
    try:
        select_only(copy)
        with bpy.context.temp_override(active_object=copy, object=copy, selected_objects=[copy]):
            started = time.perf_counter()
            bpy.ops.object.quadriflow_remesh(mode="FACES", target_faces=SPEED_FACES, seed=0)
            times["remesh"] = time.perf_counter() - started
            bpy.ops.object.mode_set(mode="EDIT")
            bpy.ops.mesh.select_all(action="SELECT")
            started = time.perf_counter()
            bpy.ops.uv.smart_project(island_margin=0.002)
            times["uv"] = time.perf_counter() - started
            bpy.ops.object.mode_set(mode="OBJECT")
        if not copy.data.uv_layers:
            raise RuntimeError("Smart UV Project made no UVs on the manual pipeline's mesh")
        copy.data.materials.clear()
        material = bpy.data.materials.new("bench_manual")
        node = material.node_tree.nodes.new("ShaderNodeTexImage")
        material.node_tree.nodes.active = node
        copy.data.materials.append(material)
        scene.render.engine, scene.cycles.samples = "CYCLES", 1
        select_only(copy)
        obj.select_set(True)
        bpy.context.view_layer.objects.active = copy
        started = time.perf_counter()
        for kind, data in (("NORMAL", True), ("DIFFUSE", False)):
            image = bpy.data.images.new(f"bench_{kind}", SPEED_MAP, SPEED_MAP, is_data=data)
            images.append(image)
            node.image = image
            bpy.ops.object.bake(
                type=kind, pass_filter={"COLOR"} if kind == "DIFFUSE" else set(), use_selected_to_active=True,
                cage_extrusion=distance, max_ray_distance=2 * distance, margin=16,
            )  # fmt: skip
        times["bake"] = time.perf_counter() - started
    finally:
        scene.render.engine = engine
        remove_object(copy)
        for image in images:
            bpy.data.images.remove(image)
        select_only(obj)
    times["total"] = sum(times.values())
    return times


def speed_case(addon, obj) -> dict[str, Any]:
    seconds, record = game_ready_job(obj, SPEED_FACES, SPEED_MAP, {"n", "c"})
    details = json.loads(record.details_json)
    lod0 = bpy.data.objects[f"{obj.name}_retopo"]
    uv_seconds = float(json.loads(lod0.get("retopo_hub_uv") or "{}").get("seconds") or 0.0)
    ours = {"total": seconds, "bake": details["bake_seconds"], "uv (in the engine)": uv_seconds}
    ours["remesh and the rest"] = seconds - ours["bake"] - uv_seconds
    remove_results(obj.name)
    say("bake: Blender's manual pipeline on the big mesh (QuadriFlow, Smart UV Project, Cycles bakes)")
    manual = _manual(obj, float(details["ray_distance"]))
    ratio = ours["total"] / manual["total"]
    return {
        "mesh": obj.name, "source_faces": len(obj.data.polygons), "faces": SPEED_FACES, "map_px": SPEED_MAP,
        "ours": {k: round(v, 2) for k, v in ours.items()},
        "manual": {k: round(v, 2) for k, v in manual.items()},
        "ratio": round(ratio, 3), "goal_met": ratio <= 0.25,
    }  # fmt: skip


def run(addon, inputs, *, quick: bool) -> dict[str, Any]:
    shading = []
    for key in ("bunny", "sphere_100k"):
        say(f"bake: shading with the normal map on {inputs[key].obj.name}")
        shading.append(shading_case(addon, inputs[key].obj))
    say("bake: albedo of the base color map")
    albedo = albedo_case(addon, inputs["bunny"].obj)
    say(f"bake: speed of the game-ready job on {inputs['big'].obj.name}")
    speed = speed_case(addon, inputs["big"].obj)
    return {"shading": shading, "albedo": albedo, "speed": speed, "quick": quick}


def lines(bake: dict[str, Any]) -> list[str]:
    """The Markdown of the bake section (bench/report.py)."""
    out = ["| mesh | source faces | LOD0 faces | bare vs source | mapped vs source | ratio (goal <= 0.5) |",
           "|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for row in bake["shading"]:
        met = "yes" if row["goal_met"] else "**NO**"
        figures = f"{row['bare_diff']:.4f} | {row['mapped_diff']:.4f} | {row['ratio']:.3f}x {met}"
        out.append(f"| {row['mesh']} | {row['source_faces']:,} | {row['lod0_faces']:,} | {figures} |")
    a = bake["albedo"]
    out += ["", f"Albedo ({a['mesh']}, {a['map_px']} px map): mean absolute difference "
            f"{a['albedo_diff']:.4f} (goal <= 0.05: {'yes' if a['goal_met'] else '**NO**'})."]  # fmt: skip
    s = bake["speed"]
    stages = lambda d: ", ".join(f"{k} {v:.2f} s" for k, v in d.items())  # noqa: E731
    out += ["", f"Speed on {s['mesh']} ({s['source_faces']:,} faces -> {s['faces']:,}, normal and color at "
            f"{s['map_px']} px): ours {stages(s['ours'])}; Blender's manual pipeline {stages(s['manual'])}; "
            f"ratio {s['ratio']:.3f}x (goal <= 0.25x: {'yes' if s['goal_met'] else '**NO**'})."]  # fmt: skip
    return out
