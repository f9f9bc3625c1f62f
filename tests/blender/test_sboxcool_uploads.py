# SPDX-License-Identifier: GPL-3.0-or-later
"""What reaches sboxcool, read back from the file its emulator received.

A static mesh's FBX is written by the worker from the snapshot: the main thread exports nothing. A rigged
mesh's FBX is Blender's own export of the mesh with its armature (bones, skin weights, rest pose), in the
mesh's object space, and the scene is left as it was. An OBJ upload has one ``usemtl`` group per material,
named as the ``tex_{name}_{slot}`` fields name it.
"""

from __future__ import annotations

import re
from pathlib import Path

import bpy
import numpy as np
import pytest
from emulators import SboxcoolEmulator, assets
from emulators.remote import Remote

from tests.support.cloud import serving
from tests.support.scene import fingerprint, ico_sphere, select_only

KEY = "sbox_tk_emulated_uploads_7"
BONES = ("Hips", "Spine", "Head")


@pytest.fixture
def emu(addon, blank):
    with Remote(SboxcoolEmulator, KEY) as emulator, serving(addon, "sboxcool", emulator, api_key=KEY):
        yield emulator


def _submit(addon, obj, fmt: str):
    obj.retopo_hub.provider = "sboxcool"
    obj.retopo_hub.sbox_format = fmt
    engine = addon.jobs
    (record,) = engine.step.run_blocking(engine.submit.submit_objects(bpy.context, [obj]))
    assert record.state == "done", record.message
    return record


def _post(emu: SboxcoolEmulator):
    (post,) = [r for r in emu.requests if r.method == "POST" and r.path == "/api/tools/model"]
    return post


def _upload(emu: SboxcoolEmulator) -> tuple[str, bytes]:
    return _post(emu).files["file"]


def _painted(name: str, *materials: str):
    """A bumpy sphere away from the origin whose faces alternate between ``materials`` by height."""
    obj = ico_sphere(name, subdivisions=3)
    for material in materials:
        obj.data.materials.append(bpy.data.materials.new(material))
    centers = np.empty(len(obj.data.polygons) * 3, np.float32)
    obj.data.polygons.foreach_get("center", centers)
    slots = (centers.reshape(-1, 3)[:, 2] > 0.2).astype(np.int32) * (len(materials) - 1)
    obj.data.polygons.foreach_set("material_index", slots)
    obj.data.update()
    return obj


def _import_fbx(data: bytes, tmp_path: Path) -> list[bpy.types.Object]:
    """The objects Blender's FBX importer makes of ``data``, in an otherwise empty file."""
    path = tmp_path / "received.fbx"
    path.write_bytes(data)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.import_scene.fbx(filepath=str(path)) == {"FINISHED"}
    return list(bpy.context.scene.objects)


def _world(obj: bpy.types.Object) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    return co.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3]


def test_static_fbx_upload_is_written_by_the_worker(emu, addon, tmp_path, monkeypatch):
    exported: list[str] = []

    def main_thread_export(obj, _path):
        exported.append(obj.name)
        raise AssertionError("a static mesh must not be exported on the main thread")

    monkeypatch.setattr(addon.jobs.submit, "export_fbx", main_thread_export)
    crate = _painted("Crate", "Paint", "Rust")
    snap = addon.blender_io.mesh_arrays.snapshot_object(crate, bpy.context.evaluated_depsgraph_get())
    record = _submit(addon, crate, "fbx")
    assert not exported
    name, data = _upload(emu)
    assert name == "Crate.fbx" and data == (Path(record.work_dir) / "upload.fbx").read_bytes()

    (mesh,) = _import_fbx(data, tmp_path)
    np.testing.assert_allclose(_world(mesh), snap.verts, atol=1e-5)  # object space: results line up
    assert len(mesh.data.polygons) == len(snap.face_sizes) and mesh.data.uv_layers.active is not None
    assert [slot.material.name for slot in mesh.material_slots] == ["Paint", "Rust"]
    slots = np.empty(len(mesh.data.polygons), np.int32)
    mesh.data.polygons.foreach_get("material_index", slots)
    np.testing.assert_array_equal(slots, snap.face_materials)
    assert set(slots.tolist()) == {0, 1}


