# SPDX-License-Identifier: GPL-3.0-or-later
"""What a result carries over from its source besides geometry; Blender's main thread, reads and writes only.

``source_attributes(obj, mesh)`` reads, for the snapshot (taken inside ``rest_pose``, so a posed rig is read
at rest), the source's vertex groups (``group_names`` and one ``weight_verts``/``weight_groups``/
``weight_values`` row per weight) and the edges it marks sharp (``sharp_edges``, vertex pairs). The engine
child does the geometry (``engines.transfer``: nearest source face, barycentric weights, dihedral angles);
``carry_over(obj, result, source)`` then only writes its arrays onto a new result object: each face's
material slot, the vertex groups and their weights, sharp edges with every face shaded smooth (Blender 4.1+
shading: no Auto Smooth), and the source's rig: its Armature modifiers and an armature parent of type
ARMATURE, so posing the armature deforms the result. A cloud service's OBJ results get the same from the
worker host (``providers.attributes``, in a file beside each), used only when it describes the very mesh
imported. Other results (GLB and FBX through Blender's importers, Blender's own fallback) that come in
flat-shaded get Blender's native sharp-by-angle at the same angle and smooth faces.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np

from ..core.jobs import ATTRIBUTES_SUFFIX, ResultFile
from ..engines.shading import HARD_EDGE_ANGLE
from .rigs import rigs_of

log = logging.getLogger(__name__)

# Weights are written per (group, value) with one ``VertexGroup.add`` call for all vertices that share it;
# rounding to 1/4096 (a change of at most 0.00013, below what deformation shows) bounds the calls to
# 4097 per group whatever the mesh size, where one call per weight costs ~2 us each (0.4 s per 200K).
WEIGHT_STEPS = 4096
ARMATURE_SETTINGS = (
    "object", "use_vertex_groups", "use_bone_envelopes", "use_deform_preserve_volume", "use_multi_modifier",
    "vertex_group", "invert_vertex_group", "show_viewport", "show_render", "show_in_editmode", "show_on_cage",
)  # fmt: skip


def source_attributes(obj: bpy.types.Object, mesh: bpy.types.Mesh) -> dict[str, np.ndarray]:
    """The snapshot's attribute arrays of ``obj`` whose (evaluated) mesh is ``mesh``; see the docstring."""
    out: dict[str, np.ndarray] = {}
    names = [group.name for group in obj.vertex_groups]
    if names:
        # Blender has no bulk reader for weights: one pass in Python, about 0.3 s per 100K weighted vertices.
        counts = np.fromiter((len(v.groups) for v in mesh.vertices), dtype=np.int32, count=len(mesh.vertices))
        pairs = np.array([(g.group, g.weight) for v in mesh.vertices for g in v.groups], dtype=np.float64)
        pairs = pairs.reshape(-1, 2)
        out["group_names"] = np.array(names, dtype=str)
        out["weight_verts"] = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        out["weight_groups"] = pairs[:, 0].astype(np.int32)
        out["weight_values"] = pairs[:, 1].astype(np.float32)
    sharp = mesh.attributes.get("sharp_edge")
    if sharp is not None and sharp.domain == "EDGE" and sharp.data_type == "BOOLEAN" and len(mesh.edges):
        flags = np.empty(len(mesh.edges), dtype=bool)
        sharp.data.foreach_get("value", flags)
        if flags.any():
            ends = np.empty(len(mesh.edges) * 2, dtype=np.int32)
            mesh.edges.foreach_get("vertices", ends)
            out["sharp_edges"] = ends.reshape(-1, 2)[flags]
    return out


