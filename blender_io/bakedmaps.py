# SPDX-License-Identifier: GPL-3.0-or-later
"""Dress results in their baked maps: one Principled BSDF material on LOD0 and the job's other levels.

Contract: ``apply_maps(lod0, levels, maps, name, convention)`` makes the material ``name`` with the base
color map on Base Color, the normal map through a Normal Map node (a DirectX map gets its green flipped
back first, since Blender's Normal Map node reads OpenGL) and the AO map as an image node labelled
"Occlusion" that is not wired (the Principled BSDF has no AO input; multiplying it into the color would
darken it twice in engines that apply AO themselves), and puts it as the only material on every object.
The levels without UVs get LOD0's, carried over by Blender's Data Transfer (nearest face, interpolated),
so they share LOD0's maps. Only the result objects change. Main thread only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np

from .materials import pbr_material

MAPS_KEY = "retopo_hub_maps"  # on each dressed result: JSON {map: PNG path}


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
    for slot in obj.material_slots:
        tree = slot.material.node_tree if slot.material else None
        for node in tree.nodes if tree else ():
            links = node.inputs["Color"].links if node.type == "NORMAL_MAP" else ()
            if links and links[0].from_node.type == "COMBINE_COLOR":
                join = links[0].from_node
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
