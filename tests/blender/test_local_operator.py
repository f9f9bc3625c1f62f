# SPDX-License-Identifier: GPL-3.0-or-later
"""The local provider end to end in real Blender: operator -> worker -> child process -> new objects."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.layout import draw_panel
from tests.support.scene import face_sizes, fingerprint, ico_sphere, select_only


def _results(bpy, source_name: str) -> dict[str, object]:
    coll = bpy.data.collections[f"{source_name}_RetopoHub"]
    return {o.name: o for o in coll.objects}


def test_submit_quads_creates_retopo_next_to_untouched_original(blank):
    bpy = blank
    rock = ico_sphere("Rock")
    before = fingerprint(rock)
    rock.retopo_hub.target_faces = 2000
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    assert fingerprint(rock) == before, "the original must never be modified"
    results = _results(bpy, "Rock")
    assert set(results) == {"Rock_retopo"}
    result = results["Rock_retopo"]
    sizes = face_sizes(result)
    assert abs(len(sizes) - 2000) <= 200, len(sizes)
    assert (sizes == 4).mean() >= 0.95
    assert np.allclose(np.array(result.matrix_world), np.array(rock.matrix_world))
    assert result["retopo_hub_provider"] == "local"
    assert result["retopo_hub_engine"] == "instant-meshes"
    assert result["retopo_hub_lod"] == 0
    assert json.loads(result["retopo_hub_settings"])["target_faces"] == 2000
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and record.imported
    assert record.faces_requested == 2000 and record.faces_achieved == len(sizes)
    # The result lies on the source surface: every result vertex near radius 1..1.05 (before scale).
    co = np.empty(len(result.data.vertices) * 3, np.float32)
    result.data.vertices.foreach_get("co", co)
    radius = np.linalg.norm(co.reshape(-1, 3), axis=1)
    assert radius.min() > 0.9 and radius.max() < 1.1


def test_subdivided_suzanne_is_remeshed_by_the_bundled_engine(blank):
    """The check a new user makes on any supported Blender: the zip's own wheels remesh a Suzanne."""
    bpy = blank
    bpy.ops.mesh.primitive_monkey_add()
    suzanne = bpy.context.active_object
    suzanne.modifiers.new("Subdivision", "SUBSURF").levels = 2
    bpy.ops.object.modifier_apply(modifier="Subdivision")
    suzanne.retopo_hub.target_faces = 2000
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    result = _results(bpy, suzanne.name)[f"{suzanne.name}_retopo"]
    assert result["retopo_hub_engine"] == "instant-meshes"
    assert abs(len(result.data.polygons) - 2000) <= 200


def test_lod_chain_follows_the_sboxcool_curve(blank):
    bpy = blank
    rock = ico_sphere("Crate")
    settings = rock.retopo_hub
    settings.target_faces, settings.lod_levels, settings.lod_final_ratio = 3000, 3, 0.2
    settings.lod_switch, settings.lod_max_threshold = "linear", 90.0
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    results = _results(bpy, "Crate")
    assert set(results) == {"Crate_retopo", "Crate_LOD1", "Crate_LOD2", "Crate_LOD3"}
    # Ratios count triangles, what a GPU draws: LOD0's quads count twice.
    sizes = face_sizes(results["Crate_retopo"])
    lod0_triangles = int((sizes - 2).sum())
    for level in (1, 2, 3):
        obj = results[f"Crate_LOD{level}"]
        expected = 0.2 ** ((level / 3) ** 1.7) * lod0_triangles
        assert abs(len(obj.data.polygons) - expected) <= 0.1 * expected + 2
        assert obj["retopo_hub_switch_threshold"] == pytest.approx(90.0 * level / 3)
        assert obj["retopo_hub_lod"] == level
        assert obj["retopo_hub_engine"] == "fast-simplification"
        assert obj["retopo_hub_error"] > 0.0


