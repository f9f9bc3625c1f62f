# SPDX-License-Identifier: GPL-3.0-or-later
"""The panels of the README's pictures: stage one camera and light, render, put side by side, save.

Contract: ``stage(obj, azimuth, elevation)`` adds an orthographic camera framing ``obj`` (the same for
every panel of a picture), a soft key sun and a grey world, and returns a callable that removes them.
``render(objects, engine)`` renders only ``objects`` (Cycles for shaded panels, Workbench for the
wireframe) and returns RGBA display values, rows top to bottom; ``wireframe(obj)`` renders ``obj`` light
grey with its edges dark (a copy under a thin Wireframe modifier: the ``bpy`` module draws no viewport
overlay). ``labels(texts)`` renders one line of text per panel (Workbench text objects in a scene of
their own), ``compose(panels, strip)`` lays the panels side by side over a light background with that
strip under them, and ``save_png`` writes the sheet through ``bpy.data.images`` (no imaging library).
What these add (camera, suns, world, wire copy, label scene) is removed again; the scene's render settings
stay as the last render set them (the bench owns its scene). Main thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np
from harness import copy_object, remove_object, render_pixels
from mathutils import Vector

PANEL_PX = 400  # each panel is square
GAP_PX = 4
BACKGROUND = (0.93, 0.93, 0.93)  # display values, behind the transparent renders
SAMPLES = 16
WIRE_PX = 1.1  # the wireframe's width on screen, in pixels of a panel
SURFACE_GREY, WIRE_GREY = 0.8, 0.03
LABEL_PX, LABEL_TEXT_PX, LABEL_GREY = 34, 17, 0.05  # the strip under the panels, its text height and grey


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
        pixels = render_pixels()
    finally:
        for obj, flag in hidden.items():
            obj.hide_render = flag
    return pixels[::-1]


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
def labels(texts: list[str]) -> np.ndarray:
    """One line of dark text centred under each panel: RGBA of a LABEL_PX-high strip, rows top to bottom.

    Text objects rendered by Workbench in a scene of their own (no imaging library draws text here).
    """
    width = len(texts) * PANEL_PX + (len(texts) - 1) * GAP_PX
    scene = bpy.data.scenes.new("pictures_labels")
    camera = bpy.data.objects.new("pictures_labels", bpy.data.cameras.new("pictures_labels"))
    # One unit is 100 pixels: the strip spans x in [-width / 200, width / 200] seen from above.
    camera.data.type, camera.data.ortho_scale, camera.location = "ORTHO", width / 100.0, (0.0, 0.0, 10.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    curves = []
    for i, text in enumerate(texts):
        curve = bpy.data.curves.new(f"pictures_label{i}", "FONT")
        curve.body, curve.size, curve.align_x, curve.align_y = text, LABEL_TEXT_PX / 100.0, "CENTER", "CENTER"
        item = bpy.data.objects.new(curve.name, curve)
        item.location = ((i * (PANEL_PX + GAP_PX) + PANEL_PX / 2 - width / 2) / 100.0, 0.0, 0.0)
        scene.collection.objects.link(item)
        curves.append(curve)
    render = scene.render
    render.engine, render.film_transparent = "BLENDER_WORKBENCH", True
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, LABEL_PX, 100
    render.image_settings.file_format, render.image_settings.color_mode = "PNG", "RGBA"
    scene.view_settings.view_transform = "Standard"
    shading = scene.display.shading
    shading.light, shading.color_type, shading.single_color = "FLAT", "SINGLE", (LABEL_GREY,) * 3
    scene.display.render_aa = "16"
    try:
        pixels = render_pixels(scene)
    finally:
        for curve in curves:
            bpy.data.objects.remove(bpy.data.objects[curve.name], do_unlink=True)
            bpy.data.curves.remove(curve)
        bpy.data.objects.remove(camera, do_unlink=True)
        bpy.data.scenes.remove(scene)
    return pixels.reshape(LABEL_PX, width, 4)[::-1]


def compose(panels: list[np.ndarray], strip: np.ndarray | None = None) -> np.ndarray:
    """The panels over the background, side by side with a gap, the ``labels`` strip under them: RGB
    display values, rows top to bottom."""
    background = np.array(BACKGROUND, np.float32)
    width = len(panels) * PANEL_PX + (len(panels) - 1) * GAP_PX
    height = PANEL_PX + (0 if strip is None else LABEL_PX)
    sheet = np.ones((height, width, 3), np.float32)
    for i, panel in enumerate(panels):
        left = i * (PANEL_PX + GAP_PX)
        sheet[:PANEL_PX, left : left + PANEL_PX] = _over(panel, background)
    if strip is not None:
        under = sheet[PANEL_PX:]
        under[:] = background
        under[:] = _over(strip, under)
    return sheet


def _over(rgba: np.ndarray, background: np.ndarray) -> np.ndarray:
    # The renders' PNGs hold straight (not premultiplied) colour.
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + background * (1.0 - alpha)


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
