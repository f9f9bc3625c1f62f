# SPDX-License-Identifier: GPL-3.0-or-later
"""Engine packages of a finished job's LoD chain: ``export_package(objects, target, out_dir, stem)``.

Contract: ``objects`` are one job's result objects (LOD0 and its ``retopo_hub_lod`` levels; variations of a
cloud service beyond the first are left out); the package is written to the folder
``<out_dir>/<stem>_<target>`` (made if missing; files of an earlier export there are replaced, each
atomically) and its path returned.
Every package holds the levels in LOD0's object space (its origin at the file's origin, no transform):
switch distances are in those units (blender_io/importer.py stamps them; core/lodswitch.py makes them).
Every level carries its active UV layer and its material slots (by name, each face's slot), the ones the
local engine's LoDs keep from LOD0 (engines/lodlook.py), and the normals Blender shades it with (smooth, split
at sharp edges), so an engine shades it as the viewport does. Per ``target``:

- ``gltf``: ``<stem>.glb`` with ``MSFT_lod`` + ``MSFT_screencoverage`` (formats/lodglb.py).
- ``godot``: ``<stem>.glb`` with the levels side by side and ``<stem>.tscn``, an inherited scene of it that
  gives each level its visibility range (formats/tscn.py).
- ``unity``: ``<stem>.fbx`` (Blender's FBX exporter) with ``<stem>_LOD0..N`` children under one empty
  ``<stem>``, which Unity's model importer turns into a LOD Group, and ``<stem>_lods.json`` with each level's
  screen relative transition height (Unity's LOD Group inspector values).
- ``unreal``: ``<stem>.fbx`` with an FBX LOD group (formats/fbxlod.py: Blender's FBX exporter cannot
  write one) whose children ``<stem>_LOD0..N`` Unreal's importer takes as LODs with *Import Mesh LODs*, and
  ``<stem>_lods.json`` with the LOD screen sizes.
- ``sbox``: ``<stem>_LOD0..N.fbx`` and ``<stem>.vmdl`` with one LODGroup per level (formats/vmdl.py), its
  paths relative to the s&box project's Assets folder as ``models/<stem>/``; with baked maps, one
  ``<material>.vmat`` per material using them, remapped in the .vmdl.

Baked maps (``bakedmaps.worn_maps`` of LOD0) go with every package: embedded in the .glb files (the normal
map in glTF's OpenGL green), and copied beside the FBX files as ``<stem>_basecolor.png``, ``_normal.png``
and ``_ao.png``, which Unity's FBX references (base color and normal; AO has no FBX slot) and the JSON lists.

Rigged levels (deformed by an armature: rigs.py) go out skinned to that armature at rest: the FBX packages
(unity, sbox) through copies of the rig and the levels that keep their vertex groups, the Unreal FBX
through our own writer's skin (formats/fbxskin.py), the glTF one as a glTF skin (formats/gltfskin.py).
``RIGGED_TARGETS`` are the targets that can; the others raise InputError before anything is written, as
glTF and Unreal do for more than one armature.

The screen figures come from core/lodmath.py with the job's FOV (60 degrees when it has none) on a 16:9
screen. Stand-in objects made for an FBX are removed and any object renamed out of their way gets its
name back, whatever happens. Main thread only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix

from ..core import lodmath
from ..core.errors import InputError
from ..core.files import atomic_write_text
from ..core.lodswitch import setting
from ..formats.fbxlod import write_lod_fbx
from ..formats.lodglb import write_lod_glb
from ..formats.skeleton import Skeleton
from ..formats.tscn import godot_lod_scene
from ..formats.vmdl import write_vmat, write_vmdl
from .bakedmaps import copy_maps, glb_maps, worn_maps
from .files import pointing_at
from .importer import PROP_PREFIX
from .mesh_arrays import read_arrays
from .rigs import deform_by, rest_copy, rigs_of, skeleton, skin_weights

TARGETS = ("unity", "unreal", "godot", "gltf", "sbox")
# The targets whose package carries the levels' armature; the others' writers have no skin yet.
RIGGED_TARGETS = ("unity", "unreal", "gltf", "sbox")
# s&box wants thresholds that rise; equal distances (two levels with the same error) are spread this much.
MIN_STEP = 1e-3


def _levels(objects: Sequence[bpy.types.Object]) -> list[bpy.types.Object]:
    meshes = [o for o in objects if o.type == "MESH" and int(o.get(PROP_PREFIX + "variant", 0)) == 0]
    levels = sorted(meshes, key=lambda o: int(o.get(PROP_PREFIX + "lod", 0)))
    if not levels or int(levels[0].get(PROP_PREFIX + "lod", 0)) != 0:
        raise InputError("nothing to export: the job has no LOD0 result in the file; run the job again")
    return levels


def _settings(lod0: bpy.types.Object) -> dict[str, Any]:
    try:
        return dict(json.loads(lod0.get(PROP_PREFIX + "settings") or "{}"))
    except (TypeError, ValueError):
        return {}


def _plan(levels: Sequence[bpy.types.Object]) -> dict[str, Any]:
    """Distances, coverages and each engine's figures of the chain, LOD0 first."""
    fov = float(setting(_settings(levels[0]), "fov"))
    corners = np.array([tuple(c) for c in levels[0].bound_box], dtype=np.float64)
    low, high = corners.min(axis=0).tolist(), corners.max(axis=0).tolist()
    radius, size = lodmath.bounding_radius(low, high), lodmath.largest_dimension(low, high)
    distances = [0.0]
    for obj in levels[1:]:
        distances.append(max(float(obj.get(PROP_PREFIX + "switch_threshold", 0.0)), distances[-1]))
    coverages = lodmath.screen_coverages(distances, radius, fov)
    heights = [
        min(1.0, lodmath.transition_height(size, d, fov)) if d > 0 else 1.0 for d in [*distances[1:]]
    ] + [0.0]  # a level shows while the object is taller than its height; the last is never culled
    return {"fov": fov, "radius": radius, "size": size, "distances": distances, "coverages": coverages,
            "heights": heights, "names": [o.name for o in levels]}  # fmt: skip