def test_lods_switch_where_their_error_is_one_pixel(blank, addon):
    bpy = blank
    rock = ico_sphere("Rock")
    settings = rock.retopo_hub
    settings.target_faces, settings.lod_levels, settings.lod_final_ratio = 3000, 3, 0.05
    assert settings.lod_switch == "error"
    settings.fov = 90.0
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    results = _results(bpy, "Rock")
    levels = [results["Rock_retopo"], *(results[f"Rock_LOD{i}"] for i in (1, 2, 3))]
    errors = [obj.get("retopo_hub_error") for obj in levels]
    distances = [obj["retopo_hub_switch_threshold"] for obj in levels]
    coverages = [obj["retopo_hub_screen_coverage"] for obj in levels]
    assert errors[0] == 0.0 and all(e > 0.0 for e in errors[1:])
    assert distances[0] == 0.0 and distances == sorted(distances)
    # Rising error, rising distance: at 90 degrees a 1920 px screen is 2 d wide, so d = 960 e.
    for error, distance, before in zip(errors[1:], distances[1:], distances[:-1], strict=True):
        assert distance == pytest.approx(max(960.0 * error, before))
    assert coverages[0] == 1.0 and coverages == sorted(coverages, reverse=True)
    lodmath = addon.core.lodmath
    low = np.array([min(v.co[k] for v in levels[0].data.vertices) for k in range(3)])
    high = np.array([max(v.co[k] for v in levels[0].data.vertices) for k in range(3)])
    radius = lodmath.bounding_radius(low, high)
    assert coverages[3] == pytest.approx(lodmath.screen_size(radius, distances[3], 90.0), rel=1e-3)


def test_triangle_modes(blank):
    bpy = blank
    rock = ico_sphere("Tri")
    rock.retopo_hub.quads = False
    rock.retopo_hub.target_faces = 1500
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    sizes = face_sizes(bpy.data.objects["Tri_retopo"])
    assert (sizes == 3).all() and abs(len(sizes) - 1500) <= 150

    dec = ico_sphere("Dec", location=(5, 0, 0))
    dec.retopo_hub.mode = "decimate"
    dec.retopo_hub.target_faces = 4000
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    sizes = face_sizes(bpy.data.objects["Dec_retopo"])
    assert (sizes == 3).all() and abs(len(sizes) - 4000) <= 400


def test_blenders_own_needle_cylinder_decimates_to_its_budget_with_its_lods(blank):
    """Blender's 128-segment cylinder with fan caps: fast_simplification alone kept all 512 triangles and the
    job ended with a stall warning; now LOD0 and its LoDs reach their budgets, closed, on the cylinder."""
    bpy = blank
    bpy.ops.mesh.primitive_cylinder_add(vertices=128, end_fill_type="TRIFAN", location=(0, 10, 0))
    cylinder = bpy.context.active_object
    cylinder.name = "Needles"
    before = fingerprint(cylinder)
    cylinder.retopo_hub.mode = "decimate"
    cylinder.retopo_hub.target_faces = 100
    cylinder.retopo_hub.lod_levels = 2
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done" and not record.message.startswith("done with warnings"), record.message
    assert fingerprint(cylinder) == before
    results = _results(bpy, "Needles")
    lod0 = results["Needles_retopo"]
    assert abs(len(lod0.data.polygons) - 100) <= 10
    counts = [len(results[f"Needles_LOD{level}"].data.polygons) for level in (1, 2)]
    assert 100 > counts[0] > counts[1] >= 4, counts
    for result in (lod0, results["Needles_LOD1"]):
        edges: dict[tuple[int, int], int] = {}
        for poly in result.data.polygons:
            for key in poly.edge_keys:
                edges[key] = edges.get(key, 0) + 1
        assert set(edges.values()) == {2}, result.name  # closed and manifold
        # Every vertex stays on a rim. Quadric placement puts a coarse polygon partly outside the circle (a
        # 15-gon's corners around it are 1.022 out), never far.
        radii = [np.hypot(v.co.x, v.co.y) for v in result.data.vertices]
        heights = [abs(v.co.z) for v in result.data.vertices]
        assert min(radii) > 0.97 and max(radii) < 1.03 and min(heights) > 0.999 and max(heights) < 1.001


