# SPDX-License-Identifier: GPL-3.0-or-later
"""Dress results in their baked maps: one Principled BSDF material on LOD0 and the job's other levels.

Contract: ``apply_maps(lod0, levels, maps, name, convention)`` makes the material ``name`` with the base
color map on Base Color, the normal map through a Normal Map node (a DirectX map gets its green flipped
back first, since Blender's Normal Map node reads OpenGL) and the AO map as an image node labelled
"Occlusion" that is not wired (the Principled BSDF has no AO input; multiplying it into the color would
darken it twice in engines that apply AO themselves), and puts it as the only material on every object.
The levels without UVs get LOD0's, carried over by Blender's Data Transfer (nearest face, interpolated),
so they share LOD0's maps. Only the result objects change. ``worn_maps(obj)`` reads back which map files an
object wears, ``copy_maps`` copies them beside exported meshes as ``<stem>_<MAP_FILES[map]>.png``, and
``opengl_normal_png`` gives a normal map's PNG in OpenGL's green (glTF's), flipping a DirectX one, and
``glb_maps`` all of an object's maps as a glTF file takes them.
Main thread only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np

from ..core.files import atomic_write_bytes
from .materials import pbr_material

MAPS_KEY = "retopo_hub_maps"  # on each dressed result: JSON {map: PNG path}
# The file of each baked map beside exported meshes (CLI outputs, engine packages): <stem>_<suffix>.png.
MAP_FILES = {"color": "basecolor", "normal": "normal", "ao": "ao"}


def apply_maps(lod0, levels, maps: dict[str, str], name: str, convention: str) -> bpy.types.Material:
    material = pbr_material({role: Path(path) for role, path in maps.items()}, None, name)
    if convention == "directx" and "normal" in maps:
        _flip_green(material)
    for obj in (lod0, *levels):
        if obj is not lod0 and not obj.data.uv_layers and lod0.data.uv_layers:
            transfer_uvs(lod0, obj)
        obj.data.materials.clear()
        obj.data.materials.append(material)
        obj.data.polygons.foreach_set("material_index", np.zeros(len(obj.data.polygons), np.int32))
        obj.data.update()
        obj[MAPS_KEY] = json.dumps(maps)
    return material


def worn_maps(obj) -> dict[str, Path]:
    """``{map: PNG}`` of the baked maps ``obj`` wears whose files still exist ({} for none)."""
    try:
        maps = json.loads(obj.get(MAPS_KEY) or "{}")
    except (TypeError, ValueError):
        return {}
    return {role: Path(path) for role, path in maps.items() if role in MAP_FILES and Path(path).is_file()}


def copy_maps(maps: dict[str, str | Path], out_dir: Path, stem: str) -> dict[str, Path]:
    """Copy baked maps into ``out_dir`` (atomically each): ``{map: out_dir/<stem>_<suffix>.png}``."""
    written = {}
    for role, source in maps.items():
        target = Path(out_dir) / f"{stem}_{MAP_FILES[role]}.png"
        atomic_write_bytes(target, Path(source).read_bytes())
        written[role] = target
    return written


def _flipped_normal_maps(obj) -> Iterator[tuple]:
    """(node tree, Combine Color node, Normal Map node) of each DirectX flip in ``obj``'s materials: the
    Normal Map node reads its image through the green flip ``_flip_green`` adds."""
    for slot in obj.material_slots:
        tree = slot.material.node_tree if slot.material else None
        for node in tree.nodes if tree else ():
            links = node.inputs["Color"].links if node.type == "NORMAL_MAP" else ()
            if links and links[0].from_node.type == "COMBINE_COLOR":
                yield tree, links[0].from_node, node


def uses_directx_normals(obj) -> bool:
    """Whether ``obj``'s baked material flips its normal map's green back (the map is DirectX)."""
    return next(_flipped_normal_maps(obj), None) is not None


def opengl_normal_png(path: Path, directx: bool) -> bytes:
    """The PNG bytes of the normal map ``path`` with OpenGL's green (+Y up): as it is, or flipped."""
    if not directx:
        return Path(path).read_bytes()
    source = bpy.data.images.load(str(path), check_existing=False)
    flipped = None
    part = Path(path).with_name(Path(path).stem + ".opengl.part.png")
    try:
        source.colorspace_settings.name = "Non-Color"
        width, height = source.size
        pixels = np.empty(width * height * 4, np.float32)
        source.pixels.foreach_get(pixels)
        pixels[1::4] = 1.0 - pixels[1::4]
        flipped = bpy.data.images.new("RetopoHub_opengl", width, height, alpha=False, is_data=True)
        flipped.pixels.foreach_set(pixels)
        flipped.filepath_raw, flipped.file_format = str(part), "PNG"
        flipped.save()
        return part.read_bytes()
    finally:
        part.unlink(missing_ok=True)
        bpy.data.images.remove(source)
        if flipped is not None:
            bpy.data.images.remove(flipped)