def marked_edges(mesh: bpy.types.Mesh, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Vertex pairs int32 (K, 2) of ``mesh``'s edges marked sharp or as UV seams, and of the borders between
    faces of different material slots (``arrays``: the snapshot's face sizes, corners and face materials)."""
    pairs = [np.zeros((0, 2), dtype=np.int32)]
    if len(mesh.edges):
        ends = np.empty(len(mesh.edges) * 2, dtype=np.int32)
        mesh.edges.foreach_get("vertices", ends)
        ends = ends.reshape(-1, 2)
        # The seam attribute's name changed (".uv_seam" before 5.0, "uv_seam" after); the property did not.
        marked = np.empty(len(mesh.edges), dtype=bool)
        mesh.edges.foreach_get("use_seam", marked)
        sharp = mesh.attributes.get("sharp_edge")
        if sharp is not None and sharp.domain == "EDGE" and sharp.data_type == "BOOLEAN":
            flags = np.empty(len(mesh.edges), dtype=bool)
            sharp.data.foreach_get("value", flags)
            marked |= flags
        pairs.append(ends[marked])
    materials = arrays.get("face_materials")
    if materials is not None and len(np.unique(materials)) > 1:
        pairs.append(material_borders(arrays["face_sizes"], arrays["corner_verts"], materials))
    return np.concatenate(pairs).astype(np.int32)


def material_borders(face_sizes: np.ndarray, corner_verts: np.ndarray, materials: np.ndarray) -> np.ndarray:
    """Vertex pairs (smaller first) of the edges whose faces use different material slots."""
    sizes = face_sizes.astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    following = np.arange(len(corner_verts)) + 1
    following[starts + sizes - 1] = starts
    a, b = corner_verts.astype(np.int64), corner_verts[following].astype(np.int64)
    low, high = np.minimum(a, b), np.maximum(a, b)
    face_material = np.repeat(materials.astype(np.int64), sizes)
    order = np.lexsort((face_material, high, low))
    low, high, face_material = low[order], high[order], face_material[order]
    same_edge = (low[1:] == low[:-1]) & (high[1:] == high[:-1])
    differ = same_edge & (face_material[1:] != face_material[:-1])
    return np.unique(np.stack([low[1:][differ], high[1:][differ]], axis=1), axis=0).astype(np.int32)


@contextmanager
def rest_pose(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph | None) -> Iterator[None]:
    """Inside, the armatures deforming ``obj`` (Armature modifiers, an ARMATURE-type parent) are in their
    rest position, so the evaluated mesh is the rest shape a result's Armature modifier will deform (read
    posed, it would be deformed twice); their pose position is restored on the way out. The pose itself
    is never touched. Nothing happens without a depsgraph (the base mesh is read, already at rest)."""
    changed = []
    for data in {rig.data for rig in rigs_of([obj])} if depsgraph is not None else ():
        if data.pose_position != "POSE":
            continue
        try:
            data.pose_position = "REST"
        except (AttributeError, RuntimeError, TypeError):  # linked, not editable: read as it is shown
            log.info("cannot read %s in its rest pose (linked armature)", data.name)
            continue
        changed.append(data)
    if changed:
        depsgraph.update()
    try:
        yield
    finally:
        for data in changed:
            data.pose_position = "POSE"
        if changed:
            depsgraph.update()


def carry_over(obj: bpy.types.Object, result: ResultFile, source: bpy.types.Object | None) -> None:
    """Write what was carried over for ``result`` onto ``obj`` (its new object), then rig it like
    ``source``. The engine's arrays come in its result file; a cloud OBJ's beside it
    (``ATTRIBUTES_SUFFIX``), used only when they describe the very mesh imported. Without them: shading."""
    path = Path(result.path) if result.kind == "arrays" else Path(result.path + ATTRIBUTES_SUFFIX)
    data = np.load(path) if result.kind in ("arrays", "mesh") and path.is_file() else None
    key = f"lod{result.lod}_" if result.kind == "arrays" else "lod0_"
    try:
        if data is not None and "attributes" in data.files and _describes(data, key, obj.data):
            _write_arrays(obj, data, key, same_slots=result.kind == "arrays" or _source_slots(obj, source))
        else:
            _shade_by_angle(obj.data)
    finally:
        if data is not None:
            data.close()
    if source is not None and obj.vertex_groups:
        rig_like(obj, source)


def _describes(data, key: str, mesh: bpy.types.Mesh) -> bool:
    """The arrays were made for this mesh: the engine's own, or a cloud file read in the same order."""
    if key + "verts" not in data.files:
        return True
    verts = data[key + "verts"]
    if verts.shape != (len(mesh.vertices), 3):
        return False
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.attributes["position"].data.foreach_get("vector", co)
    return bool(np.allclose(co.reshape(-1, 3), verts, atol=1e-5))


def _source_slots(obj: bpy.types.Object, source: bpy.types.Object | None) -> bool:
    """True when the result's material slots are the source's (not the service's own materials)."""
    if source is None:
        return False
    return [m.name if m else "" for m in obj.data.materials] == [
        s.material.name if s.material else "" for s in source.material_slots
    ]


def _write_arrays(obj: bpy.types.Object, data, key: str, *, same_slots: bool) -> None:
    mesh = obj.data
    materials = data[key + "face_materials"] if same_slots and key + "face_materials" in data.files else None
    if materials is not None and len(materials) == len(mesh.polygons) and len(mesh.materials):
        mesh.polygons.foreach_set("material_index", materials.astype(np.int32))
    if "group_names" in data.files:
        groups = [obj.vertex_groups.new(name=str(name)) for name in data["group_names"]]
        if key + "weight_verts" in data.files:
            _write_weights(
                groups, data[key + "weight_verts"], data[key + "weight_groups"], data[key + "weight_values"]
            )
    hard = data[key + "hard_edges"] if key + "hard_edges" in data.files else np.zeros((0, 2), np.int32)
    mark_sharp(mesh, hard)


def _write_weights(groups, verts: np.ndarray, group_ids: np.ndarray, values: np.ndarray) -> None:
    if verts.size == 0:
        return
    steps = np.rint(np.clip(values, 0.0, 1.0) * WEIGHT_STEPS).astype(np.int64)
    keys = group_ids.astype(np.int64) * (WEIGHT_STEPS + 1) + steps
    order = np.argsort(keys, kind="stable")
    keys, verts = keys[order], verts[order]
    cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
    for lo, hi in itertools.pairwise(cuts):
        group, step = divmod(int(keys[lo]), WEIGHT_STEPS + 1)
        if step and 0 <= group < len(groups):
            groups[group].add(verts[lo:hi].tolist(), step / WEIGHT_STEPS, "REPLACE")


def mark_sharp(mesh: bpy.types.Mesh, pairs: np.ndarray) -> None:
    """Mark the edges between the vertex ``pairs`` (E, 2) sharp, the rest smooth, and every face smooth."""
    edge_count = len(mesh.edges)
    flags = np.zeros(edge_count, dtype=bool)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if edge_count and pairs.shape[0]:
        ends = np.empty(edge_count * 2, dtype=np.int32)  # Blender's own int size: the fast path
        mesh.edges.foreach_get("vertices", ends)
        n = max(len(mesh.vertices), 1)
        ends = ends.reshape(-1, 2).astype(np.int64)
        edge_keys = ends.min(axis=1) * n + ends.max(axis=1)
        wanted = np.unique(pairs.min(axis=1) * n + pairs.max(axis=1))
        flags = np.isin(edge_keys, wanted)
    attribute = mesh.attributes.get("sharp_edge")
    if attribute is None and flags.any():
        attribute = mesh.attributes.new("sharp_edge", "BOOLEAN", "EDGE")
    if attribute is not None:
        attribute.data.foreach_set("value", flags)
    mesh.shade_smooth()


def _shade_by_angle(mesh: bpy.types.Mesh) -> None:
    # A service's own smoothing (custom normals, smooth faces) is kept; only flat imports are shaded.
    if mesh.has_custom_normals or not len(mesh.polygons):
        return
    smooth = np.empty(len(mesh.polygons), dtype=bool)
    mesh.polygons.foreach_get("use_smooth", smooth)
    if smooth.any():
        return
    mesh.set_sharp_from_angle(angle=math.radians(HARD_EDGE_ANGLE))
    mesh.shade_smooth()


def rig_like(obj: bpy.types.Object, source: bpy.types.Object) -> None:
    """Give ``obj`` the source's Armature modifiers and, when the source is parented to an armature with
    the ARMATURE type, that parent too (keeping ``obj``'s placement)."""
    for modifier in source.modifiers:
        if modifier.type != "ARMATURE":
            continue
        copy = obj.modifiers.new(modifier.name, "ARMATURE")
        for name in ARMATURE_SETTINGS:
            if hasattr(modifier, name):
                setattr(copy, name, getattr(modifier, name))
    parent = source.parent
    if parent is not None and parent.type == "ARMATURE" and source.parent_type == "ARMATURE":
        world = obj.matrix_world.copy()
        obj.parent = parent
        obj.parent_type = "ARMATURE"
        obj.matrix_parent_inverse = parent.matrix_world.inverted_safe()
        obj.matrix_basis = world
