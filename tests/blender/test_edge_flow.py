# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge Flow end to end in real Blender: the panel's row, fewer poles through the operator on the same
object, and the CLI's ``--edge-flow`` (recorded in the job's settings, refused for a cloud provider)."""

from __future__ import annotations

import json

import bpy
import numpy as np

from tests.support.cli import export_selected_obj, run_cli
from tests.support.layout import draw_panel
from tests.support.scene import ico_sphere, quality_after_submit, select_only


def _bumpy_sphere(name: str):
    sphere = ico_sphere(name, subdivisions=5)
    co = np.empty(len(sphere.data.vertices) * 3, np.float32)
    sphere.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    bumps = 1.0 + 0.06 * np.sin(7 * co[:, 0]) * np.sin(5 * co[:, 1]) * np.cos(3 * co[:, 2])
    sphere.data.vertices.foreach_set("co", (co * bumps[:, None]).ravel())
    sphere.data.update()
    return sphere


def test_the_panel_offers_edge_flow_for_quads(blank):
    sphere = ico_sphere("Panel", subdivisions=3)
    assert ("prop", "edge_flow") in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
    sphere.retopo_hub.quads = False  # triangles: there are no quads to pair
    assert ("prop", "edge_flow") not in draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)


def test_edge_flow_leaves_fewer_poles_on_the_same_object(blank):
    sphere = _bumpy_sphere("Flow")
    before = [tuple(v.co) for v in sphere.data.vertices]
    settings = sphere.retopo_hub
    settings.target_faces, settings.reproducible = 1500, True
    shares = {}
    for edge_flow in (False, True):
        settings.edge_flow = edge_flow
        quality = quality_after_submit("Flow_retopo")
        assert quality["topology"] == quality["source_topology"]
        assert quality["quad_share"] == 1.0
        shares[edge_flow] = quality["irregular_share"]
        bpy.data.objects.remove(bpy.data.objects["Flow_retopo"])
    assert shares[True] < shares[False], shares
    assert [tuple(v.co) for v in sphere.data.vertices] == before, "the source is untouched"


def test_the_cli_flag(addon, blank, tmp_path, capsys):
    select_only(_bumpy_sphere("Cli"))
    sample = export_selected_obj(tmp_path / "bumpy.obj")
    out_dir = tmp_path / "out"
    argv = [sample, "--out", out_dir, "--faces", 800, "--edge-flow", "--json"]
    code, out, err = run_cli(addon, argv, capsys)
    assert code == 0, err
    (result,) = json.loads(out.strip().splitlines()[-1])["results"]
    assert result["settings"]["edge_flow"] is True
    (output,) = result["outputs"]
    assert abs(output["faces"] / 800 - 1) <= 0.1 and output["quads"] == output["faces"], output
    code, _, err = run_cli(addon, [sample, "--out", out_dir, "--edge-flow", "--provider", "csm"], capsys)
    assert code == 2 and "--edge-flow does not apply to --provider csm" in err, err
    assert len(err.strip().splitlines()) == 1, err