def test_each_object_keeps_its_own_settings(blank):
    bpy = blank
    a = ico_sphere("A", location=(0, 0, 0))
    b = ico_sphere("B", location=(4, 0, 0))
    a.retopo_hub.target_faces = 1000
    b.retopo_hub.target_faces = 3000
    select_only(a, b)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert abs(len(bpy.data.objects["A_retopo"].data.polygons) - 1000) <= 100
    assert abs(len(bpy.data.objects["B_retopo"].data.polygons) - 3000) <= 300
    assert len(bpy.context.scene.retopo_hub.jobs) == 2


def test_modal_driver_uses_the_same_step(blank, addon):
    """The UI path: submit without blocking, then tick the step function like the modal timer does."""
    bpy = blank
    rock = ico_sphere("Tick")
    rock.retopo_hub.target_faces = 1200
    rock.retopo_hub.lod_levels = 1
    engine = addon.jobs
    (job_id,) = engine.submit.submit_objects(bpy.context, [rock])
    ticks = 0
    while engine.step.step(bpy.context.scene):  # one import per tick at most, like the timer
        ticks += 1
        engine.session.worker_host().wait_for_event(0.05)
        assert ticks < 2000
    record = engine.records.find(job_id)
    assert record.state == "done"
    assert {"Tick_retopo", "Tick_LOD1"} <= set(bpy.data.objects.keys())


def test_cancel_stops_the_child_and_imports_nothing(blank, addon):
    bpy = blank
    rock = ico_sphere("Stop", subdivisions=7)
    rock.retopo_hub.target_faces = 5000
    engine = addon.jobs
    (job_id,) = engine.submit.submit_objects(bpy.context, [rock])
    engine.step.cancel(job_id)
    records = engine.step.run_blocking([job_id])
    assert records[0].state == "cancelled"
    assert "Stop_retopo" not in bpy.data.objects
    assert "Stop_RetopoHub" not in bpy.data.collections


def _engine_pids(engine) -> set[int]:
    """The worker host's child processes (Linux /proc): its warm engine children.

    Reads each process's parent from /proc/<pid>/stat rather than the host's per-thread children lists,
    because the host's threads come and go while this reads them."""
    host = engine.session.worker_host()._proc.pid
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while this looked
            continue
        # The command name in parentheses may hold spaces; the parent pid is the second field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == host:
            children.add(int(entry.name))
    return children


def _submit(bpy, engine, name: str, *, subdivisions: int = 3, faces: int = 300) -> str:
    rock = ico_sphere(name, subdivisions=subdivisions)
    rock.retopo_hub.target_faces = faces
    (job_id,) = engine.submit.submit_objects(bpy.context, [rock])
    return job_id


def _step_until_remeshing(bpy, engine, job_id: str) -> None:
    end = time.monotonic() + 120
    while "Instant Meshes" not in (engine.records.find(job_id).message or ""):
        assert time.monotonic() < end and not engine.records.terminal(engine.records.find(job_id).state)
        engine.step.step(bpy.context.scene)
        engine.session.worker_host().wait_for_event(0.02)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the engine processes in /proc")
def test_a_warm_engine_serves_job_after_job_and_a_killed_or_cancelled_one_is_replaced(blank, addon):
    bpy, engine = blank, addon.jobs
    engine.session.shutdown()  # a worker host of this test's own
    try:
        assert [r.state for r in engine.step.run_blocking([_submit(bpy, engine, "First")])] == ["done"]
        warm = _engine_pids(engine)
        assert warm
        assert [r.state for r in engine.step.run_blocking([_submit(bpy, engine, "Second")])] == ["done"]
        assert _engine_pids(engine) == warm, "the second job ran in the same engine process"

        for pid in warm:  # dies while idle: the next job must not notice
            os.kill(pid, signal.SIGKILL)
        assert [r.state for r in engine.step.run_blocking([_submit(bpy, engine, "Third")])] == ["done"]
        assert not _engine_pids(engine) & warm

        crash = _submit(bpy, engine, "Crash", subdivisions=7, faces=5000)
        _step_until_remeshing(bpy, engine, crash)
        for pid in _engine_pids(engine):
            os.kill(pid, signal.SIGKILL)
        (crashed,) = engine.step.run_blocking([crash])
        assert crashed.state == "failed" and "local engine stopped unexpectedly" in crashed.message
        assert "\n" not in crashed.message and "Crash_retopo" not in bpy.data.objects
        assert [r.state for r in engine.step.run_blocking([_submit(bpy, engine, "Fourth")])] == ["done"]

        stop = _submit(bpy, engine, "Stop", subdivisions=7, faces=5000)
        _step_until_remeshing(bpy, engine, stop)
        running = _engine_pids(engine)
        started = time.monotonic()
        engine.step.cancel(stop)
        assert [r.state for r in engine.step.run_blocking([stop])] == ["cancelled"]
        assert time.monotonic() - started < 10, "cancel stops the engine at once"
        assert [r.state for r in engine.step.run_blocking([_submit(bpy, engine, "Last")])] == ["done"]
        assert not _engine_pids(engine) & running, "the cancelled job's engine process was not reused"
    finally:
        engine.session.shutdown()


