# SPDX-License-Identifier: GPL-3.0-or-later
"""Bring a finished job's result files into the scene as new objects; main thread only.

Results become ``<name>_retopo`` (LOD0), ``<name>_LOD<i>`` and, for services that return variations,
``<name>_<provider>_<n>``, in one collection per source object, with the source's transform and material
slots and provenance custom properties. The source object is never modified. Everything an import creates is
removed again if any step fails, so nothing half-imported stays in the scene.

Placement: every provider's result comes back in the source's object space (the snapshot and every upload
hold the mesh so), and each result must lie on the source in world space. Results are unparented objects
(they live in a collection of their own and do not follow the source's parent), so the source's whole
``matrix_world`` goes into the result's location/rotation/scale. Those hold any mix of translation,
rotation and (negative too) scale, but not shear: the world matrix of a rotated child of a non-uniformly
scaled parent is sheared, and assigning it keeps only its nearest location/rotation/scale (in the test
scene, results of a source 7.9 units across sat up to 3.3 units off it). Whatever part of the matrix those
cannot hold is baked into the result's vertices instead (``place_like_source``): the object keeps the
source's origin, rotation and scale as closely as an object can, and its world-space surface is exactly
the source's. Baking the whole matrix into world-space vertices under an identity transform would be as
exact, but it would lose the source's origin and orientation, which LoDs and exports of the result are
expected to share. A plain or mirrored (negative scale) transform is copied as it is, vertices untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from ..core.errors import RetopoError
from ..core.jobs import ResultFile
from ..formats import glb
from ..formats import obj as objfile
from ..formats.mesh import NonFiniteError
from .attributes import carry_over
from .materials import attach_extras
from .mesh_arrays import mesh_from_arrays, read_arrays

log = logging.getLogger(__name__)

PROP_PREFIX = "retopo_hub_"
# JSON text of the engine's UV figures on an unwrapped LOD0 (engines/uvstats.py): utilization, islands, ...
UV_STATS_KEY = PROP_PREFIX + "uv"
OWN_OBJ_READER_MAX_BYTES = 64 << 20  # larger OBJs go to Blender's importer, which is faster on big files
MESH_IMPORTERS = {".obj": "obj", ".glb": "gltf", ".gltf": "gltf", ".fbx": "fbx"}
# A world matrix this close to what location/rotation/scale recompose is held by them (float32 round-off).
SAME_MATRIX = 1e-5
SINGULAR = 1e-12


def result_name(source_name: str, result: ResultFile, provider: str) -> str:
    if result.variant:
        return f"{source_name}_{provider}_{result.variant}"
    return f"{source_name}_retopo" if result.lod == 0 else f"{source_name}_LOD{result.lod}"


def results_collection(scene: bpy.types.Scene, source: bpy.types.Object | None, source_name: str):
    name = f"{source_name}_RetopoHub"
    coll = bpy.data.collections.get(name)
    if coll is None or coll.library is not None:
        coll = bpy.data.collections.new(name)
        parent = source.users_collection[0] if source is not None and source.users_collection else None
        if parent is None or parent.library is not None:
            parent = scene.collection
        parent.children.link(coll)
    return coll


def import_results(
    scene: bpy.types.Scene,
    *,
    source_name: str,
    provider: str,
    job_id: str,
    remote_id: str,
    settings: Mapping[str, Any],
    results: Iterable[ResultFile],
    source_uid: int = 0,
) -> list[bpy.types.Object]:
    """Create the result objects; on any failure, remove whatever was created and re-raise.

    The source is found by its session uid first, so a rename while the job ran is followed; a deleted
    source still gets its results, placed at the origin under the recorded name.
    """
    source = find_source(source_name, source_uid)
    if source is not None:
        source_name = source.name
    created_objects: list[bpy.types.Object] = []
    created_meshes: list[bpy.types.Mesh] = []
    try:
        meshes = _load_meshes(results, created_meshes)
        if not meshes:
            raise RetopoError("the service returned no mesh: submit again or try another provider")
        coll = results_collection(scene, source, source_name)
        for result, mesh, own_materials in meshes:
            name = result_name(source_name, result, provider)
            mesh.name = name
            obj = bpy.data.objects.new(name, mesh)
            created_objects.append(obj)
            coll.objects.link(obj)
            if source is not None:
                place_like_source(obj, source.matrix_world)
                if not own_materials:
                    for slot in source.material_slots:
                        mesh.materials.append(slot.material)
            _stamp(obj, provider, job_id, remote_id, source_name, result, settings)
            carry_over(obj, result, source)  # materials per face, vertex groups, hard edges, rig
        attach_extras(created_objects, results, source, source_name)
    except BaseException:
        for obj in created_objects:
            bpy.data.objects.remove(obj, do_unlink=True)
        for mesh in created_meshes:
            if mesh.users == 0:
                bpy.data.meshes.remove(mesh)
        raise
    return created_objects


def place_like_source(obj: bpy.types.Object, matrix_world) -> None:
    """Put unparented ``obj``, whose mesh is in the source's object space, where the source is in world space:
    its transform is ``matrix_world`` as far as location/rotation/scale can hold it; the rest (shear) is
    applied to its own mesh, which must be used by ``obj`` alone (see the module docstring)."""
    obj.matrix_world = matrix_world.copy()
    held = obj.matrix_basis.copy()  # recomposed from the location/rotation/scale just set
    if abs(held.determinant()) < SINGULAR:
        return  # a zero scale: the source is flat in world space, and so is the result
    rest = np.array(held.inverted() @ matrix_world)
    if np.allclose(rest, np.eye(4), atol=SAME_MATRIX):
        return
    mesh = obj.data
    mesh.transform(held.inverted() @ matrix_world)
    if np.linalg.det(rest[:3, :3]) < 0:
        mesh.flip_normals()  # a mirroring remainder would turn every face inside out
    mesh.update()
    obj.matrix_world = held


def find_source(name: str, uid: int = 0) -> bpy.types.Object | None:
    if uid:
        for obj in bpy.data.objects:
            if obj.session_uid == uid:
                return obj
    return bpy.data.objects.get(name) if name else None


def _stamp(obj, provider, job_id, remote_id, source_name, result: ResultFile, settings) -> None:
    obj[PROP_PREFIX + "provider"] = provider
    obj[PROP_PREFIX + "job_id"] = job_id
    obj[PROP_PREFIX + "remote_id"] = remote_id
    obj[PROP_PREFIX + "source"] = source_name
    obj[PROP_PREFIX + "lod"] = result.lod
    obj[PROP_PREFIX + "variant"] = result.variant
    obj[PROP_PREFIX + "switch_threshold"] = float(result.switch_threshold)
    # Measured LoDs (the local engine): error against LOD0 (object units) and screen coverage at the switch.
    for key, value in (("error", result.error), ("screen_coverage", result.screen_coverage)):
        if value is not None:
            obj[PROP_PREFIX + key] = float(value)
    # A cloud service's own result is made by that service.
    obj[PROP_PREFIX + "engine"] = result.engine or provider
    obj[PROP_PREFIX + "settings"] = json.dumps(dict(settings), sort_keys=True, default=str)
    if UV_STATS_KEY in obj.data:  # the engine's UV figures (engines/uvstats.py), JSON text
        obj[UV_STATS_KEY] = obj.data[UV_STATS_KEY]
        del obj.data[UV_STATS_KEY]


def _load_meshes(
    results: Iterable[ResultFile], created: list
) -> list[tuple[ResultFile, bpy.types.Mesh, bool]]:
    out = []
    cache: dict[str, Any] = {}
    for result in sorted(results, key=lambda r: (r.lod, r.variant)):
        if result.kind == "arrays":
            data = cache.get(result.path)
            if data is None:
                data = cache[result.path] = np.load(result.path)
            i = result.lod
            mesh = mesh_from_arrays(
                "retopo", data[f"lod{i}_verts"], data[f"lod{i}_face_sizes"], data[f"lod{i}_corner_verts"],
                data.get(f"lod{i}_uvs"),
                validate=False,  # our engine's own arrays: checked there, and validate() costs seconds at 1M
            )  # fmt: skip
            if f"lod{i}_uv_stats" in data:  # moved onto the object by _stamp
                mesh[UV_STATS_KEY] = str(data[f"lod{i}_uv_stats"])
            created.append(mesh)
            out.append((result, mesh, False))
        elif result.kind == "mesh":
            mesh = import_mesh_file(Path(result.path))
            created.append(mesh)
            out.append((result, mesh, len(mesh.materials) > 0))
    return out


def import_mesh_file(path: Path) -> bpy.types.Mesh:
    """Import one OBJ/GLB/FBX and return a single mesh in the file's space; imported objects are removed."""
    kind = MESH_IMPORTERS.get(path.suffix.lower())
    if kind is None:
        raise RetopoError(f"cannot import {path.name}: unsupported result format {path.suffix}")
    if not path.is_file():
        raise RetopoError(f"the result file {path.name} is missing: submit again")
    if kind == "obj" and path.stat().st_size <= OWN_OBJ_READER_MAX_BYTES:
        return _read_obj(path)
    if path.suffix.lower() == ".glb":
        _refuse_non_finite_glb(path)
    before = set(bpy.data.objects)
    before_meshes = set(bpy.data.meshes)
    try:
        with bpy.context.temp_override(selected_objects=[], active_object=None):
            if kind == "obj":
                bpy.ops.wm.obj_import(filepath=str(path))
            elif kind == "gltf":
                bpy.ops.import_scene.gltf(filepath=str(path))
            else:
                bpy.ops.import_scene.fbx(filepath=str(path))
    except RuntimeError as exc:
        _remove_new(before, before_meshes)
        raise RetopoError(f"could not read the result {path.name}: {str(exc).splitlines()[-1]}") from exc
    new_objects = [o for o in bpy.data.objects if o not in before]
    mesh_objects = [o for o in new_objects if o.type == "MESH"]
    result = None
    try:
        if not mesh_objects:
            raise RetopoError(f"the result {path.name} contains no mesh: submit again")
        result = _merge_world_space(mesh_objects)
        return result
    finally:
        _remove_new(before, before_meshes, keep=result)