def _rigged_body():
    """An armature of three bones away from the origin, posed, deforming a child sphere by height."""
    bpy.ops.object.armature_add(location=(0.5, -1.0, 0.25), rotation=(0.0, 0.0, 0.4))
    rig = bpy.context.active_object
    rig.name = "Rig"
    bpy.ops.object.mode_set(mode="EDIT")
    bones = rig.data.edit_bones
    parent = None
    for number, name in enumerate(BONES):
        bone = bones[0] if number == 0 else bones.new(name)
        bone.name, bone.parent = name, parent
        bone.head, bone.tail = (1.0, 2.0, 2.0 + number), (1.0, 2.0, 3.0 + number)
        parent = bone
    bpy.ops.object.mode_set(mode="OBJECT")
    rig.pose.bones["Spine"].rotation_mode = "XYZ"
    rig.pose.bones["Spine"].rotation_euler = (0.6, 0.0, 0.0)  # the upload must carry the rest pose anyway
    body = ico_sphere("Body", subdivisions=3)
    body.parent = rig
    body.matrix_parent_inverse = rig.matrix_world.inverted()
    co = np.empty(len(body.data.vertices) * 3, np.float32)
    body.data.vertices.foreach_get("co", co)
    height = co.reshape(-1, 3)[:, 2]
    for number, name in enumerate(BONES):
        group = body.vertex_groups.new(name=name)
        for index, weight in enumerate(np.clip(1.0 - abs(height - (number - 1)), 0.0, 1.0).tolist()):
            if weight > 0:
                group.add([index], weight, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = rig
    select_only(body)
    bpy.context.view_layer.update()
    return rig, body


def _weights(obj) -> dict[str, np.ndarray]:
    out = {}
    for group in obj.vertex_groups:
        values = np.zeros(len(obj.data.vertices))
        for vertex in obj.data.vertices:
            for element in vertex.groups:
                if element.group == group.index:
                    values[vertex.index] = element.weight
        out[group.name] = values
    return out


def test_rigged_fbx_upload_carries_its_armature(emu, addon, tmp_path, monkeypatch):
    rig, body = _rigged_body()
    exported: list[str] = []
    export = addon.jobs.submit.export_fbx

    def counted(obj, path):
        exported.append(obj.name)
        return export(obj, path)

    monkeypatch.setattr(addon.jobs.submit, "export_fbx", counted)
    rest = np.empty(len(body.data.vertices) * 3, np.float32)
    body.data.vertices.foreach_get("co", rest)  # the mesh's own data: the rest pose, in object space
    weights = _weights(body)
    names = set(bpy.data.objects.keys())
    before = (fingerprint(body), rig.data.pose_position, rig.matrix_world.copy())
    record = _submit(addon, body, "fbx")
    assert exported == ["Body"]
    assert _post(emu).form["skipBoneMapping"] == "false"
    assert set(bpy.data.objects.keys()) - names == {"Body_retopo"}, "the temporary export copies are gone"
    assert (fingerprint(body), rig.data.pose_position, rig.matrix_world) == before
    assert body.parent == rig and body.modifiers["Armature"].object == rig
    name, data = _upload(emu)
    assert name == "Body.fbx" and data == (Path(record.work_dir) / "upload.fbx").read_bytes()

    objects = _import_fbx(data, tmp_path)
    (armature,) = [o for o in objects if o.type == "ARMATURE"]
    (mesh,) = [o for o in objects if o.type == "MESH"]
    assert sorted(bone.name for bone in armature.data.bones) == sorted(BONES)
    assert not any(bone.name.endswith("_end") for bone in armature.data.bones), "no leaf bones"
    deformers = [m.object for m in mesh.modifiers if m.type == "ARMATURE"]
    assert deformers == [armature] or mesh.parent == armature
    np.testing.assert_allclose(_world(mesh), rest.reshape(-1, 3), atol=1e-4)
    received = _weights(mesh)
    assert set(received) == set(BONES)
    for bone in BONES:
        np.testing.assert_allclose(received[bone], weights[bone], atol=1e-5)
    assert armature.animation_data is None or armature.animation_data.action is None, "no animation"


def test_obj_upload_groups_faces_per_material(emu, addon, tmp_path):
    crate = _painted("Crate", "Paint", "Rusty Metal.001")
    png = tmp_path / "rust.png"
    png.write_bytes(assets.base_color_png(16))
    rust = crate.data.materials[1]
    if bpy.app.version < (5, 0, 0):  # node trees are always on from 5.0, where use_nodes is deprecated
        rust.use_nodes = True
    texture = rust.node_tree.nodes.new("ShaderNodeTexImage")
    texture.image = bpy.data.images.load(str(png))
    bsdf = next(n for n in rust.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    rust.node_tree.links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
    slots = np.empty(len(crate.data.polygons), np.int32)
    crate.data.polygons.foreach_get("material_index", slots)
    faces = len(crate.data.polygons)
    _submit(addon, crate, "obj")

    name, data = _upload(emu)
    assert name == "Crate.obj"
    text = data.decode()
    groups = re.findall(r"^usemtl (\S+)\n((?:f .*\n)+)", text, flags=re.M)
    assert [group for group, _faces in groups] == ["Paint", "Rusty_Metal_001"]
    assert [len(lines.splitlines()) for _group, lines in groups] == np.bincount(slots).tolist()
    assert text.count("\nusemtl ") == 2
    assert "tex_Rusty_Metal_001_color" in _post(emu).files, "the texture field names the OBJ's material"
    back = addon.formats.obj.read_obj(data)  # the repository's own reader still reads it
    assert len(back["face_sizes"]) == faces and back["corner_uvs"] is not None
