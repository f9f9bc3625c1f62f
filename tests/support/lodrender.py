# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 14's look measure: does a LoD level rendered with LOD0's base color map look like LOD0 from the
distance where it switches in? Cycles renders in a throwaway scene; the measured objects are never touched.

Definition (``pixels_worth``). Both objects are rendered with one material: LOD0's base color map as
emission of strength 1 (``albedo_material``; no lights, no bounces, Standard view transform, so a pixel shows
the map's value where the surface is seen and the figure is about geometry and UVs, not lighting), on a
transparent film. Per pixel, the error is the largest of |dR|, |dG|, |dB| and |dA|, in display values 0..1
(what the view transform wrote to the 16-bit PNG) with RGB premultiplied by alpha (over transparent black):
a pixel the object covers in one render only counts fully through alpha, whatever its colour. The figure is
the sum of the per-pixel errors over the screen: how many fully wrong pixels the differences amount to. The
goal is a figure <= 1 at the level's switch distance.

The camera (``View``) is what core/lodmath.py assumes: perspective, a ``fov`` degree horizontal view on a
``screen_width`` px wide 16:9 screen, at ``distance`` from LOD0's bounding-sphere centre (the centre of its
bounding box, as lodmath.bounding_radius has it) along a view direction, looking at that centre; distances
and directions are in LOD0's object space (the world through its matrix, which assumes a uniform scale).
Only the screen's central window that holds both objects (their projected vertices plus MARGIN_PX, even
sizes so the window's pixels are the screen's own) is rendered: the same pixels, far fewer of them.

Both renders of a pair use the same Cycles sampling (fixed seed, fixed sample count, no adaptive sampling,
no denoising): sample k of pixel p is the same camera ray in both, so what differs is where those rays land
on the two surfaces and what the map holds there. ``noise_floor`` measures what sampling alone makes of
the figure: LOD0 against itself with the same seed (determinism) and with another seed (the anti-aliasing
noise of this sample count).

Main thread, bpy only: imported by tests/blender and bench/lodlook.py.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

SCREEN_ASPECT = 16.0 / 9.0
# Pixels around the projected vertices: Cycles' default pixel filter (Blackman-Harris, 1.5 px wide) spreads a
# surface a little further than its outline.
MARGIN_PX = 3
SAMPLES = 64
# Six directions around the object (object space): the four sides a little from above, then top and bottom,
# each a little off the axes so no view looks exactly along a flat side.
VIEWS = (
    (1.0, -0.3, 0.35),
    (-0.3, -1.0, 0.35),
    (-1.0, 0.3, 0.35),
    (0.3, 1.0, 0.35),
    (0.2, 0.15, 1.0),
    (-0.15, -0.2, -1.0),
)


@dataclass(frozen=True)
class View:
    """The camera: ``distance`` (object units) from the bounding-sphere centre along ``direction`` (object
    space, any length), on a screen ``screen_width`` px wide with a ``fov`` degree horizontal view."""

    direction: Sequence[float]
    distance: float
    screen_width: int = 1920
    fov: float = 60.0


def pixels_worth(a: np.ndarray, b: np.ndarray) -> float:
    """The measure (module docstring) of two straight-alpha RGBA renders (H, W, 4) in 0..1."""
    return float(_per_pixel(a, b).sum())


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    rgba = np.asarray(rgba, np.float64)
    return np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=-1)


def _per_pixel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(_premultiplied(a) - _premultiplied(b)).max(-1)


@dataclass(frozen=True)
class Figures:
    """One view's comparison. ``pixels_worth`` is the measure; the rest says what it is made of:
    ``silhouette`` the part from pixels either render covers only partly (alpha < 1), ``worst_pixel`` the
    largest per-pixel error, ``edge_shift_px`` the measure over LOD0's edge content (the sum over pixels of
    the largest channel's central-difference gradient length, premultiplied RGBA): for edges that moved by
    ``s`` px the sum is about ``s`` times that content, so this reads as the contrast-weighted mean shift of
    LOD0's edges (outline and map), in screen pixels. ``window`` is the rendered window (width, height)."""

    pixels_worth: float
    silhouette: float
    worst_pixel: float
    edge_shift_px: float
    window: tuple[int, int]


def compare(lod0_render: np.ndarray, level_render: np.ndarray) -> Figures:
    per_pixel = _per_pixel(lod0_render, level_render)
    partial = (np.asarray(lod0_render)[..., 3] < 1.0) | (np.asarray(level_render)[..., 3] < 1.0)
    gy, gx = np.gradient(_premultiplied(lod0_render), axis=(0, 1))
    edges = float(np.sqrt(gx**2 + gy**2).max(-1).sum())
    return Figures(
        pixels_worth=float(per_pixel.sum()),
        silhouette=float(per_pixel[partial].sum()),
        worst_pixel=float(per_pixel.max(initial=0.0)),
        edge_shift_px=float(per_pixel.sum()) / edges if edges > 0 else 0.0,
        window=(int(per_pixel.shape[1]), int(per_pixel.shape[0])),
    )


