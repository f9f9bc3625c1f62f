# SPDX-License-Identifier: GPL-3.0-or-later
"""Reviewing a finished job in real Blender: Source / Result, Isolate, Apply to Source (and back), Delete."""

from __future__ import annotations

import json

import numpy as np

from tests.support.layout import draw_panel
from tests.support.scene import fingerprint, ico_sphere


def _world_corners(obj) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = np.c_[co.reshape(-1, 3), np.ones(len(co) // 3)]
    return (np.array(obj.matrix_world) @ co.T).T[:, :3]


def _finished_job(bpy, lods: int = 1):
    rock = ico_sphere("Rock", location=(1.0, 2.0, 0.5))
    rock.rotation_euler = (0.3, 0.0, 0.7)
    rock.scale = (1.5, 1.0, 0.8)
    rock.modifiers.new("Bevel", "BEVEL")
    rock.retopo_hub.target_faces = 800
    rock.retopo_hub.lod_levels = lods
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done"
    return rock, record


def _buttons(bpy) -> list[str]:
    return [e[1] for e in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context) if e[0] == "operator"]


def test_show_source_or_result_and_isolate(blank):
    bpy = blank
    other = ico_sphere("Bystander", location=(9.0, 0.0, 0.0))
    rock, record = _finished_job(bpy)
    result = bpy.data.objects["Rock_retopo"]
    assert {"retopo_hub.toggle_result", "retopo_hub.isolate_job", "retopo_hub.apply_to_source",
            "retopo_hub.delete_results"} <= set(_buttons(bpy))  # fmt: skip
    assert bpy.ops.retopo_hub.toggle_result(job_id=record.job_id) == {"FINISHED"}
    assert result.hide_get() and bpy.data.objects["Rock_LOD1"].hide_get() and not rock.hide_get()
    assert bpy.ops.retopo_hub.toggle_result(job_id=record.job_id) == {"FINISHED"}
    assert not result.hide_get() and rock.hide_get()
    assert bpy.ops.retopo_hub.isolate_job(job_id=record.job_id) == {"FINISHED"}
    assert other.hide_get() and not result.hide_get() and not rock.hide_get()
    assert bpy.ops.retopo_hub.isolate_job(job_id=record.job_id) == {"FINISHED"}
    assert not other.hide_get()


def test_apply_to_source_keeps_name_transform_and_modifiers_and_can_be_restored(blank):
    bpy = blank
    rock, record = _finished_job(bpy)
    before = fingerprint(rock)
    source_mesh = rock.data.name
    result = bpy.data.objects["Rock_retopo"]
    result_faces, result_world = len(result.data.polygons), _world_corners(result)
    assert bpy.ops.retopo_hub.apply_to_source(job_id=record.job_id) == {"FINISHED"}
    assert rock.name == "Rock" and [m.type for m in rock.modifiers] == ["BEVEL"]
    assert len(rock.data.polygons) == result_faces and "Rock_retopo" not in bpy.data.objects
    assert np.allclose(_world_corners(rock), result_world, atol=1e-4), "it stays where the result was"
    assert "retopo_hub.restore_original" in _buttons(bpy)
    assert bpy.data.meshes["Rock_original"].use_fake_user, "the original mesh survives a save"
    assert bpy.ops.retopo_hub.restore_original(job_id=record.job_id) == {"FINISHED"}
    assert fingerprint(rock) == before and rock.data.name == source_mesh
    assert "retopo_hub.restore_original" not in _buttons(bpy)


def test_apply_to_source_is_one_undo_step(blank):
    """Ctrl+Z after Apply to Source gives the source its own mesh back and the result its object, as a
    click in the panel would: the operator runs with an undo step of its own (``bpy.ops`` takes the
    execution context and ``undo`` positionally; a button press pushes that step itself)."""
    bpy = blank
    rock, record = _finished_job(bpy)
    before, result_faces = fingerprint(rock), len(bpy.data.objects["Rock_retopo"].data.polygons)
    assert bpy.ops.ed.undo_push(message="Retopologize") == {"FINISHED"}
    assert bpy.ops.retopo_hub.apply_to_source("EXEC_DEFAULT", True, job_id=record.job_id) == {"FINISHED"}
    assert len(bpy.data.objects["Rock"].data.polygons) == result_faces
    assert "Rock_retopo" not in bpy.data.objects
    assert bpy.ops.ed.undo() == {"FINISHED"}
    # Undo reloads the file's data, so every reference taken before it is stale: look things up again.
    rock = bpy.data.objects["Rock"]
    assert fingerprint(rock) == before, "the source has its own mesh again"
    assert len(bpy.data.objects["Rock_retopo"].data.polygons) == result_faces
    assert "Rock_original" not in bpy.data.meshes and "retopo_hub.restore_original" not in _buttons(bpy)
    assert bpy.ops.ed.redo() == {"FINISHED"}
    assert len(bpy.data.objects["Rock"].data.polygons) == result_faces, "and Redo applies it again"


def test_delete_results_removes_objects_and_their_meshes(blank):
    bpy = blank
    _rock, record = _finished_job(bpy, lods=2)
    meshes = {bpy.data.objects[n].data.name for n in ("Rock_retopo", "Rock_LOD1", "Rock_LOD2")}
    assert bpy.ops.retopo_hub.delete_results(job_id=record.job_id) == {"FINISHED"}
    assert not {"Rock_retopo", "Rock_LOD1", "Rock_LOD2"} & set(bpy.data.objects.keys())
    assert not meshes & set(bpy.data.meshes.keys())
    assert "Rock" in bpy.data.objects
    assert "retopo_hub.delete_results" not in _buttons(bpy)


def test_status_bar_line_while_jobs_run_and_one_report_per_ended_job(addon, blank):
    bpy = blank
    watch = addon.operators.watch
    rock = ico_sphere("Rock")
    rock.retopo_hub.target_faces = 800
    scene = bpy.context.scene
    assert watch.status_line(scene) is None
    job_ids = addon.jobs.submit.submit_objects(bpy.context, [rock])
    line = watch.status_line(scene)
    assert line.startswith("Retopo Hub: Rock ") and line.endswith("Esc cancels")
    addon.jobs.step.run_blocking(job_ids)
    assert watch.status_line(scene) is None
    seen: set[str] = set()
    ((level, text),) = watch.newly_ended(scene, seen)
    assert level == "INFO" and text.startswith("Rock: ") and "faces" in text and "\n" not in text
    assert watch.newly_ended(scene, seen) == [], "reported once"


def test_every_result_gets_a_quality_report_and_a_distance_heatmap(blank):
    bpy = blank
    _rock, record = _finished_job(bpy)
    quality = json.loads(record.details_json)["quality"]
    assert set(quality) == {"Rock_retopo"}, "a LoD is judged by its error against LOD0, not measured again"
    lod0 = quality["Rock_retopo"]
    assert lod0["faces"] == len(bpy.data.objects["Rock_retopo"].data.polygons)
    assert lod0["quad_share"] > 0.95 and 0.0 <= lod0["irregular_share"] < 0.2
    assert lod0["topology"]["pieces"] == lod0["source_topology"]["pieces"] == 1
    assert lod0["topology"]["genus"] == 0 and lod0["topology"]["boundary_loops"] == 0
    assert 0.0 < lod0["mean_distance_pct"] < lod0["hausdorff_pct"] < 5.0
    assert lod0["target_faces"] == 800
    assert lod0["target_exceeded"] == round(max(0.0, lod0["faces"] / 800 - 1.0), 4)
    result = bpy.data.objects["Rock_retopo"]
    assert json.loads(result["retopo_hub_quality"]) == lod0
    lod1 = bpy.data.objects["Rock_LOD1"]
    assert "retopo_hub_quality" not in lod1 and "retopo_distance" not in lod1.data.color_attributes
    assert lod1["retopo_hub_error"] > 0.0
    colors = result.data.color_attributes["retopo_distance"]
    assert colors.domain == "POINT" and len(colors.data) == len(result.data.vertices)
    rgba = np.empty(len(colors.data) * 4, np.float32)
    colors.data.foreach_get("color", rgba)
    red, green = rgba.reshape(-1, 4)[:, 0], rgba.reshape(-1, 4)[:, 1]
    assert np.allclose(red + green, 1.0, atol=1e-5) and np.median(green) > 0.5, "mostly on the source"
    labels = [e[1] for e in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_jobs, bpy.context) if e[0] == "label"]
    assert any("% quads" in text and "poles" in text and "distance" in text for text in labels), labels
    assert "retopo_hub.distance_heatmap" in _buttons(bpy)
    result.data.color_attributes.active_color = None
    assert bpy.ops.retopo_hub.distance_heatmap(job_id=record.job_id) == {"FINISHED"}
    assert result.data.color_attributes.active_color.name == "retopo_distance"
    views = [a.spaces.active for w in bpy.context.window_manager.windows for a in w.screen.areas
             if a.type == "VIEW_3D"]  # fmt: skip
    assert all(v.shading.color_type == "VERTEX" for v in views)
    assert bpy.ops.retopo_hub.distance_heatmap(job_id=record.job_id) == {"FINISHED"}
    assert all(v.shading.color_type == "MATERIAL" for v in views), "again: switched off"


