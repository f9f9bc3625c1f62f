# SPDX-License-Identifier: GPL-3.0-or-later
"""Load CLI inputs into the current file and write result objects out; main thread only.

Inputs: .glb .gltf .fbx .obj .ply .stl (imported into an empty file, or with ``keep_scene`` added to the
current one, so the jobs of earlier inputs keep their objects) or a .blend (opened). Each input becomes one
source object: the chosen ``--object``, or all its meshes joined in world space. Outputs keep
quads (OBJ, FBX); GLB is triangles only, as glTF requires. Every output file is written atomically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import bpy
import numpy as np

from ..core.errors import InputError
from ..formats import glb
from ..formats import obj as objfile
from .bakedmaps import exported_normal_maps, glb_maps
from .mesh_arrays import mesh_from_arrays, read_arrays, reversed_corners

INPUT_SUFFIXES = (".glb", ".gltf", ".fbx", ".obj", ".ply", ".stl", ".blend")
OUTPUT_FORMATS = ("obj", "fbx", "glb")


def _import_file(path: Path) -> None:
    suffix = path.suffix.lower()
    filepath = str(path)
    if suffix in {".glb", ".gltf"}:
        bpy.ops.import_scene.gltf(filepath=filepath)
    elif suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=filepath)
    elif suffix == ".obj":
        bpy.ops.wm.obj_import(filepath=filepath)
    elif suffix == ".ply":
        bpy.ops.wm.ply_import(filepath=filepath)
    elif suffix == ".stl":
        if hasattr(bpy.ops.wm, "stl_import"):
            bpy.ops.wm.stl_import(filepath=filepath)
        else:
            bpy.ops.import_mesh.stl(filepath=filepath)


def load_input(path: Path, object_name: str | None, *, keep_scene: bool = False) -> bpy.types.Object:
    """Make ``path`` the current file's content (``keep_scene``: add it, unless it is a .blend) and return the
    one source object to retopologize, chosen among the objects this input brought."""
    if path.suffix.lower() not in INPUT_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type; use one of {' '.join(INPUT_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror}); check its permissions") from exc
    blend = path.suffix.lower() == ".blend"
    earlier = set() if blend or not keep_scene else set(bpy.data.objects)
    try:
        if blend:
            bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
        else:
            if not keep_scene:
                bpy.ops.wm.read_homefile(use_empty=True)
            _import_file(path)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise InputError(f"{path.name}: Blender could not read it ({reason}); check the file") from exc
    scene = bpy.context.scene
    brought = [o for o in scene.objects if o not in earlier]
    if object_name:
        obj = _named(brought, object_name)
        if obj is None:
            raise InputError(f"{path.name}: no object named {object_name!r}; check --object")
        if obj.type != "MESH":
            raise InputError(f"{path.name}: {object_name!r} is a {obj.type.lower()}, not a mesh")
        return obj
    meshes = [o for o in brought if o.type == "MESH"]
    if not meshes:
        raise InputError(f"{path.name}: contains no mesh object; export a mesh and try again")
    if len(meshes) == 1:
        return meshes[0]
    return _join_world_space(path.stem, meshes)


def _named(objects: list[bpy.types.Object], name: str) -> bpy.types.Object | None:
    """The object called ``name``; added beside an earlier input's, Blender may call it ``name.001``."""
    exact = next((o for o in objects if o.name == name), None)
    if exact is not None:
        return exact
    for obj in objects:
        base, _, number = obj.name.rpartition(".")
        if base == name and number.isdigit():
            return obj
    return None


def _join_world_space(name: str, objects: list[bpy.types.Object]) -> bpy.types.Object:
    verts, sizes, corners, offset = [], [], [], 0
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for obj in objects:
        evaluated = obj.evaluated_get(depsgraph)
        try:
            v, s, c = read_arrays(evaluated.to_mesh(), obj.matrix_world)
        finally:
            evaluated.to_mesh_clear()
        verts.append(v)
        sizes.append(s)
        corners.append(c + offset)
        offset += len(v)
    mesh = mesh_from_arrays(name, np.concatenate(verts), np.concatenate(sizes), np.concatenate(corners))
    joined = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(joined)
    return joined


