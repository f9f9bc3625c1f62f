# SPDX-License-Identifier: GPL-3.0-or-later
"""formats.fbx against Blender's own FBX exporter, both read back by Blender's FBX importer.

Each mesh is written twice, by ``bpy.ops.export_scene.fbx`` and by ``formats.fbx`` from the arrays of
the product's own snapshot; each file is imported into an empty scene. World-space positions, polygons
(n-gons included), UVs, material slots by name and per-face material indices must agree, with each other
and with the source.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.support.scene import ico_sphere, mesh_object, select_only


def _materials(obj, *names) -> None:
    for name in names:
        obj.data.materials.append(bpy.data.materials.new(name) if name else None)


def _cube():
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    cube = bpy.context.active_object
    cube.name = "Crate"
    _materials(cube, "Wood", "", "Metal Trim.001")  # an empty slot between them, as users leave them
    for face, slot in enumerate([0, 2, 2, 0, 1, 2]):  # slot 1 is empty: Blender puts such faces on Wood
        cube.data.polygons[face].material_index = slot
    return cube


def _prism():
    bpy.ops.mesh.primitive_cylinder_add(vertices=7, end_fill_type="NGON")
    prism = bpy.context.active_object
    prism.name = "Prism"
    _materials(prism, "Glass")
    return prism


def _pydata_ngons():
    # A house outline extruded: pentagons at the front and back, quads around, no UVs, no materials.
    front = [(0, 0, 0), (2, 0, 0), (2, 0, 1), (1, 0, 1.6), (0, 0, 1)]
    back = [(x, 1.5, z) for x, _y, z in front]
    faces = [(0, 1, 2, 3, 4), (9, 8, 7, 6, 5)] + [(i, i + 5, (i + 1) % 5 + 5, (i + 1) % 5) for i in range(5)]
    return mesh_object("House", front + back, faces)


def _sphere():
    sphere = ico_sphere("Sphere", subdivisions=6, location=(0.0, 0.0, 0.0))  # 20,480 bumpy triangles
    sphere.rotation_euler, sphere.scale = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # the file holds object space
    _materials(sphere, "Stone")
    bpy.context.view_layer.update()
    return sphere


CASES = {"cube_two_materials": _cube, "prism_ngons": _prism, "house_ngons_bare": _pydata_ngons,
         "sphere_20k": _sphere}  # fmt: skip


def _read(path: Path) -> dict:
    """Import ``path`` into an empty scene; the one mesh's arrays, positions in world space."""
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.import_scene.fbx(filepath=str(path)) == {"FINISHED"}
    (obj,) = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    world = co.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]
    sizes = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    corners = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", corners)
    slots = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("material_index", slots)
    uvs = None
    if mesh.uv_layers.active is not None:
        uvs = np.empty(len(mesh.loops) * 2, np.float32)
        mesh.uv_layers.active.uv.foreach_get("vector", uvs)
        uvs = uvs.reshape(-1, 2)
    names = [slot.material.name if slot.material else "" for slot in obj.material_slots]
    return {"world": world, "sizes": sizes, "corners": corners, "uvs": uvs, "materials": names,
            "face_materials": slots}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_fbxfile_reads_back_like_blenders_own_export(addon, blank, tmp_path, case):
    source = CASES[case]()
    select_only(source)
    ours, theirs = tmp_path / "ours.fbx", tmp_path / "blender.fbx"
    assert bpy.ops.export_scene.fbx(filepath=str(theirs), use_selection=True) == {"FINISHED"}
    depsgraph = bpy.context.evaluated_depsgraph_get()
    snap = addon.blender_io.mesh_arrays.snapshot_object(source, depsgraph, with_uvs=True)
    fbxfile = importlib.import_module(f"{addon.__name__}.formats.fbx")  # the copy installed from the zip
    fbxfile.write_fbx(
        ours, snap.verts, snap.face_sizes, snap.corner_verts, corner_uvs=snap.corner_uvs,
        face_materials=snap.face_materials, material_names=snap.material_names, object_name=source.name,
    )  # fmt: skip
    assert ours.read_bytes().startswith(b"Kaydara FBX Binary  \x00\x1a\x00")
    expected, got = _read(theirs), _read(ours)

    np.testing.assert_allclose(got["world"], expected["world"], atol=1e-5)
    np.testing.assert_allclose(got["world"], snap.verts, atol=1e-5)
    np.testing.assert_array_equal(got["sizes"], expected["sizes"])
    np.testing.assert_array_equal(got["sizes"], snap.face_sizes)
    np.testing.assert_array_equal(got["corners"], expected["corners"])
    assert (got["uvs"] is None) == (expected["uvs"] is None) == (snap.corner_uvs is None)
    if got["uvs"] is not None:
        np.testing.assert_array_equal(got["uvs"], expected["uvs"])
    assert got["materials"] == expected["materials"]
    np.testing.assert_array_equal(got["face_materials"], expected["face_materials"])
    if case == "cube_two_materials":
        assert got["materials"] == ["Wood", "Metal Trim.001"]
        assert got["face_materials"].tolist() == [0, 1, 1, 0, 0, 1]
    if case == "sphere_20k":
        assert len(got["sizes"]) == 20480
    if "ngons" in case:
        assert got["sizes"].max() > 4