@contextmanager
def _stand_ins(levels: Sequence[bpy.types.Object], names: Sequence[str], root: str | None) -> Iterator[list]:
    """Objects named ``names`` sharing the levels' meshes at the origin (under an empty ``root``), with copies
    of the rig that deforms them at rest, in LOD0's object space, under their own names (rigs.py)."""
    rigs = rigs_of(levels)
    rig_names = [rig.name for rig in rigs]
    renamed: list[tuple[bpy.types.Object, str]] = []
    made: list[bpy.types.Object] = []
    try:
        for name in [*names, *([root] if root else []), *rig_names]:
            clash = bpy.data.objects.get(name)
            if clash is not None:
                renamed.append((clash, clash.name))
                clash.name = f"{name}.retopo_hub_export"
        collection = bpy.context.scene.collection
        parent = None
        if root:
            parent = bpy.data.objects.new(root, None)
            collection.objects.link(parent)
            made.append(parent)
        to_package = levels[0].matrix_world.inverted_safe()
        rig_copies = {}
        for rig, name in zip(rigs, rig_names, strict=True):
            made.append(rig_copies.setdefault(rig, rest_copy(rig, name, to_package)))
            made[-1].parent = parent
        for obj, name in zip(levels, names, strict=True):
            stand_in = obj.copy()  # shares the mesh; keeps vertex groups and material links
            stand_in.name = name
            collection.objects.link(stand_in)
            stand_in.animation_data_clear()
            stand_in.constraints.clear()
            deform_by(stand_in, obj, rig_copies)
            stand_in.parent_type = "OBJECT"
            stand_in.parent = parent
            stand_in.matrix_world = Matrix.Identity(4)
            made.append(stand_in)
        yield made
    finally:
        for obj in reversed(made):
            bpy.data.objects.remove(obj, do_unlink=True)
        for obj, name in reversed(renamed):
            obj.name = name


