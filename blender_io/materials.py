# SPDX-License-Identifier: GPL-3.0-or-later
"""Extras that come with results: preview renders (CSM) become images, PBR maps (sboxcool) are wired into
a material on every level of the result. Main thread only; called inside the importer's all-or-nothing block.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import bpy

from ..core.jobs import ResultFile

MAP_KEYWORDS = {  # first keyword found in a file name decides its role
    "normal": ("normal", "nrm"),
    "roughness": ("rough",),
    "ao": ("_ao", "ao.", "occlusion"),
    "metalness": ("metal",),
    "color": ("color", "albedo", "basecolor", "diffuse"),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tga", ".tif", ".tiff", ".exr")


def attach_extras(
    objects: list[bpy.types.Object],
    results: Iterable[ResultFile],
    source: bpy.types.Object | None,
    source_name: str,
) -> None:
    results = list(results)
    for result in results:
        if result.kind == "preview" and Path(result.path).is_file():
            image = bpy.data.images.load(result.path, check_existing=True)
            for obj in objects:
                if obj.get("retopo_hub_variant", 0) == result.variant:
                    obj["retopo_hub_preview"] = image.name
        elif result.kind == "textures" and Path(result.path).is_dir():
            _wire_pbr(objects, Path(result.path), source, source_name)


def _safe(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_")


def _wire_pbr(objects, folder: Path, source, source_name: str) -> None:
    """One PBR material per material of the source when the maps are named per material (``<mat>_normal``),
    else one material for every slot."""
    groups = group_maps(folder)
    slot_names = (
        [_safe(s.material.name) if s.material else "" for s in source.material_slots] if source else []
    )
    per_slot = len(groups) > 1 and all(name in groups for name in slot_names if name)
    if per_slot and slot_names:
        materials = [
            pbr_material(groups.get(name, {}), source, f"{source_name}_{name or 'slot'}_PBR")
            for name in slot_names
        ]
    else:
        merged: dict[str, Path] = {}
        for maps in groups.values():
            for role, path in maps.items():
                merged.setdefault(role, path)
        materials = [pbr_material(merged, source, f"{source_name}_PBR")]
    if not any(materials):
        return
    for obj in objects:
        obj.data.materials.clear()
        for material in materials:
            obj.data.materials.append(material)


def group_maps(folder: Path) -> dict[str, dict[str, Path]]:
    """Image files by material prefix (the name before its role keyword), then by role."""
    groups: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        name = path.name.lower()
        for role, keywords in MAP_KEYWORDS.items():
            hit = next((k for k in keywords if k in name), None)
            if hit is not None:
                prefix = _safe(name[: name.index(hit)])
                groups.setdefault(prefix, {}).setdefault(role, path)
                break
    return groups


def _source_color_image(source: bpy.types.Object | None):
    if source is None:
        return None
    for slot in source.material_slots:
        tree = slot.material.node_tree if slot.material else None
        for node in tree.nodes if tree else ():
            if node.type == "BSDF_PRINCIPLED" and node.inputs["Base Color"].is_linked:
                upstream = node.inputs["Base Color"].links[0].from_node
                if upstream.type == "TEX_IMAGE":
                    return upstream.image
    return None


def pbr_material(
    maps: dict[str, Path], source: bpy.types.Object | None, name: str
) -> bpy.types.Material | None:
    color = _source_color_image(source)
    if not maps and color is None:
        return None
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True  # always on (and deprecated) from Blender 5.0
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")

    def image_node(path: Path | None, image=None, *, data: bool, y: float):
        node = nodes.new("ShaderNodeTexImage")
        node.image = image or bpy.data.images.load(str(path), check_existing=True)
        if data:
            node.image.colorspace_settings.name = "Non-Color"
        node.location = (-600, y)
        return node

    if "color" in maps or color is not None:
        tex = image_node(maps.get("color"), None if "color" in maps else color, data=False, y=300)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    if "roughness" in maps:
        tex = image_node(maps["roughness"], data=True, y=0)
        links.new(tex.outputs["Color"], bsdf.inputs["Roughness"])
    if "metalness" in maps:
        tex = image_node(maps["metalness"], data=True, y=-150)
        links.new(tex.outputs["Color"], bsdf.inputs["Metallic"])
    if "normal" in maps:
        tex = image_node(maps["normal"], data=True, y=-300)
        normal_map = nodes.new("ShaderNodeNormalMap")
        normal_map.location = (-300, -300)
        links.new(tex.outputs["Color"], normal_map.inputs["Color"])
        links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
    if "ao" in maps:
        # Principled BSDF has no AO input; keep the map in the material (glTF exports pick it up by label).
        tex = image_node(maps["ao"], data=True, y=-500)
        tex.label = "Occlusion"
    return material