def albedo_material(image: bpy.types.Image, name: str = "lodrender_albedo") -> bpy.types.Material:
    """``image`` on the active render UV map, as emission of strength 1: what the surface shows is the map."""
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True  # always on (and deprecated) from Blender 5.0
    tree = material.node_tree
    tree.nodes.clear()
    texture, emission = tree.nodes.new("ShaderNodeTexImage"), tree.nodes.new("ShaderNodeEmission")
    texture.image = image
    emission.inputs["Strength"].default_value = 1.0
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(texture.outputs["Color"], emission.inputs["Color"])
    tree.links.new(emission.outputs["Emission"], out.inputs["Surface"])
    return material


def bounding_sphere(obj: bpy.types.Object) -> tuple[np.ndarray, float]:
    """(centre, radius) in object space: the bounding box's centre and half its diagonal (lodmath's)."""
    co = _object_verts(obj)
    low, high = co.min(0), co.max(0)
    return (low + high) / 2.0, float(np.linalg.norm(high - low) / 2.0)


def _object_verts(obj: bpy.types.Object) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def _world(matrix: Matrix, points: np.ndarray) -> np.ndarray:
    m = np.array(matrix, np.float64)
    return points @ m[:3, :3].T + m[:3, 3]


def _focal_px(view: View) -> float:
    """Pixels per unit of tan(angle) on the screen: the same for the full screen and its central window."""
    return view.screen_width / (2.0 * math.tan(math.radians(view.fov) / 2.0))


def _camera_frame(lod0: bpy.types.Object, view: View) -> np.ndarray:
    """The camera's 4x4 world matrix (columns: right, up, backward, position), looking at LOD0's centre."""
    centre, _ = bounding_sphere(lod0)
    direction = np.asarray(view.direction, np.float64)
    direction = direction / np.linalg.norm(direction)
    centre_w, eye_w = _world(lod0.matrix_world, np.stack([centre, centre + view.distance * direction]))
    back = eye_w - centre_w
    back /= np.linalg.norm(back)
    hint = np.array([0.0, 0.0, 1.0]) if abs(back[2]) < 0.95 else np.array([0.0, 1.0, 0.0])
    right = np.cross(hint, back)
    right /= np.linalg.norm(right)
    frame = np.eye(4)
    frame[:3, :3], frame[:3, 3] = np.stack([right, np.cross(back, right), back], axis=1), eye_w
    return frame


def _window(objects: Sequence[bpy.types.Object], frame: np.ndarray, view: View) -> tuple[int, int]:
    """(width, height) in px of the screen's central window that holds every object's projected vertices
    (``frame``: the camera's world matrix)."""
    focal, eye, rotation = _focal_px(view), frame[:3, 3], frame[:3, :3]
    full_w, full_h = view.screen_width, round(view.screen_width / SCREEN_ASPECT)
    half_w = half_h = 0.0
    for obj in objects:
        local = (_world(obj.matrix_world, _object_verts(obj)) - eye) @ rotation
        depth = -local[:, 2]
        if (depth <= 1e-9).any():  # the camera is inside the object: the whole screen
            return full_w, full_h
        half_w = max(half_w, float(np.abs(local[:, 0] / depth).max()) * focal)
        half_h = max(half_h, float(np.abs(local[:, 1] / depth).max()) * focal)
    # Even sizes keep the window's pixel centres on the full screen's (whose sizes are even).
    width = min(full_w, 2 * (math.ceil(half_w) + MARGIN_PX))
    height = min(full_h, 2 * (math.ceil(half_h) + MARGIN_PX))
    return width, height


@contextmanager
def _stage(samples: int) -> Iterator[bpy.types.Scene]:
    """A throwaway scene set up for the measure; removed (with its camera) on exit."""
    scene = bpy.data.scenes.new("lodrender")
    camera = bpy.data.objects.new("lodrender_camera", bpy.data.cameras.new("lodrender_camera"))
    try:
        scene.collection.objects.link(camera)
        scene.camera = camera
        render = scene.render
        render.engine, render.film_transparent = "CYCLES", True
        render.resolution_percentage, render.pixel_aspect_x, render.pixel_aspect_y = 100, 1.0, 1.0
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode, render.image_settings.color_depth = "RGBA", "16"
        scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
        scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
        cycles = scene.cycles
        cycles.device, cycles.samples, cycles.use_animated_seed = "CPU", samples, False
        cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces = False, False, 0
        scene.world = None
        camera.data.type, camera.data.sensor_fit = "PERSP", "HORIZONTAL"
        yield scene
    finally:
        data = camera.data
        bpy.data.objects.remove(camera, do_unlink=True)
        bpy.data.cameras.remove(data)
        bpy.data.scenes.remove(scene)


