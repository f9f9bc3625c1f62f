# SPDX-License-Identifier: GPL-3.0-or-later
"""Engine packages of a skinned LoD chain (blender_io/packages.py, blender_io/rigs.py, formats/gltfskin.py):
every level goes out skinned to the armature, which is read back by Blender's own importers and posed, and
the .glb passes the Khronos validator. The targets that cannot carry a rig refuse in one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.blender.test_attributes import _skinned_column
from tests.support.cli import run_cli
from tests.support.gltf_validator import validate
from tests.support.layout import draw_panel

LEVELS = 3


@pytest.fixture
def rigged(blank):
    """A finished local job with LoDs from a column skinned to a two-bone rig: (bpy, rig, results)."""
    bpy = blank

    def make(*, armature_parent: bool, scaled: bool = False):
        _column, rig, _ = _skinned_column(bpy, modifier=not armature_parent, armature_parent=armature_parent)
        if scaled:
            _as_imported_from_fbx(bpy, rig)
        _column.retopo_hub.lod_levels = LEVELS - 1
        assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
        results = sorted(bpy.data.collections["Column_RetopoHub"].objects, key=lambda o: o["retopo_hub_lod"])
        assert [o["retopo_hub_lod"] for o in results] == list(range(LEVELS))
        # Posed in the scene: the package must still hold the rig at rest.
        rig.pose.bones["upper"].rotation_mode = "XYZ"
        rig.pose.bones["upper"].rotation_euler = (math.radians(45.0), 0.0, 0.0)
        bpy.context.view_layer.update()
        return rig, results

    return bpy, make


def _as_imported_from_fbx(bpy, rig) -> None:
    """The rig as an FBX import from a centimetre tool leaves it: object scale 0.01 and turned about Z, its
    bones 100x as long, so they sit where they did in the world (a Mixamo character's layout)."""
    world = {bone.name: (rig.matrix_world @ bone.head_local, rig.matrix_world @ bone.tail_local)
             for bone in rig.data.bones}  # fmt: skip
    rig.scale = (0.01, 0.01, 0.01)
    rig.rotation_euler = (0.0, 0.0, math.radians(90.0))
    bpy.context.view_layer.update()
    to_rig = rig.matrix_world.inverted()
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for name, (head, tail) in world.items():
        bone = rig.data.edit_bones[name]
        bone.head, bone.tail = to_rig @ head, to_rig @ tail
    bpy.ops.object.mode_set(mode="OBJECT")
    for child in rig.children:  # an armature parent keeps its child where it was
        child.matrix_parent_inverse = rig.matrix_world.inverted()
    bpy.context.view_layer.update()


def _verts(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _imported(bpy, path: Path) -> dict[str, object]:
    bpy.ops.wm.read_homefile(use_empty=True)
    if path.suffix == ".glb":
        bpy.ops.import_scene.gltf(filepath=str(path))
    else:
        bpy.ops.import_scene.fbx(filepath=str(path))
    for obj in bpy.data.objects:
        # The glTF importer puts MSFT_lod's other levels (nodes outside the scene) in a collection of its own
        # that the view layer excludes, where nothing evaluates them.
        if obj.type == "MESH" and obj.name.startswith("Column_LOD") and not obj.visible_get():
            bpy.context.scene.collection.objects.link(obj)
    return {o.name: o for o in bpy.data.objects}


def _check_skinned(bpy, objects: dict, names: list[str], rest: list[np.ndarray] | None = None) -> None:
    """Each level is skinned to the one imported armature, at rest where the source's level is (``rest``,
    when given), and bending the upper bone moves its top and leaves its bottom."""
    (rig,) = [o for o in objects.values() if o.type == "ARMATURE"]
    assert rig.name == "Rig" and sorted(b.name for b in rig.data.bones) == ["lower", "upper"]
    depsgraph = bpy.context.evaluated_depsgraph_get()
    levels = [objects[name] for name in names]
    before = []
    for level, source_rest in zip(levels, rest or [None] * len(levels), strict=True):
        assert sorted(g.name for g in level.vertex_groups) == ["lower", "upper"]
        assert [m.object for m in level.modifiers if m.type == "ARMATURE"] == [rig]
        world = np.array(level.matrix_world)
        co = _verts(level.evaluated_get(depsgraph).data) @ world[:3, :3].T + world[:3, 3]
        if source_rest is None:
            before.append(co)
            continue
        # The importer's axes are the package's: the same shape in the same place as the level at rest.
        assert co.min(axis=0) == pytest.approx(source_rest.min(axis=0), abs=2e-3)
        assert co.max(axis=0) == pytest.approx(source_rest.max(axis=0), abs=2e-3)
        before.append(co)
    bone = rig.pose.bones["upper"]
    bone.rotation_mode = "XYZ"
    bone.rotation_euler = (math.radians(60.0), 0.0, 0.0)
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for level, co in zip(levels, before, strict=True):
        world = np.array(level.matrix_world)
        posed = _verts(level.evaluated_get(depsgraph).data) @ world[:3, :3].T + world[:3, 3]
        moved = np.linalg.norm(posed - co, axis=1)
        assert moved[co[:, 2] > 1.5].min() > 0.1, f"{level.name}: the top follows the bent bone"
        assert moved[co[:, 2] < -1.2].max() < 1e-3, f"{level.name}: the bottom stays"


def _rest_shapes(results) -> list[np.ndarray]:
    """Each level's vertices at rest in LOD0's object space (the package's space)."""
    shapes = []
    for level in results:
        to_lod0 = np.array(results[0].matrix_world.inverted() @ level.matrix_world)
        shapes.append(_verts(level.data) @ to_lod0[:3, :3].T + to_lod0[:3, 3])
    return shapes


@pytest.mark.parametrize(
    ("target", "armature_parent"),
    [("unity", False), ("unreal", False), ("gltf", False), ("sbox", True)],
    ids=["unity", "unreal", "gltf", "sbox"],
)
def test_a_rigged_chain_goes_out_skinned_to_its_armature(addon, rigged, tmp_path, target, armature_parent):
    bpy, make = rigged
    rig, results = make(armature_parent=armature_parent)
    rest = _rest_shapes(results)
    scene_before = sorted((o.name, o.type, o.parent.name if o.parent else "") for o in bpy.data.objects)
    folder = addon.blender_io.packages.export_package(results, target, tmp_path, "Column")
    assert (
        sorted((o.name, o.type, o.parent.name if o.parent else "") for o in bpy.data.objects) == scene_before
    )
    assert rig.pose.bones["upper"].rotation_euler.x == pytest.approx(math.radians(45.0)), "pose kept"
    names = [f"Column_LOD{i}" for i in range(LEVELS)]
    if target == "gltf":
        report = validate(folder / "Column.glb")
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
        _check_skinned(bpy, _imported(bpy, folder / "Column.glb"), names, rest)
    elif target in ("unity", "unreal"):
        _check_skinned(bpy, _imported(bpy, folder / "Column.fbx"), names, rest)
    else:
        for name, level_rest in zip(names, rest, strict=True):
            _check_skinned(bpy, _imported(bpy, folder / f"{name}.fbx"), [name], [level_rest])


@pytest.mark.parametrize("target", ["unity", "unreal", "gltf", "sbox"])
def test_a_rig_scaled_and_turned_as_an_fbx_import_leaves_it_goes_out_at_rest(addon, rigged, tmp_path, target):
    bpy, make = rigged
    _rig, results = make(armature_parent=True, scaled=True)
    rest = _rest_shapes(results)
    folder = addon.blender_io.packages.export_package(results, target, tmp_path, "Column")
    names = [f"Column_LOD{i}" for i in range(LEVELS)]
    if target == "sbox":
        _check_skinned(bpy, _imported(bpy, folder / "Column_LOD0.fbx"), names[:1], rest[:1])
    else:
        _check_skinned(
            bpy, _imported(bpy, folder / ("Column.glb" if target == "gltf" else "Column.fbx")), names, rest
        )


@pytest.mark.parametrize("target", ["godot"])
def test_a_target_without_skins_refuses_a_rigged_chain_and_writes_nothing(addon, rigged, tmp_path, target):
    _bpy, make = rigged
    _rig, results = make(armature_parent=False)
    with pytest.raises(
        addon.core.errors.InputError, match=r"cannot carry the armature 'Rig' yet: export for unity"
    ):
        addon.blender_io.packages.export_package(results, target, tmp_path, "Column")
    assert not (tmp_path / f"Column_{target}").exists()


def test_the_cli_refuses_a_rigged_input_before_its_job_when_the_target_cannot_carry_the_rig(
    addon, blank, tmp_path, capsys
):
    bpy = blank
    _skinned_column(bpy, modifier=True, armature_parent=False)
    blend = tmp_path / "column.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    out_dir = tmp_path / "out"
    argv = [blend, "--out", out_dir, "--faces", 600, "--lods", 1, "--cache", tmp_path / "cache", "--json"]
    code, out, err = run_cli(addon, [*argv, "--export", "godot"], capsys)
    assert code == 1 and "the godot package cannot carry the armature 'Rig' yet: export for unity" in err
    assert json.loads(out.strip().splitlines()[-1])["results"] == []
    assert not any(out_dir.glob("*")), "no job ran: nothing was written"
    code, out, err = run_cli(addon, [*argv, "--export", "godot", "--dry-run"], capsys)
    assert code == 1 and "the godot package cannot carry the armature 'Rig' yet" in err, (
        "a dry run says so too"
    )
    assert json.loads(out.strip().splitlines()[-1])["planned"] == []
    code, out, err = run_cli(addon, [*argv, "--export", "unity"], capsys)
    assert code == 0, err
    (result,) = json.loads(out.strip().splitlines()[-1])["results"]
    _check_skinned(bpy, _imported(bpy, Path(result["export"]) / "column.fbx"), ["column_LOD0", "column_LOD1"])


def _greyed_out_targets(log: list) -> set[str]:
    """The targets of the Export for buttons drawn greyed out (tests/support/layout.py's log)."""
    greyed, disabled = set(), False
    for entry in log:
        if entry[:2] == ("operator", "retopo_hub.export_package"):
            disabled = False
        elif entry == ("operator_disabled", "retopo_hub.export_package"):
            disabled = True
        elif entry[:3] == ("operator_prop", "retopo_hub.export_package", "target") and disabled:
            greyed.add(entry[3])
    return greyed


def test_the_panel_greys_out_the_engine_that_cannot_carry_the_rig(addon, rigged):
    bpy, make = rigged
    make(armature_parent=False)
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert _greyed_out_targets(log) == {"godot"}
    for obj in list(bpy.data.objects):  # the same job without its rig: every engine
        if obj.type == "ARMATURE":
            bpy.data.objects.remove(obj)
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context)
    assert _greyed_out_targets(log) == set()
    assert {e[3] for e in log if e[:3] == ("operator_prop", "retopo_hub.export_package", "target")} == {
        "unity", "unreal", "godot", "gltf", "sbox"
    }  # fmt: skip
