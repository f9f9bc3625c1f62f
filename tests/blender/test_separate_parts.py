# SPDX-License-Identifier: GPL-3.0-or-later
"""Sources made of many separate small parts, through the CLI and the operator with the local provider.

Issue 16, item 18: 1,000 small parts at ``--faces 5000`` came back as 2,460 faces with 628 parts silently
dropped. Every part must come back, or the job must say how many did not.
"""

from __future__ import annotations

import json

import bpy

from tests.support.scene import parts_of, scattered_parts, select_only, topology_of


def test_every_small_part_comes_back_through_the_cli(addon, blank, tmp_path, capsys):
    """300 parts at 1,500 faces: 5 faces each, too few for Instant Meshes (it dropped about 40% of them)."""
    scattered_parts("Parts", 300)
    path = tmp_path / "parts.obj"
    bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)
    argv = [str(path), "--out", str(tmp_path / "out"), "--faces", "1500", "--json"]
    assert addon.jobs.cli.main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"]
    assert result["warnings"] == []
    assert 0.75 * 1500 <= result["outputs"][0]["faces"] <= 1.1 * 1500
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.obj_import(filepath=result["outputs"][0]["path"])
    assert parts_of(addon, bpy.context.selected_objects[0]) == 300


def test_parts_beyond_the_budget_are_dropped_with_a_warning(addon, blank, tmp_path, capsys):
    """400 parts in 100 faces cannot each keep 4: the job keeps the 37 that fit in 1.5x the target and says
    how many went, on the job record, in the CLI's --json and in its report."""
    source = scattered_parts("Crowd", 400)
    source.retopo_hub.target_faces = 100
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    warning = (
        "363 of 400 separate parts were too small to keep at 100 faces (each needs at least 4): raise the "
        "target face count to keep them"
    )
    assert record.state == "done" and record.message.startswith(f"done with warnings: {warning} (")
    result = bpy.data.objects["Crowd_retopo"]
    assert parts_of(addon, result) == 37

    path = tmp_path / "crowd.obj"
    select_only(source)
    bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True, export_materials=False)
    out = tmp_path / "out"
    assert addon.jobs.cli.main([str(path), "--out", str(out), "--faces", "100", "--json"]) == 0
    captured = capsys.readouterr()
    (summary,) = json.loads(captured.out.strip().splitlines()[-1])["results"]
    assert summary["warnings"] == [warning]
    assert json.loads((out / "crowd_report.json").read_text())["warnings"] == [warning]
    assert f"done with warnings: {warning}" in captured.err


def test_suzannes_eyes_stay_apart_from_her_head(addon, blank):
    """Blender's monkey (Subdivision level 2): its eyes sit within a cell of their sockets, and one Instant
    Meshes run over all three parts joined them into the head ("pieces 1 where the source has 3"). Each is
    now remeshed on its own: the result has the source's three parts. Her thin ears, made alone, opened
    holes where no border of the source is; those are closed, so the eye sockets' borders are her only
    ones, as in the source."""
    bpy.ops.mesh.primitive_monkey_add()
    monkey = bpy.context.active_object
    monkey.modifiers.new("Subdivision", "SUBSURF").levels = 2
    settings = monkey.retopo_hub
    settings.provider, settings.target_faces, settings.reproducible = "local", 1500, True
    select_only(monkey)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and "pieces" not in record.message
    result = bpy.data.objects[f"{monkey.name}_retopo"]
    assert parts_of(addon, result) == 3
    quality = json.loads(result[addon.jobs.measure.QUALITY_KEY])
    assert quality["topology"]["boundary_loops"] == quality["source_topology"]["boundary_loops"] == 4
    assert "differs" not in record.message


def test_small_open_cones_keep_both_rims_in_lod0_and_its_lods(addon, blank):
    """Twelve short open cones (Blender's own, no caps) beside a sphere, as one object, at 3,000 quads and
    two LoDs: each cone's share is 43 quads, under two of Instant Meshes' edges tall. Their wide ends came
    back pinched shut (15 open borders of 24) and their folded quads made non-manifold edges in the LoDs.
    Every level now has the source's 13 parts and 24 open borders, and no non-manifold edge."""
    for k in range(12):
        cone = {"vertices": 24, "radius1": 1.0, "radius2": 0.3, "depth": 0.5, "end_fill_type": "NOTHING"}
        bpy.ops.mesh.primitive_cone_add(**cone, location=(3.0 * k, 0, 0))
    bpy.ops.mesh.primitive_uv_sphere_add(segments=64, ring_count=32, radius=4.0, location=(-8.0, 0, 0))
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.join()
    source = bpy.context.active_object
    source.name = "Cones"
    settings = source.retopo_hub
    settings.provider, settings.target_faces, settings.lod_levels = "local", 3000, 2
    settings.reproducible = True
    select_only(source)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and "differs" not in record.message
    for name in ("Cones_retopo", "Cones_LOD1", "Cones_LOD2"):
        shape = topology_of(addon, bpy.data.objects[name])
        assert (shape["pieces"], shape["boundary_loops"], shape["nonmanifold_edges"]) == (13, 24, 0), name
