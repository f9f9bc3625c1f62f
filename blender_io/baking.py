# SPDX-License-Identifier: GPL-3.0-or-later
"""Bake a source object's detail onto a result with Blender's own Cycles baker ("selected to active").

Contract: ``bake_maps(source, target, request, out_dir)`` writes ``<map>.png`` into ``out_dir`` for each map
of ``request.maps`` (``normal``: tangent space, MikkTSpace, OpenGL or DirectX green; ``color``: DIFFUSE with
only the COLOR pass, so image textures, color attributes and plain material colors all bake, across every
material; ``ao``) and returns ``({map: path}, ray distance used)``. Every PNG appears only complete (written
as ``.part.png``, then renamed). The bake runs in a temporary scene holding the source and a temporary copy
of the target, so neither object, the user's scene, its selection, active object and render engine change;
everything temporary is removed whatever happens. The ray distance (cage extrusion; rays reach as far
inside) is measured between the two surfaces unless ``request.ray_distance`` overrides it.

Runs in Blender's main thread, in the user's Blender (no UI: ``jobs.bake`` calls it in process) or in a
background Blender started for one bake (``blender_io/bake_child.py``). Imports only bpy, mathutils, numpy
and the stdlib, so the background script can load this file on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils.bvhtree import BVHTree

MAPS = ("normal", "color", "ao")
AO_SAMPLES = 16  # normal and color need one sample: there is no noise to average out
SOURCE_SAMPLE = 20_000  # source points measured for the auto ray distance (a random subset beyond this)


@dataclass(frozen=True)
class BakeRequest:
    maps: tuple[str, ...]
    size: int = 2048
    convention: str = "opengl"  # or "directx": the green channel points down
    ray_distance: float = 0.0  # 0: measured


def margin_for(size: int) -> int:
    """Padding in pixels, enough that mip levels down to 1/128 of the size (16 px at 2048) do not bleed."""
    return max(4, size // 128)


def _world_verts(obj, depsgraph) -> np.ndarray:
    mesh = obj.evaluated_get(depsgraph).data
    verts = np.empty(len(mesh.vertices) * 3, np.float64)
    mesh.vertices.foreach_get("co", verts)
    matrix = np.array(obj.matrix_world, np.float64)
    return verts.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]


def _largest_gap(points: np.ndarray, obj, depsgraph) -> float:
    """The largest world-space distance from ``points`` to ``obj``'s evaluated surface."""
    tree = BVHTree.FromObject(obj, depsgraph)  # built in C, in the object's own space
    matrix = np.array(obj.matrix_world, np.float64)
    local = (points - matrix[:3, 3]) @ np.linalg.inv(matrix[:3, :3]).T
    nearest = [tree.find_nearest(point)[0] for point in local.tolist()]
    found = np.array([tuple(p) for p in nearest if p is not None], np.float64).reshape(-1, 3)
    world = found @ matrix[:3, :3].T + matrix[:3, 3]
    keep = np.array([p is not None for p in nearest])
    return float(np.linalg.norm(world - points[keep], axis=1).max(initial=0.0))


def measure_ray_distance(source, target, depsgraph) -> float:
    """How far apart the two surfaces lie at most (both ways), with a margin: the cage that catches all of
    the source's detail around the target without reaching across thin parts."""
    src_verts, dst_verts = _world_verts(source, depsgraph), _world_verts(target, depsgraph)
    if len(src_verts) == 0 or len(dst_verts) == 0:
        return 0.0
    rng = np.random.default_rng(0)
    sample = src_verts if len(src_verts) <= SOURCE_SAMPLE else rng.choice(src_verts, SOURCE_SAMPLE, False)
    gap = max(_largest_gap(dst_verts, source, depsgraph), _largest_gap(sample, target, depsgraph))
    diagonal = float(np.linalg.norm(src_verts.max(0) - src_verts.min(0)))
    return max(gap * 1.25, diagonal * 0.002) + diagonal * 1e-4


