# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input in real Blender: a one-line error that says what to do, and nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scene import fingerprint, ico_sphere, mesh_object, scene_state, select_only


def _refused(bpy, match: str) -> None:
    before = scene_state()
    jobs_before = len(bpy.context.scene.retopo_hub.jobs)
    with pytest.raises(RuntimeError, match=match) as info:
        bpy.ops.retopo_hub.submit()
    message = str(info.value).strip().splitlines()[-1]
    assert len(message) < 200
    assert scene_state() == before, "a refused submit must leave the scene as it was"
    assert len(bpy.context.scene.retopo_hub.jobs) == jobs_before, "no job record for refused input"


def test_nothing_selected(blank):
    ico_sphere("Rock")
    select_only()
    _refused(blank, "nothing selected: select")


def test_non_mesh_object(blank):
    bpy = blank
    bpy.ops.object.camera_add()
    _refused(bpy, "is a camera, not a mesh")


def test_empty_mesh(blank):
    mesh_object("Empty", [], [])
    _refused(blank, "is empty: add geometry")


def test_loose_vertices_only(blank):
    mesh_object("Loose", [(0, 0, 0), (1, 0, 0), (0, 1, 0)], [])
    _refused(blank, "has vertices but no faces")


@pytest.mark.parametrize("faces", [2, 10**7])
def test_target_face_count_out_of_range(blank, faces):
    rock = ico_sphere("Rock")
    # The property itself clamps; scripts can still pass a bad value through the engine's options.
    rock.retopo_hub.target_faces = max(4, min(faces, 1_000_000))
    if faces > 1000:
        _refused(blank, r"must be below the source's 20480 triangles")
    else:
        _refused_engine(blank, rock, faces)


def _refused_engine(bpy, rock, faces):
    import importlib

    engine = importlib.import_module("bl_ext.user_default.retopo_hub.jobs")
    errors = importlib.import_module("bl_ext.user_default.retopo_hub.core.errors")
    options = engine.specs.options_from_object(rock)
    options["target_faces"] = faces
    before = scene_state()
    with pytest.raises(errors.InputError, match=r"(?i)target faces must be a whole number between 4 and"):
        engine.submit.submit_objects(bpy.context, [rock], provider="local", options=options)
    assert scene_state() == before


def test_degenerate_geometry_fails_cleanly(blank, addon):
    bpy = blank
    # Every triangle has zero area: all points on one line.
    verts = [(i * 0.1, 0, 0) for i in range(30)]
    faces = [(i, i + 1, i + 2) for i in range(28)]
    flat = mesh_object("Flat", verts, faces)
    flat.retopo_hub.target_faces = 10
    before_print = fingerprint(flat)
    before = scene_state()
    with pytest.raises(RuntimeError) as info:
        bpy.ops.retopo_hub.submit()
    assert "Flat" in str(info.value)
    assert scene_state() == before and fingerprint(flat) == before_print
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed" and record.message
    assert not Path(record.work_dir).exists(), "a failed local job leaves no half-written files"


def test_non_manifold_mesh_still_retopologizes(blank):
    """An open grid (boundary edges) with a fin sharing an interior edge (three faces on one edge)."""
    bpy = blank
    n = 60
    verts = [(x / n, y / n, 0.05 * ((x * y) % 7) / 7) for y in range(n + 1) for x in range(n + 1)]
    faces = [
        (y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x + 1, (y + 1) * (n + 1) + x)
        for y in range(n)
        for x in range(n)
    ]
    mid = (n // 2) * (n + 1) + n // 2
    verts.append((0.5, 0.5, 0.5))
    faces.append((mid, mid + 1, len(verts) - 1))
    sheet = mesh_object("Sheet", verts, faces)
    sheet.retopo_hub.target_faces = 600
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert len(bpy.data.objects["Sheet_retopo"].data.polygons) > 300


def _result_coords(bpy, name: str):
    import numpy as np

    mesh = bpy.data.objects[name].data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def test_what_the_viewport_shows_is_retopologized(blank):
    """A cube with a Subdivision modifier is its evaluated 3,072 triangles, not its base 12."""
    bpy = blank
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    cube.name = "Box"
    cube.modifiers.new("Subdivision", "SUBSURF").levels = 4
    cube.retopo_hub.target_faces = 1000
    before = fingerprint(cube)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert abs(len(bpy.data.objects["Box_retopo"].data.polygons) - 1000) <= 100
    assert fingerprint(cube) == before and len(cube.modifiers) == 1, "the source and its modifier stay"
    # A subdivided cube is rounded: its corners pulled in from (1, 1, 1).
    assert abs(_result_coords(bpy, "Box_retopo")).max() < 0.95
    cube.retopo_hub.use_modifiers = False  # the base mesh: 12 triangles cannot be reduced to 1000 faces
    _refused(bpy, r"target faces \(1000\) must be below the source's 12 triangles")


def test_shape_keys_as_shown_are_retopologized(blank):
    bpy = blank
    rock = ico_sphere("Morph", subdivisions=4)
    rock.shape_key_add(name="Basis")
    lifted = rock.shape_key_add(name="Lifted")
    for point in lifted.data:
        point.co.z += 3.0
    lifted.value = 1.0
    rock.retopo_hub.target_faces = 800
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    z = _result_coords(bpy, "Morph_retopo")[:, 2]
    assert z.min() > 1.5, "the mesh on screen (lifted by 3) was retopologized, not the basis"