def _write_fbx(objects: Sequence[bpy.types.Object], path: Path, maps: dict[str, Path] | None = None) -> None:
    """``objects`` as one FBX; ``maps`` copied beside it are what its baked material references."""
    tmp = path.with_name(path.name + ".part.fbx")
    try:
        with (
            pointing_at(objects, maps or {}) as images,
            bpy.context.temp_override(selected_objects=list(objects), active_object=objects[0]),
        ):
            bpy.ops.export_scene.fbx(
                filepath=str(tmp),
                use_selection=True,
                use_mesh_modifiers=False,
                colors_type="NONE",
                bake_anim=False,
                object_types={"EMPTY", "MESH", "ARMATURE"},
                add_leaf_bones=False,
                path_mode="RELATIVE" if images else "AUTO",
            )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _level_arrays(obj: bpy.types.Object, name: str) -> tuple:
    """(name, verts, face sizes, corners, corner UVs or None, face slots, slot material names, corner
    normals, corner tangents or None) of a level; the normals are the ones Blender shades with (smooth, split
    at sharp edges), the tangents the ones it bakes normal maps with."""
    mesh = obj.data
    uvs = None
    if mesh.uv_layers.active is not None:
        uvs = np.empty(len(mesh.loops) * 2, dtype=np.float32)
        mesh.uv_layers.active.uv.foreach_get("vector", uvs)
        uvs = uvs.reshape(-1, 2)
    slots = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("material_index", slots)
    names = [slot.material.name if slot.material is not None else "" for slot in obj.material_slots]
    normals = np.empty(len(mesh.loops) * 3, dtype=np.float32)
    mesh.corner_normals.foreach_get("vector", normals)
    return (name, *read_arrays(mesh), uvs, slots, names, normals.reshape(-1, 3), _tangents(mesh))


def _tangents(mesh: bpy.types.Mesh) -> np.ndarray | None:
    """Per-corner MikkTSpace tangents of the active UV layer with the bitangent's sign, (C, 4), as Blender
    bakes normal maps with them; None without UVs or where Blender cannot compute them (n-gons)."""
    if mesh.uv_layers.active is None:
        return None
    try:
        mesh.calc_tangents(uvmap=mesh.uv_layers.active.name)
    except RuntimeError:
        return None
    try:
        count = len(mesh.loops)
        xyz, sign = np.empty(count * 3, dtype=np.float32), np.empty(count, dtype=np.float32)
        mesh.loops.foreach_get("tangent", xyz)
        mesh.loops.foreach_get("bitangent_sign", sign)
        return np.concatenate([xyz.reshape(-1, 3), sign[:, None]], axis=1)
    finally:
        mesh.free_tangents()


def _glb_levels(levels: Sequence[bpy.types.Object], names: Sequence[str]) -> list:
    return [_level_arrays(obj, name) for obj, name in zip(levels, names, strict=True)]


def _embedded_maps(levels) -> dict[str, bytes]:
    """LOD0's baked maps as PNG bytes for a .glb (``bakedmaps.glb_maps``)."""
    return glb_maps(levels[0], worn_maps(levels[0]))


def _beside(levels, folder: Path, stem: str) -> dict[str, Path]:
    """LOD0's baked maps copied into the package as ``<stem>_<map>.png``: ``{map: path}``."""
    return copy_maps(worn_maps(levels[0]), folder, stem)


def _skin(levels) -> dict[str, Any]:
    """The skin arguments of ``write_lod_glb`` and ``write_lod_fbx`` for levels deformed by one rig (none for
    a static chain)."""
    rigs = rigs_of(levels)
    if not rigs:
        return {}
    names, parents, rest = skeleton(rigs[0], levels[0].matrix_world.inverted_safe())
    weights = [skin_weights(obj, names) for obj in levels]
    return {"skeleton": Skeleton(names, parents, rest, rigs[0].name), "skin_weights": weights}


def _gltf(levels, plan, folder: Path, stem: str) -> None:
    names = [f"{stem}_LOD{i}" for i in range(len(levels))]
    coverage = [*plan["coverages"][1:], 0.0] if len(levels) > 1 else None
    write_lod_glb(
        folder / f"{stem}.glb",
        _glb_levels(levels, names),
        screen_coverage=coverage,
        maps=_embedded_maps(levels),
        **_skin(levels),
    )


def _godot(levels, plan, folder: Path, stem: str) -> None:
    names = [f"{stem}_LOD{i}" for i in range(len(levels))]
    write_lod_glb(folder / f"{stem}.glb", _glb_levels(levels, names), maps=_embedded_maps(levels))
    scene = godot_lod_scene(f"{stem}.glb", stem, list(zip(names, plan["distances"], strict=True)))
    atomic_write_text(folder / f"{stem}.tscn", scene)