def test_results_land_in_the_extension_user_folder(blank, addon):
    bpy = blank
    bpy.context.preferences.addons[addon.__name__].preferences.cache_dir = ""
    rock = ico_sphere("Where")
    rock.retopo_hub.target_faces = 800
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    user_dir = bpy.utils.extension_path_user(addon.__name__, create=False)
    assert record.work_dir.startswith(user_dir)
    assert not record.work_dir.startswith(str(addon.jobs.session.EXTENSION_ROOT))


def test_without_the_engine_wheels_blender_remeshes_itself(blank, addon, monkeypatch):
    """On a platform without the bundled wheels, QuadriFlow/Decimate take over, through the same importer."""
    bpy = blank
    addon.jobs.session.shutdown()  # the worker host reads its environment when it starts
    monkeypatch.setenv("RETOPO_HUB_ENGINE_WITHOUT_WHEELS", "1")
    try:
        rock = ico_sphere("Fallback", subdivisions=5)
        before = fingerprint(rock)
        rock.retopo_hub.target_faces, rock.retopo_hub.lod_levels = 1000, 1
        assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
        results = _results(bpy, "Fallback")
        assert set(results) == {"Fallback_retopo", "Fallback_LOD1"}
        lod0 = len(results["Fallback_retopo"].data.polygons)
        assert 500 < lod0 < 2000
        assert len(results["Fallback_LOD1"].data.polygons) < 2 * lod0
        assert fingerprint(rock) == before
        assert "retopo_hub_fallback" not in bpy.data.objects, "temporary objects are removed"
        # Never silent: each result names Blender's remesher, and the panel says why, once.
        assert results["Fallback_retopo"]["retopo_hub_engine"] == "quadriflow"
        assert results["Fallback_LOD1"]["retopo_hub_engine"] == "decimate"
        # Its LoDs are measured and placed by the same Switch Rule.
        lod1 = results["Fallback_LOD1"]
        assert lod1["retopo_hub_error"] > 0.0
        expected = addon.core.lodmath.distance_for_pixel_error(lod1["retopo_hub_error"], 1, 1920, 60)
        assert lod1["retopo_hub_switch_threshold"] == pytest.approx(expected)
        log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
        notices = [e for e in log if e[0] == "label" and "RETOPO_HUB_ENGINE_WITHOUT_WHEELS" in e[1]]
        assert len(notices) == 1, log
    finally:
        addon.jobs.session.shutdown()


def test_lods_section_shows_the_switch_rule_settings(blank):
    bpy = blank
    rock = ico_sphere("Rock")
    rock.retopo_hub.lod_levels = 2

    def shown() -> set[str]:
        log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
        return {e[1] for e in log if e[0] == "prop"}

    by_error = shown()
    assert {"lod_switch", "pixel_error", "screen_width", "fov"} <= by_error
    assert "lod_max_threshold" not in by_error
    rock.retopo_hub.lod_switch = "linear"
    linear = shown()
    assert "lod_max_threshold" in linear and not {"pixel_error", "screen_width", "fov"} & linear
    rock.retopo_hub.provider = "sboxcool"
    assert "lod_switch" not in shown() and "lod_max_threshold" in shown()
