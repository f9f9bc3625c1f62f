# SPDX-License-Identifier: GPL-3.0-or-later
"""Symmetry end to end in real Blender: the panel's toggles, the operator on a moved and turned object (the
mirror plane is the object's own, not the world's) and the CLI's ``--symmetry``."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.support.cli import export_selected_obj, run_cli
from tests.support.layout import draw_panel
from tests.support.scene import ico_sphere, select_only


def _coordinates(obj) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _mirror_exact(verts: np.ndarray, axis: int) -> bool:
    """Every vertex's image across ``coordinate[axis] == 0`` is a vertex, to the last bit."""
    images = verts.copy()
    images[:, axis] = -images[:, axis]
    rows = {tuple(v) for v in verts.tolist()}
    return all(tuple(v) in rows for v in images.tolist())


def _open_edges(obj) -> int:
    uses = np.zeros(len(obj.data.edges), dtype=np.int64)
    edge_of_corner = np.empty(len(obj.data.loops), dtype=np.int64)
    obj.data.loops.foreach_get("edge_index", edge_of_corner)
    np.add.at(uses, edge_of_corner, 1)
    return int(np.count_nonzero(uses != 2))


def _x_symmetric_rock(name: str):
    """A bumpy sphere symmetric across its local YZ plane but not across any world plane (turned, moved)."""
    rock = ico_sphere(name, subdivisions=5, location=(3.0, -2.0, 1.5))
    co = _coordinates(rock)
    bumps = 1.0 + 0.06 * np.cos(4 * co[:, 0]) * np.sin(3 * co[:, 1] + 0.5) + 0.05 * co[:, 1]
    rock.data.vertices.foreach_set("co", (co * bumps[:, None]).ravel())
    rock.data.update()
    rock.rotation_euler = (0.4, 0.3, 0.9)
    bpy.context.view_layer.update()
    return rock


def test_the_panel_shows_the_axes_as_toggles_for_the_local_engine_only(blank):
    rock = ico_sphere("Panel", subdivisions=3)
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
    assert ("prop", "symmetry") in log and ("label", "Topology") in log
    rock.retopo_hub.provider = "csm"
    assert ("prop", "symmetry") not in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)


def test_the_result_is_mirror_exact_in_the_objects_own_space(blank):
    rock = _x_symmetric_rock("Sym")
    settings = rock.retopo_hub
    settings.target_faces, settings.lod_levels = 2000, 1
    settings.symmetry = {"x"}
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    assert json.loads(record.settings_json)["symmetry"] == "x"
    coll = bpy.data.collections["Sym_RetopoHub"]
    lod0, lod1 = coll.objects["Sym_retopo"], coll.objects["Sym_LOD1"]
    assert np.allclose(np.array(lod0.matrix_world), np.array(rock.matrix_world))
    local = _coordinates(lod0)
    assert _mirror_exact(local, 0), "symmetric across the object's local X"
    assert _mirror_exact(_coordinates(lod1), 0), "the LoD too"
    assert _open_edges(lod0) == 0 and _open_edges(lod1) == 0, "the seam is welded closed"
    assert np.unique(local, axis=0).shape[0] == len(local), "no duplicate vertices on the seam"
    assert abs(len(lod0.data.polygons) - 2000) <= 200
    # In world space the same vertices are symmetric across no world axis: the local frame mattered.
    world = local @ np.array(rock.matrix_world)[:3, :3].T + np.array(rock.matrix_world)[:3, 3]
    assert not any(_mirror_exact(world, axis) for axis in range(3))


def _drawn_without_image(obj, axis: int) -> int:
    """Triangles Blender draws the mesh with (its loop triangles) whose mirror image across ``coordinate[axis]
    == 0`` is not one of them."""
    verts = _coordinates(obj)
    images = verts.copy()
    images[:, axis] = -images[:, axis]
    where = {tuple(v): i for i, v in enumerate(verts.tolist())}
    image_of = np.array([where.get(tuple(v), -1) for v in images.tolist()])
    obj.data.calc_loop_triangles()
    tris = np.empty(len(obj.data.loop_triangles) * 3, dtype=np.int64)
    obj.data.loop_triangles.foreach_get("vertices", tris)
    tris = tris.reshape(-1, 3)
    drawn = {tuple(sorted(t)) for t in tris.tolist()}
    return sum(tuple(sorted(image_of[t])) not in drawn for t in tris.tolist())


def test_the_result_is_mirror_exact_as_blender_draws_it(blank):
    """A mirrored quad was split by Blender on the other diagonal than its original, so each side shaded
    differently where quads bend and the mirrored LoDs' distance to LOD0 was the gap between the two."""
    rock = _x_symmetric_rock("Drawn")
    rock.retopo_hub.target_faces, rock.retopo_hub.symmetry = 1500, {"x"}
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    assert bpy.context.scene.retopo_hub.jobs[-1].state == "done"
    assert _drawn_without_image(bpy.data.collections["Drawn_RetopoHub"].objects["Drawn_retopo"], 0) == 0


def test_two_axes_and_a_bad_value(blank):
    rock = _x_symmetric_rock("Two")
    rock.retopo_hub.target_faces = 1500
    rock.retopo_hub.symmetry = {"x", "z"}
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    result = bpy.data.objects["Two_retopo"]
    local = _coordinates(result)
    assert _mirror_exact(local, 0) and _mirror_exact(local, 2)
    assert _open_edges(result) == 0
    with pytest.raises(ValueError, match="'w' not found"):
        rock.retopo_hub.symmetry = {"w"}  # Blender itself refuses an axis it does not know


@pytest.fixture
def sample(blank, tmp_path) -> Path:
    rock = _x_symmetric_rock("Sample")
    rock.rotation_euler = (0.0, 0.0, 0.0)
    rock.location = (0.0, 0.0, 0.0)
    select_only(rock)
    bpy.context.view_layer.update()
    return export_selected_obj(tmp_path / "sample.obj")


def test_the_cli_flag(addon, sample, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        addon, [sample, "--out", out_dir, "--faces", 1200, "--symmetry", "x", "--json"], capsys
    )
    assert code == 0, err
    (output,) = json.loads(out.strip().splitlines()[-1])["results"][0]["outputs"]
    data = addon.formats.obj.read_obj(Path(output["path"]))
    # The OBJ exporter writes Blender's Y-up convention: the object's X stays the file's X.
    assert _mirror_exact(np.asarray(data["verts"], dtype=np.float32), 0)
    for argv, message in (
        (["--symmetry", "w"], "argument --symmetry: use x, y, z or their letters (got 'w')"),
        (["--symmetry", "xq"], "argument --symmetry: use x, y, z or their letters (got 'xq')"),
        (["--symmetry", "x", "--provider", "csm"], "--symmetry does not apply to --provider csm"),
    ):
        code, _, err = run_cli(addon, [sample, "--out", out_dir, *argv], capsys)
        assert code == 2 and message in err, err
        assert len(err.strip().splitlines()) == 1, err