def test_a_triangle_result_counts_poles_against_valence_six(blank):
    bpy = blank
    # Decimate mode within 2% of the source keeps the icosphere itself as LOD0: all its vertices have six
    # edges but the icosahedron's 12 corners, which have five.
    rock = ico_sphere("Tri", subdivisions=5)
    settings = rock.retopo_hub
    settings.mode, settings.quads, settings.target_faces, settings.lod_levels = "decimate", False, 5040, 0
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    lod0 = json.loads(bpy.data.objects["Tri_retopo"]["retopo_hub_quality"])
    assert lod0["quad_share"] == 0.0 and lod0["interior_vertices"] == 2562
    assert lod0["irregular_share"] == 12 / 2562


def test_the_summary_says_when_a_result_went_well_over_its_face_target(addon):
    from importlib import import_module

    measure = import_module(addon.__name__ + ".jobs.measure")
    report = {"faces": 1300, "quad_share": 1.0, "irregular_share": 0.05, "target_exceeded": 0.3}
    assert "30% over the face target" in measure.summary(report)
    assert "over the face target" not in measure.summary(report | {"target_exceeded": 0.04}), "within 10%"
    assert "over the face target" not in measure.summary(report | {"target_exceeded": None}), "not asked"


def test_reports_land_at_once_and_heatmaps_one_per_step(addon, blank, tmp_path):
    """Many jobs finishing together do not hold the UI timer's step: every report is on its job in the step
    its answer arrives, the heatmaps follow one a step, and each job stays pending until its own is on."""
    bpy = blank
    measure, session = addon.jobs.measure, addon.jobs.session
    answers, jobs = {}, []
    for number in range(3):
        rock = ico_sphere(f"Rock{number}")
        record = addon.jobs.records.new(
            bpy.context.scene, job_id=f"job{number}", provider="local", source=rock,
            options={"target_faces": 100}, work_dir=tmp_path,
        )  # fmt: skip
        distances = tmp_path / f"d{number}.npy"
        np.save(distances, np.zeros(len(rock.data.vertices), np.float32))
        session.measuring()[f"m{number}"] = record.job_id
        report = {"faces": len(rock.data.polygons), "distance_scale": 1.0}
        answers[f"m{number}"] = {"results": {rock.name: {"quality": report, "distances": str(distances)}}}
        jobs.append((record, rock))
    measure.apply(answers)
    painted = [r.name for _rec, r in jobs if "retopo_distance" in r.data.color_attributes]
    assert all("quality" in json.loads(rec.details_json) and "retopo_hub_quality" in r for rec, r in jobs)
    assert painted == ["Rock0"] and measure.queued()
    assert [measure.pending(rec.job_id) for rec, _r in jobs] == [False, True, True]
    measure.apply({})
    measure.apply({})
    assert all("retopo_distance" in r.data.color_attributes for _rec, r in jobs) and not measure.queued()
    assert not any(measure.pending(rec.job_id) for rec, _r in jobs)
