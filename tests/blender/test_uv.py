# SPDX-License-Identifier: GPL-3.0-or-later
"""UVs on LOD0 (--uv, the "UVs" toggle): the local engine unwraps LOD0, through the operator and the CLI."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from tests.support.cli import export_selected_obj, run_cli
from tests.support.layout import draw_panel
from tests.support.scene import crate
from tests.support.uvraster import mesh_and_uvs, texels


def _engine(addon, name: str):
    return importlib.import_module(f"{addon.__name__}.engines.{name}")


def _overlapping_triangles(tri_uvs: np.ndarray, resolution: int = 512) -> int:
    """Texels whose centres lie strictly inside two UV triangles (an independent check, per triangle)."""
    hits = np.zeros((resolution, resolution), np.int32)
    for rows, cols, inside in texels(tri_uvs, resolution, strict=True):
        hits[rows, cols] += inside
    return int((hits > 1).sum())


def test_operator_unwraps_lod0_without_overlaps(addon, blank):
    bpy = blank
    box = crate()
    settings = box.retopo_hub
    settings.target_faces, settings.lod_levels, settings.uv = 1200, 1, True
    settings.sharp_angle = 40.0  # loops along the crate's edges
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    coll = bpy.data.collections["Crate_RetopoHub"]
    lod0, lod1 = coll.objects["Crate_retopo"], coll.objects["Crate_LOD1"]
    assert lod0.data.uv_layers.active is not None
    assert lod1.data.uv_layers.active is not None  # LoDs keep LOD0's UVs (tests/blender/test_lod_look.py)
    mesh, uvs = mesh_and_uvs(addon, lod0)
    assert uvs.min() >= -1e-6 and uvs.max() <= 1 + 1e-6
    tris = _engine(addon, "uvstats").corner_triangles(mesh)
    assert _overlapping_triangles(uvs[tris]) == 0
    uv_area = _engine(addon, "uvstats").utilization(mesh, uvs)
    assert uv_area >= 0.6, uv_area
    stats = json.loads(lod0["retopo_hub_uv"])
    assert stats["utilization"] == round(uv_area, 4) or abs(stats["utilization"] - uv_area) < 1e-3
    assert stats["islands"] >= 6 and stats["overlap"] == 0.0
    assert stats["hard_edges_on_seams"] == 1.0  # every side of the crate is an island of its own
    assert "retopo_hub_uv" not in lod1


def test_cli_uv_flag_reports_uvs_and_writes_vt(addon, blank, tmp_path, capsys):
    crate()
    source = export_selected_obj(tmp_path / "crate.obj")
    out_dir = tmp_path / "out"
    argv = [source, "--out", out_dir, "--faces", 1200, "--lods", 1, "--uv", "--sharp-angle", 40, "--json"]
    code, out, err = run_cli(addon, [*argv, "--cache", tmp_path / "cache"], capsys)
    assert code == 0, err
    (result,) = json.loads(out.strip().splitlines()[-1])["results"]
    outputs = {Path(o["path"]).name: o for o in result["outputs"]}
    uv = outputs["crate_retopo.obj"]["uv"]
    assert uv["utilization"] >= 0.6 and uv["islands"] >= 6 and uv["overlap"] == 0.0
    assert "uv" not in outputs["crate_LOD1.obj"]
    text = (out_dir / "crate_retopo.obj").read_text()
    assert "\nvt " in text and "/" in text.split("\nf ", 1)[1].splitlines()[0]
    assert "\nvt " in (out_dir / "crate_LOD1.obj").read_text()  # the LoD keeps LOD0's UVs


def test_panel_shows_the_uv_toggle_under_game_ready(blank):
    bpy = blank
    crate()
    log = draw_panel(bpy.types.VIEW3D_PT_retopo_hub_main, bpy.context)
    assert ("label", "Game-Ready") in log
    assert log.index(("prop", "uv")) > log.index(("label", "Game-Ready"))