def glb_maps(obj, maps: dict[str, str | Path]) -> dict[str, bytes]:
    """The PNG bytes of ``obj``'s baked ``maps`` for a glTF file: as they are, but the normal map in glTF's
    (OpenGL's) green when ``obj`` wears a DirectX one."""
    found = {role: Path(path).read_bytes() for role, path in maps.items() if role != "normal"}
    if "normal" in maps:
        found["normal"] = opengl_normal_png(Path(maps["normal"]), uses_directx_normals(obj))
    return found


def _flip_green(material: bpy.types.Material) -> None:
    nodes, links = material.node_tree.nodes, material.node_tree.links
    normal_map = next(n for n in nodes if n.type == "NORMAL_MAP")
    image = normal_map.inputs["Color"].links[0].from_node
    split, join = nodes.new("ShaderNodeSeparateColor"), nodes.new("ShaderNodeCombineColor")
    flip = nodes.new("ShaderNodeMath")
    flip.operation, flip.inputs[0].default_value = "SUBTRACT", 1.0
    links.new(image.outputs["Color"], split.inputs["Color"])
    links.new(split.outputs["Red"], join.inputs["Red"])
    links.new(split.outputs["Green"], flip.inputs[1])
    links.new(flip.outputs["Value"], join.inputs["Green"])
    links.new(split.outputs["Blue"], join.inputs["Blue"])
    links.new(join.outputs["Color"], normal_map.inputs["Color"])


@contextmanager
def exported_normal_maps(obj) -> Iterator[None]:
    """While an exporter reads ``obj``'s materials: a DirectX normal map goes straight into its Normal Map
    node (exporters only follow that link; the file's map is DirectX anyway), then the flip comes back."""
    flipped = []
    for tree, join, node in list(_flipped_normal_maps(obj)):
        image = join.inputs["Red"].links[0].from_node.inputs["Color"].links[0].from_node
        tree.links.new(image.outputs["Color"], node.inputs["Color"])
        flipped.append((tree, join, node))
    try:
        yield
    finally:
        for tree, join, node in flipped:
            tree.links.new(join.outputs["Color"], node.inputs["Color"])


def transfer_uvs(source, target) -> None:
    """``target`` gets ``source``'s active UVs per corner (nearest face, interpolated), evaluated through a
    temporary Data Transfer modifier that is removed again."""
    target.data.uv_layers.new(name=source.data.uv_layers.active.name)
    modifier = target.modifiers.new("RetopoHub_uv", "DATA_TRANSFER")
    try:
        modifier.object = source
        modifier.use_loop_data, modifier.data_types_loops = True, {"UV"}
        modifier.loop_mapping = "POLYINTERP_NEAREST"
        depsgraph = bpy.context.evaluated_depsgraph_get()
        evaluated = target.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        try:
            uvs = np.empty(len(mesh.loops) * 2, np.float32)
            mesh.uv_layers.active.uv.foreach_get("vector", uvs)
        finally:
            evaluated.to_mesh_clear()
    finally:
        target.modifiers.remove(modifier)
    target.data.uv_layers.active.uv.foreach_set("vector", uvs)
