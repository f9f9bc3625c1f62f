# SPDX-License-Identifier: GPL-3.0-or-later
"""Density control end to end in real Blender: the panel's Adaptive and Density Group, a vertex group
painting the density through the operator, a wrong group name, and the CLI's ``--adaptive``."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from tests.support.cli import export_selected_obj, run_cli
from tests.support.layout import draw_panel
from tests.support.scene import ico_sphere, select_only


def _mean_edges_by_half(obj) -> tuple[float, float]:
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    ends = np.empty(len(obj.data.edges) * 2, np.int64)
    obj.data.edges.foreach_get("vertices", ends)
    a, b = co[ends[0::2]], co[ends[1::2]]
    length, middle = np.linalg.norm(a - b, axis=1), (a + b)[:, 2] / 2
    return float(length[middle > 0.1].mean()), float(length[middle < -0.1].mean())


def _painted_sphere(name: str):
    """A sphere whose top half is in the vertex group "Detail" at weight 1 (the rest is outside it)."""
    sphere = ico_sphere(name, subdivisions=5)
    group = sphere.vertex_groups.new(name="Detail")
    top = [v.index for v in sphere.data.vertices if v.co.z > 0]
    group.add(top, 1.0, "REPLACE")
    return sphere


def test_the_panel_offers_adaptive_and_the_objects_vertex_groups(blank):
    ico_sphere("Panel", subdivisions=3)
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
    assert ("prop", "adaptive") in log
    assert ("prop_search", "density_group", "vertex_groups") in log


def test_a_painted_group_puts_the_faces_where_it_says(blank):
    sphere = _painted_sphere("Painted")
    before = [tuple(v.co) for v in sphere.data.vertices]
    sphere.retopo_hub.target_faces = 2000
    sphere.retopo_hub.density_group = "Detail"
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    result = bpy.data.objects["Painted_retopo"]
    faces = len(result.data.polygons)
    assert abs(faces / 2000 - 1) <= 0.1
    assert all(len(p.vertices) == 4 for p in result.data.polygons)
    top, bottom = _mean_edges_by_half(result)
    assert bottom / top >= 3.0, (top, bottom)  # 2x against 0.5x the even edge density
    assert [tuple(v.co) for v in sphere.data.vertices] == before, "the source is untouched"


def test_a_group_the_object_lacks_is_one_clear_line(blank):
    sphere = _painted_sphere("Wrong")
    sphere.retopo_hub.density_group = "Hands"
    objects = set(bpy.data.objects)
    with pytest.raises(RuntimeError, match="no vertex group 'Hands'"):
        bpy.ops.retopo_hub.submit()
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed"
    assert "no vertex group 'Hands'" in record.message and "'Detail'" in record.message
    assert "\n" not in record.message
    assert set(bpy.data.objects) == objects, "nothing was added to the scene"


def test_the_cli_flags(addon, blank, tmp_path, capsys):
    sphere = ico_sphere("Cli", subdivisions=5)
    co = np.empty(len(sphere.data.vertices) * 3, np.float32)
    sphere.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    bumps = 1.0 + 0.08 * np.sin(9 * co[:, 0]) * np.sin(9 * co[:, 1]) * (co[:, 2] > 0)
    sphere.data.vertices.foreach_set("co", (co * bumps[:, None]).ravel())
    sphere.data.update()
    select_only(sphere)
    sample = export_selected_obj(tmp_path / "bumpy.obj")
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        addon, [sample, "--out", out_dir, "--faces", 1500, "--adaptive", 1, "--json"], capsys
    )
    assert code == 0, err
    (output,) = json.loads(out.strip().splitlines()[-1])["results"][0]["outputs"]
    assert abs(output["faces"] / 1500 - 1) <= 0.1, output
    for argv, message in (
        (["--adaptive", "2"], "Adaptive must be between 0 and 1 (got 2.0)"),
        (
            ["--density-group", "Detail", "--provider", "csm"],
            "--density-group does not apply to --provider csm",
        ),
    ):
        code, _, err = run_cli(addon, [sample, "--out", out_dir, *argv], capsys)
        assert code == 2 and message in err, err
        assert len(err.strip().splitlines()) == 1, err