def _bake_material(name: str) -> tuple[bpy.types.Material, bpy.types.ShaderNode]:
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True  # always on (and deprecated) from Blender 5.0
    node = material.node_tree.nodes.new("ShaderNodeTexImage")
    material.node_tree.nodes.active = node
    return material, node


def _save_png(image: bpy.types.Image, path: Path) -> None:
    part = path.with_name(path.stem + ".part.png")
    try:
        image.filepath_raw = str(part)
        image.file_format = "PNG"
        image.save()
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def bake_maps(source, target, request: BakeRequest, out_dir: Path) -> tuple[dict[str, str], float]:
    """Bake ``request.maps`` from ``source`` onto ``target``'s active UVs into ``out_dir`` (the module)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = bpy.data.scenes.new("RetopoHub_bake")
    copy = target.copy()
    copy.data = target.data.copy()
    material, node = _bake_material("RetopoHub_bake")
    world = bpy.data.worlds.new("RetopoHub_bake")
    images: list[bpy.types.Image] = []
    try:
        scene.world = world
        scene.render.engine = "CYCLES"
        scene.cycles.device = "CPU"
        scene.collection.objects.link(source)
        scene.collection.objects.link(copy)
        copy.data.materials.clear()
        copy.data.materials.append(material)
        copy.data.polygons.foreach_set("material_index", np.zeros(len(copy.data.polygons), np.int32))
        # The low-poly copy only says where to bake: it must not shadow the source (AO) or be seen by it.
        for flag in ("visible_camera", "visible_diffuse", "visible_glossy", "visible_transmission",
                     "visible_volume_scatter", "visible_shadow"):  # fmt: skip
            setattr(copy, flag, False)
        view_layer = scene.view_layers[0]
        depsgraph = view_layer.depsgraph
        depsgraph.update()
        distance = request.ray_distance or measure_ray_distance(source, copy, depsgraph)
        # AO: occluders within a tenth of the object's size (the whole object would darken every cavity).
        world.light_settings.distance = max(source.dimensions.length * 0.1, distance, 1e-3)
        found: dict[str, str] = {}
        override = {
            "scene": scene, "view_layer": view_layer, "active_object": copy, "object": copy,
            "selected_objects": [source, copy], "selected_editable_objects": [source, copy],
        }  # fmt: skip
        for name in (m for m in MAPS if m in request.maps):
            image = bpy.data.images.new(
                f"RetopoHub_bake_{name}", request.size, request.size, alpha=False, is_data=name != "color"
            )
            images.append(image)
            node.image = image
            scene.cycles.samples = AO_SAMPLES if name == "ao" else 1
            kind = {"normal": "NORMAL", "color": "DIFFUSE", "ao": "AO"}[name]
            with bpy.context.temp_override(**override):
                bpy.ops.object.bake(
                    type=kind, pass_filter={"COLOR"} if name == "color" else set(),
                    use_selected_to_active=True, cage_extrusion=distance, max_ray_distance=2.0 * distance,
                    margin=margin_for(request.size), margin_type="EXTEND", use_clear=True,
                    normal_space="TANGENT", normal_r="POS_X", normal_b="POS_Z",
                    normal_g="NEG_Y" if request.convention == "directx" else "POS_Y",
                    target="IMAGE_TEXTURES", save_mode="INTERNAL",
                )  # fmt: skip
            path = out_dir / f"{name}.png"
            _save_png(image, path)
            found[name] = str(path)
        return found, distance
    finally:
        mesh = copy.data
        bpy.data.objects.remove(copy, do_unlink=True)
        bpy.data.meshes.remove(mesh)
        if scene.collection.objects.get(source.name) is source:
            scene.collection.objects.unlink(source)
        bpy.data.scenes.remove(scene)
        bpy.data.materials.remove(material)
        bpy.data.worlds.remove(world)
        for image in images:
            bpy.data.images.remove(image)