def _stand_in(
    obj: bpy.types.Object, material: bpy.types.Material, scene: bpy.types.Scene
) -> bpy.types.Object:
    """A copy of ``obj``'s mesh, at its world placement, wearing ``material`` in every slot."""
    mesh = obj.data.copy()
    mesh.materials.clear()
    for _ in range(max(1, len(obj.material_slots))):
        mesh.materials.append(material)
    copy = bpy.data.objects.new(f"lodrender_{obj.name}", mesh)
    copy.matrix_world = obj.matrix_world.copy()
    scene.collection.objects.link(copy)
    copy.hide_render = True
    return copy


def _render_still(scene: bpy.types.Scene, width: int, height: int) -> np.ndarray:
    scene.render.resolution_x, scene.render.resolution_y = width, height
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "render.png"
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True, scene=scene.name)
        image = bpy.data.images.load(str(path))
        # The file's own values: display-referred (the Standard view transform's) with straight alpha; Blender
        # would otherwise hand a 16-bit PNG back linearised and premultiplied.
        image.colorspace_settings.name, image.alpha_mode = "Non-Color", "CHANNEL_PACKED"
        try:
            return np.array(image.pixels[:], np.float32).reshape(height, width, 4)
        finally:
            bpy.data.images.remove(image)


def _aim(scene: bpy.types.Scene, lod0: bpy.types.Object, shown: list, view: View) -> tuple[int, int]:
    """Point the scene's camera as ``view`` says and narrow it to the window holding ``shown``; its size."""
    frame = _camera_frame(lod0, view)
    width, height = _window(shown, frame, view)
    camera = scene.camera.data
    camera.angle_x = 2.0 * math.atan(width / (2.0 * _focal_px(view)))
    centre, radius = bounding_sphere(lod0)
    distance = float(np.linalg.norm(frame[:3, 3] - _world(lod0.matrix_world, centre[None])[0]))
    world_radius = radius * distance / max(view.distance, 1e-30)  # object units -> world units
    camera.clip_start, camera.clip_end = max(1e-6, 1e-3 * distance), distance + 4.0 * world_radius
    scene.camera.matrix_world = Matrix(frame.tolist())
    return width, height


def render_pair(
    lod0: bpy.types.Object,
    level: bpy.types.Object,
    image: bpy.types.Image,
    view: View,
    *,
    samples: int = SAMPLES,
    seeds: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray]:
    """LOD0 and ``level`` (which may be LOD0 itself) rendered from ``view`` with ``image`` as their albedo,
    the first with Cycles seed ``seeds[0]``, the second with ``seeds[1]``: two RGBA arrays (H, W, 4)."""
    material = albedo_material(image)
    out = []
    try:
        with _stage(samples) as scene:
            shown = [_stand_in(lod0, material, scene), _stand_in(level, material, scene)]
            try:
                width, height = _aim(scene, lod0, shown, view)
                for obj, seed in zip(shown, seeds, strict=True):
                    scene.cycles.seed = seed
                    for other in shown:
                        other.hide_render = other is not obj
                    out.append(_render_still(scene, width, height))
            finally:
                for obj in shown:
                    mesh = obj.data
                    bpy.data.objects.remove(obj, do_unlink=True)
                    bpy.data.meshes.remove(mesh)
    finally:
        bpy.data.materials.remove(material)
    return out[0], out[1]


def level_figures(
    lod0: bpy.types.Object,
    level: bpy.types.Object,
    image: bpy.types.Image,
    distance: float,
    *,
    views: Sequence[Sequence[float]] = VIEWS,
    screen_width: int = 1920,
    fov: float = 60.0,
    samples: int = SAMPLES,
) -> list[Figures]:
    """``level`` against LOD0 from ``distance``, one ``Figures`` per view direction."""
    return [
        compare(
            *render_pair(lod0, level, image, View(tuple(d), distance, screen_width, fov), samples=samples)
        )
        for d in views
    ]


def noise_floor(
    lod0: bpy.types.Object, image: bpy.types.Image, view: View, *, samples: int = SAMPLES
) -> dict[str, float]:
    """LOD0 against itself from ``view``: ``same_seed`` (0 when the renders are deterministic: the floor of
    every pair measured here) and ``other_seed`` (what this sample count's anti-aliasing noise alone would
    add if the two renders of a pair did not share their samples)."""
    same = pixels_worth(*render_pair(lod0, lod0, image, view, samples=samples, seeds=(0, 0)))
    other = pixels_worth(*render_pair(lod0, lod0, image, view, samples=samples, seeds=(0, 1)))
    return {"same_seed": same, "other_seed": other}