def export_object(obj: bpy.types.Object, path: Path, fmt: str, maps: dict[str, Path] | None = None) -> None:
    """Write ``obj`` in world space to ``path`` (atomically). ``maps`` (``{"color"|"normal"|"ao": PNG}``,
    written beside ``path`` already) go with it: an OBJ's ``<name>.mtl`` names them, a GLB embeds them, an
    FBX references them by file name (its material's images point at them while it is written)."""
    if fmt == "fbx":
        _export_fbx(obj, path, maps or {})
        return
    verts, sizes, corners = read_arrays(obj.data, obj.matrix_world)
    uvs = _active_uvs(obj.data, obj.matrix_world)
    maps = maps if uvs is not None else None
    if fmt == "obj":
        mtllib = ""
        if maps:
            mtllib = path.with_suffix(".mtl").name
            names = {role: Path(file).name for role, file in maps.items()}
            objfile.write_mtl(path.with_suffix(".mtl"), f"{obj.name}_baked", names)
        objfile.write_obj(
            path, verts, sizes, corners, corner_uvs=uvs, object_name=obj.name, mtllib=mtllib,
            material_names=(f"{obj.name}_baked",) if maps else (),
            face_materials=np.zeros(len(sizes), np.int32) if maps else None,
        )  # fmt: skip
    else:
        png = glb_maps(obj, maps or {})
        glb.write_glb(
            path, verts, sizes, corners, corner_uvs=uvs, base_color_png=png.get("color"),
            normal_png=png.get("normal"), occlusion_png=png.get("ao"),
        )  # fmt: skip


def _export_fbx(obj: bpy.types.Object, path: Path, maps: dict[str, Path]) -> None:
    tmp = path.with_name(path.name + ".part.fbx")
    try:
        with (
            pointing_at([obj], maps) as images,
            bpy.context.temp_override(selected_objects=[obj], active_object=obj),
        ):
            # No vertex colors: the distance heatmap (jobs.measure) is for the viewport, not the asset.
            bpy.ops.export_scene.fbx(
                filepath=str(tmp), use_selection=True, use_mesh_modifiers=False, colors_type="NONE",
                path_mode="RELATIVE" if images else "AUTO",
            )  # fmt: skip
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def pointing_at(objects, maps: dict[str, Path]) -> Iterator[dict]:
    """While an FBX of ``objects`` is written: their baked material's images point at ``maps`` (copies
    beside the file, so it references them by name) and a DirectX normal map is read as the file has it
    (``exported_normal_maps``); everything is put back after. Yields the images repointed."""
    images: dict[bpy.types.Image, Path] = {}
    for obj in objects:
        images |= _map_images(obj, maps)
    kept = {image: image.filepath for image in images}
    try:
        for image, target in images.items():
            image.filepath = str(target)
        with ExitStack() as stack:
            for obj in objects:
                stack.enter_context(exported_normal_maps(obj))
            yield images
    finally:
        for image, filepath in kept.items():
            image.filepath = filepath


def _map_images(obj: bpy.types.Object, maps: dict[str, Path]) -> dict[bpy.types.Image, Path]:
    """The images of ``obj``'s baked material, each with the map file it stands for."""
    found = {}
    for slot in obj.material_slots if maps else ():
        tree = slot.material.node_tree if slot.material else None
        for node in tree.nodes if tree else ():
            if node.type != "TEX_IMAGE" or node.image is None:
                continue
            role = next((r for r in maps if node.image.filepath.endswith(f"_{r}.png")), None)
            if role is not None:
                found[node.image] = maps[role]
    return found


def _active_uvs(mesh: bpy.types.Mesh, matrix) -> np.ndarray | None:
    """The active UV layer per corner, in ``read_arrays``'s corner order for ``matrix``; None without one."""
    layer = mesh.uv_layers.active
    if layer is None or len(mesh.loops) == 0:
        return None
    uvs = np.empty(len(mesh.loops) * 2, dtype=np.float32)
    layer.uv.foreach_get("vector", uvs)
    uvs = uvs.reshape(-1, 2)
    if np.linalg.det(np.array(matrix, dtype=np.float64)[:3, :3]) < 0:
        starts = np.empty(len(mesh.polygons), dtype=np.int32)
        mesh.polygons.foreach_get("loop_start", starts)
        sizes = np.diff(np.append(starts, len(mesh.loops)))
        uvs = uvs[reversed_corners(starts, sizes)]
    return uvs
