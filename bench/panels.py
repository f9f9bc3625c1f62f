# SPDX-License-Identifier: GPL-3.0-or-later
"""The panels of the README's pictures: stage one camera and light, render, put side by side, save.

Contract: ``stage(obj, azimuth, elevation)`` adds an orthographic camera framing ``obj`` (the same for
every panel of a picture), a key sun and a grey world, and returns a callable that removes them.
``render(objects, engine)`` renders only ``objects`` (Cycles for shaded panels, Workbench for the
wireframe) and returns RGBA display values, rows top to bottom; ``wireframe(obj)`` renders ``obj`` light
grey with its edges dark (a copy under a thin Wireframe modifier: the ``bpy`` module draws no viewport
overlay). ``compose(panels)`` lays them side by side over a light background and ``save_png`` writes
the sheet through ``bpy.data.images`` (no imaging library). Changes to the scene are undone. Main thread.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np
from harness import copy_object, remove_object
from mathutils import Vector

PANEL_PX = 400  # each panel is square
GAP_PX = 4
BACKGROUND = (0.93, 0.93, 0.93)  # display values, behind the transparent renders
SAMPLES = 16
WIRE_PX = 1.1  # the wireframe's width on screen, in pixels of a panel
SURFACE_GREY, WIRE_GREY = 0.8, 0.03


# -- staging -----------------------------------------------------------------------------------------
def _camera(obj, azimuth: float, elevation: float) -> bpy.types.Object:
    """An orthographic camera looking at ``obj`` from ``azimuth``/``elevation``, framing it with a margin."""
    corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
    centre = Vector(corners.mean(0))
    a, e = math.radians(azimuth), math.radians(elevation)
    toward = Vector((math.sin(a) * math.cos(e), -math.cos(a) * math.cos(e), math.sin(e)))
    camera = bpy.data.objects.new("pictures_camera", bpy.data.cameras.new("pictures_camera"))
    camera.rotation_euler = (-toward).to_track_quat("-Z", "Y").to_euler()
    rotation = np.array(camera.rotation_euler.to_matrix())
    # The corners in the camera's right/up axes: frame their extent and centre on it.
    right, up = corners @ rotation[:, 0], corners @ rotation[:, 1]
    size = float(max(np.ptp(right), np.ptp(up)))
    middle = rotation[:, 0] * (right.max() + right.min()) / 2 + rotation[:, 1] * (up.max() + up.min()) / 2
    depth = float(np.ptp(corners, 0).max())
    camera.location = Vector(middle) + toward * (toward.dot(centre) + 3.0 * depth)
    camera.data.type, camera.data.ortho_scale = "ORTHO", size * 1.08
    camera.data.clip_end = 10.0 * depth
    bpy.context.scene.collection.objects.link(camera)
    bpy.context.scene.camera = camera
    return camera


def stage(obj, azimuth: float, elevation: float) -> Callable[[], None]:
    """The camera, sun and world of a picture of ``obj``; returns the function that removes them."""
    scene = bpy.context.scene
    camera, sun, world = _camera(obj, azimuth, elevation), *_lights()
    kept_world = scene.world
    scene.world = world

    def unstage() -> None:
        scene.world = kept_world
        bpy.data.worlds.remove(world)
        for item in (camera, sun):
            bpy.data.objects.remove(item, do_unlink=True)

    return unstage


def _lights() -> tuple[bpy.types.Object, bpy.types.World]:
    """A key sun from the upper left and a grey world for the shadowed side; returns both (to remove)."""
    sun = bpy.data.objects.new("pictures_sun", bpy.data.lights.new("pictures_sun", "SUN"))
    sun.data.energy, sun.data.angle = 2.2, math.radians(3.0)
    sun.rotation_euler = (math.radians(50), math.radians(-30), math.radians(-20))
    bpy.context.scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("pictures_world")
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.35, 0.35, 0.37, 1.0)
    return sun, world


def _settings(engine: str) -> None:
    scene = bpy.context.scene
    render = scene.render
    render.engine, render.film_transparent = engine, True
    render.resolution_x = render.resolution_y = PANEL_PX
    render.resolution_percentage = 100
    render.image_settings.file_format, render.image_settings.color_mode = "PNG", "RGBA"
    scene.view_settings.view_transform = "Standard"
    if engine == "CYCLES":
        scene.cycles.device, scene.cycles.samples, scene.cycles.seed = "CPU", SAMPLES, 0
        # The grey world lights the shadowed side with noise; denoising cleans it (and trims the PNG).
        scene.cycles.max_bounces, scene.cycles.use_denoising = 1, True
    else:
        shading = scene.display.shading
        shading.light, shading.color_type = "STUDIO", "OBJECT"
        shading.show_cavity = shading.show_shadows = False
        scene.display.render_aa = "16"


def render(show: list[bpy.types.Object], engine: str) -> np.ndarray:
    """RGBA display values (rows top to bottom) of a render showing only the meshes in ``show``."""
    _settings(engine)
    hidden = {obj: obj.hide_render for obj in bpy.context.scene.objects if obj.type == "MESH"}
    for obj in hidden:
        obj.hide_render = obj not in show
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "panel.png"
            bpy.context.scene.render.filepath = str(path)
            bpy.ops.render.render(write_still=True)
            image = bpy.data.images.load(str(path))
            try:
                pixels = np.empty(PANEL_PX * PANEL_PX * 4, np.float32)
                image.pixels.foreach_get(pixels)
            finally:
                bpy.data.images.remove(image)
    finally:
        for obj, flag in hidden.items():
            obj.hide_render = flag
    return pixels.reshape(PANEL_PX, PANEL_PX, 4)[::-1]


def wireframe(obj) -> np.ndarray:
    """``obj`` light grey with its edges dark: a copy under a Wireframe modifier about WIRE_PX wide."""
    wire = copy_object(obj, f"{obj.name}_wire")
    pixel = bpy.context.scene.camera.data.ortho_scale / PANEL_PX
    modifier = wire.modifiers.new("wire", "WIREFRAME")
    modifier.thickness, modifier.offset = WIRE_PX * pixel, 0.0
    # Even Thickness would scale the frame by 1 / sin(corner angle): a sliver corner shoots a spike across.
    modifier.use_even_offset, modifier.use_replace, modifier.use_boundary = False, True, True
    kept = tuple(obj.color)
    obj.color = (SURFACE_GREY, SURFACE_GREY, SURFACE_GREY, 1.0)
    wire.color = (WIRE_GREY, WIRE_GREY, WIRE_GREY, 1.0)
    try:
        return render([obj, wire], "BLENDER_WORKBENCH")
    finally:
        obj.color = kept
        remove_object(wire)


# -- composing ---------------------------------------------------------------------------------------
def compose(panels: list[np.ndarray]) -> np.ndarray:
    """The panels over the background, side by side with a gap: RGB display values, rows top to bottom."""
    background = np.array(BACKGROUND, np.float32)
    width = len(panels) * PANEL_PX + (len(panels) - 1) * GAP_PX
    sheet = np.ones((PANEL_PX, width, 3), np.float32)
    for i, panel in enumerate(panels):
        alpha = panel[..., 3:4]
        left = i * (PANEL_PX + GAP_PX)
        # The renders' PNGs hold straight (not premultiplied) colour.
        sheet[:, left : left + PANEL_PX] = panel[..., :3] * alpha + background * (1.0 - alpha)
    return sheet


def save_png(sheet: np.ndarray, path: Path) -> None:
    """Write an RGB sheet (display values, rows top to bottom) as an 8-bit PNG through ``bpy.data.images``."""
    height, width = sheet.shape[:2]
    image = bpy.data.images.new(path.stem, width, height, alpha=False)
    try:
        rgba = np.concatenate([sheet, np.ones((height, width, 1), np.float32)], axis=2)
        image.pixels.foreach_set(np.clip(rgba[::-1], 0.0, 1.0).ravel())
        path.parent.mkdir(parents=True, exist_ok=True)
        image.filepath_raw, image.file_format = str(path), "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)