def _unity(levels, plan, folder: Path, stem: str) -> None:
    names = [f"{stem}_LOD{i}" for i in range(len(levels))]
    maps = _beside(levels, folder, stem)
    with _stand_ins(levels, names, stem) as made:
        _write_fbx(made, folder / f"{stem}.fbx", maps)
    lods = [{"name": name, "switch_distance": d, "screen_relative_transition_height": h}
            for name, d, h in zip(names, plan["distances"], plan["heights"], strict=True)]  # fmt: skip
    _write_json(folder / f"{stem}_lods.json", {
        "model": f"{stem}.fbx",
        "lods": lods,
        "lodgroup_size": plan["size"],
        "camera_vertical_fov": lodmath.vertical_fov(plan["fov"]),
        "textures": {role: path.name for role, path in maps.items()},
    })  # fmt: skip


def _per_level_fbx(levels, folder: Path, stem: str, maps: dict[str, Path]) -> list[str]:
    files = []
    for number, obj in enumerate(levels):
        name = f"{stem}_LOD{number}"
        with _stand_ins([obj], [name], None) as made:
            _write_fbx(made, folder / f"{name}.fbx", maps)
        files.append(f"{name}.fbx")
    return files


def _unreal(levels, plan, folder: Path, stem: str) -> None:
    names = [f"{stem}_LOD{i}" for i in range(len(levels))]
    maps = _beside(levels, folder, stem)
    write_lod_fbx(
        folder / f"{stem}.fbx",
        _glb_levels(levels, names),
        plan["distances"],
        group_name=stem,
        **_skin(levels),
    )
    lods = [{"name": n, "switch_distance": d, "screen_size": c}
            for n, d, c in zip(names, plan["distances"], plan["coverages"], strict=True)]  # fmt: skip
    _write_json(folder / f"{stem}_lods.json", {
        "model": f"{stem}.fbx", "lods": lods, "horizontal_fov": plan["fov"],
        "textures": {role: path.name for role, path in maps.items()},
    })  # fmt: skip


def _sbox(levels, plan, folder: Path, stem: str) -> None:
    maps = _beside(levels, folder, stem)
    files = _per_level_fbx(levels, folder, stem, maps)
    thresholds = [0.0]
    for distance in plan["distances"][1:]:
        thresholds.append(max(distance, thresholds[-1] + MIN_STEP))
    lods = [{"name": f"LOD{i}", "filename": f"models/{stem}/{file}", "switch_threshold": t}
            for i, (file, t) in enumerate(zip(files, thresholds, strict=True))]  # fmt: skip
    remaps = []
    if maps:
        # ModelDoc drops what follows a "." in a material's name; each material the levels use gets the maps.
        textures = {role: f"models/{stem}/{path.name}" for role, path in maps.items()}
        for name in sorted({slot.material.name.split(".")[0] for obj in levels for slot in obj.material_slots
                            if slot.material is not None}):  # fmt: skip
            atomic_write_text(folder / f"{name}.vmat", write_vmat(textures))
            remaps.append((f"{name}.vmat", f"models/{stem}/{name}.vmat"))
    atomic_write_text(folder / f"{stem}.vmdl", write_vmdl(lods, material_remaps=remaps))


def check_rig(objects: Sequence[bpy.types.Object], target: str) -> None:
    """InputError in one line when ``target``'s package cannot carry the armature deforming ``objects`` (a
    chain's levels, or the source a job will give them from, so a job is refused before it runs)."""
    rigs = rigs_of(objects)
    if rigs and target not in RIGGED_TARGETS:
        raise InputError(
            f"the {target} package cannot carry the armature '{rigs[0].name}' yet: export for "
            f"{', '.join(RIGGED_TARGETS)}, which skin the levels to it"
        )
    if len(rigs) > 1 and target in ("gltf", "unreal"):
        raise InputError(
            f"the levels are deformed by {len(rigs)} armatures and a {target} package holds one: "
            "export for unity or sbox, or deform them by one armature"
        )


WRITERS = {"gltf": _gltf, "godot": _godot, "unity": _unity, "unreal": _unreal, "sbox": _sbox}


def export_package(objects: Sequence[bpy.types.Object], target: str, out_dir: Path, stem: str) -> Path:
    if target not in WRITERS:
        raise InputError(f"unknown export target {target!r}: use one of {', '.join(TARGETS)}")
    levels = _levels(objects)
    check_rig(levels, target)
    folder = Path(out_dir) / f"{stem}_{target}"
    folder.mkdir(parents=True, exist_ok=True)
    WRITERS[target](levels, _plan(levels), folder, stem)
    return folder