def _refuse_non_finite_glb(path: Path) -> None:
    """Blender's glTF importer moves NaN or infinite positions to the origin: read the file ourselves first
    and refuse it like any broken result. Files our reader does not take (Draco, sparse) go on to Blender."""
    try:
        glb.read_glb(path)
    except NonFiniteError as exc:
        raise RetopoError(f"could not read the result {path.name}: {exc}; submit again") from exc
    except ValueError:
        return


def _read_obj(path: Path) -> bpy.types.Mesh:
    # Our reader for service OBJs: no operator, no context, and it keeps quads and UVs exactly. Blender
    # 4.2's threaded OBJ importer crashed now and then (back when our workers were threads in Blender).
    try:
        data = objfile.read_obj(path)
    except ValueError as exc:
        raise RetopoError(f"could not read the result {path.name}: {exc}") from exc
    if len(data["face_sizes"]) == 0:
        raise RetopoError(f"the result {path.name} contains no mesh: submit again")
    return mesh_from_arrays(
        "retopo", data["verts"], data["face_sizes"], data["corner_verts"], data.get("corner_uvs")
    )


def _merge_world_space(objects: list[bpy.types.Object]) -> bpy.types.Mesh:
    # Imported hierarchies carry axis conversions in parent transforms: bake them so the mesh is in
    # the source's object space, then combine all parts into one new mesh.
    parts = []
    materials: list = []
    for obj in objects:
        mesh = obj.data.copy()
        mesh.transform(obj.matrix_world)
        parts.append(mesh)
    if len(parts) == 1:
        return parts[0]
    verts, sizes, corners, mats, offset = [], [], [], [], 0
    for mesh in parts:
        v, s, c = read_arrays(mesh)
        m = np.empty(len(mesh.polygons), np.int32)
        mesh.polygons.foreach_get("material_index", m)
        base = len(materials)
        materials.extend(mesh.materials)
        verts.append(v)
        sizes.append(s)
        corners.append(c + offset)
        mats.append(m + base)
        offset += len(mesh.vertices)
        bpy.data.meshes.remove(mesh)
    merged = mesh_from_arrays("retopo", np.concatenate(verts), np.concatenate(sizes), np.concatenate(corners))
    for material in materials:
        merged.materials.append(material)
    if materials:
        merged.polygons.foreach_set("material_index", np.concatenate(mats))
    return merged


def _remove_new(before_objects: set, before_meshes: set, *, keep: bpy.types.Mesh | None = None) -> None:
    for obj in [o for o in bpy.data.objects if o not in before_objects]:
        bpy.data.objects.remove(obj, do_unlink=True)
    for mesh in [m for m in bpy.data.meshes if m not in before_meshes]:
        if mesh != keep and mesh.users == 0:
            bpy.data.meshes.remove(mesh)
