# SPDX-License-Identifier: GPL-3.0-or-later
"""LoDs keep LOD0's look (engines/lodlook.py) in real Blender: every level has LOD0's material slots and
UVs into the same maps, through the operator and the CLI's OBJ, GLB (UVs) and FBX (UVs and slots)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from tests.support.cli import run_cli
from tests.support.scene import crate, select_only
from tests.support.uvraster import mesh_and_uvs, texels

LEVELS = 2
# Of a level's texture samples, this share must land within one screen pixel of where LOD0 samples the
# maps, seen from the level's own switch distance (1 px of geometric error, 1920 px, 60 degrees).
WITHIN_ONE_PIXEL = 0.95
RASTER = 512


def _engine(addon, name: str):
    return importlib.import_module(f"{addon.__name__}.engines.{name}")


def _two_tone_crate(bpy, name: str = "Crate"):
    """A cube of 16 x 16 quads a side, its upper third "Lid" and the rest "Body"; selected and active."""
    obj = crate(name, levels=4)
    obj.data.materials.append(bpy.data.materials.new("Body"))
    obj.data.materials.append(bpy.data.materials.new("Lid"))
    lid = np.array([p.center[2] > 0.34 for p in obj.data.polygons], dtype=np.int32)
    obj.data.polygons.foreach_set("material_index", lid)
    select_only(obj)
    return obj


def _arrays(addon, obj):
    """(MeshArrays, corner UVs, face material indices) of ``obj``'s mesh."""
    mesh, uvs = mesh_and_uvs(addon, obj)
    slots = np.empty(len(obj.data.polygons), np.int32)
    obj.data.polygons.foreach_get("material_index", slots)
    return mesh, uvs, slots


def _island_raster(tri_uvs: np.ndarray, tri_island: np.ndarray) -> np.ndarray:
    """LOD0's UV islands drawn into a RASTER x RASTER map of island ids (-1 where none), row = v."""
    out = np.full((RASTER, RASTER), -1, np.int64)
    for (rows, cols, inside), island in zip(texels(tri_uvs, RASTER), tri_island, strict=True):
        out[rows, cols][inside] = island
    return out


def test_operator_lods_keep_lod0_slots_and_uvs(addon, blank):
    bpy = blank
    crate = _two_tone_crate(bpy)
    settings = crate.retopo_hub
    settings.target_faces, settings.lod_levels, settings.uv = 900, LEVELS, True
    settings.sharp_angle = 40.0
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    coll = bpy.data.collections["Crate_RetopoHub"]
    lod0 = coll.objects["Crate_retopo"]
    mesh0, uvs0, slots0 = _arrays(addon, lod0)
    lodlook, lodmath = _engine(addon, "lodlook"), importlib.import_module(f"{addon.__name__}.core.lodmath")
    look = lodlook.Look.of(mesh0, uvs0, slots0)
    uvstats = _engine(addon, "uvstats")
    # Object units per UV unit on LOD0 (one texel density for the whole layout).
    tris0 = uvstats.corner_triangles(mesh0)
    scale = np.sqrt(
        uvstats.surface_areas(mesh0.verts[mesh0.corner_verts], tris0).sum() / uvstats.utilization(mesh0, uvs0)
    )
    lod0_islands = _island_raster(
        uvs0[tris0], uvstats.island_labels(mesh0, uvs0)[uvstats.triangle_face(mesh0)]
    )
    for level in range(1, LEVELS + 1):
        obj = coll.objects[f"Crate_LOD{level}"]
        assert [m.name for m in obj.data.materials] == ["Body", "Lid"]
        mesh, uvs, slots = _arrays(addon, obj)
        assert uvs.min() >= 0.0 and uvs.max() <= 1.0
        # Faces take LOD0's slot where they lie, up to a row along the border.
        nearest = look.dress_nearest(mesh)
        assert (slots == nearest.face_materials).mean() >= 0.95, level
        # No UV island of the level spans two of LOD0's islands: the UV centres of one island's faces all
        # fall in the same island of LOD0's layout.
        islands = uvstats.island_labels(mesh, uvs)
        centres = uvs[uvstats.corner_triangles(mesh)].mean(axis=1)
        under = lod0_islands[tuple(np.clip((centres * RASTER).astype(int), 0, RASTER - 1)[:, ::-1].T)]
        pairs = np.unique(np.stack([islands, under], axis=1)[under >= 0], axis=0)
        assert np.unique(pairs[:, 0]).shape[0] == pairs.shape[0], level
        # The look: texture samples land where LOD0 samples the maps, to within a pixel from the switch
        # distance.
        dressed = lodlook.Dressed(mesh, uvs, slots, nearest.regions)
        drift = lodlook.uv_drift(look, dressed) * scale
        distance = float(obj["retopo_hub_switch_threshold"])
        pixels = lodmath.pixel_error(1.0, distance, 1920, 60.0) * drift
        assert (pixels <= 1.0).mean() >= WITHIN_ONE_PIXEL, (level, float(np.percentile(pixels, 95)))


def test_cli_lods_carry_uvs_and_slots_into_obj_glb_and_fbx(addon, blank, tmp_path, capsys):
    bpy = blank
    _two_tone_crate(bpy, "crate")
    source = tmp_path / "crate.blend"  # a .blend keeps the material slots (an OBJ without its .mtl would not)
    bpy.ops.wm.save_as_mainfile(filepath=str(source), copy=True)
    for fmt in ("obj", "glb", "fbx"):
        out_dir = tmp_path / fmt
        argv = [source, "--out", out_dir, "--faces", 900, "--lods", 1, "--uv", "--format", fmt, "--json"]
        code, out, err = run_cli(addon, [*argv, "--cache", tmp_path / "cache"], capsys)
        assert code == 0, err
        (result,) = json.loads(out.strip().splitlines()[-1])["results"]
        paths = [Path(o["path"]) for o in result["outputs"]]
        assert [p.name for p in paths] == [f"crate_retopo.{fmt}", f"crate_LOD1.{fmt}"]
        lod1 = paths[1]
        if fmt == "obj":
            # Our OBJ and GLB writers carry UVs but no materials (for any level); the FBX carries both.
            assert "\nvt " in lod1.read_text()
            continue
        bpy.ops.wm.read_homefile(use_empty=True)
        if fmt == "glb":
            bpy.ops.import_scene.gltf(filepath=str(lod1))
        else:
            bpy.ops.import_scene.fbx(filepath=str(lod1))
        (obj,) = [o for o in bpy.data.objects if o.type == "MESH"]
        if fmt == "fbx":
            names = sorted(m.name.split(".")[0] for m in obj.data.materials)
            assert names == ["Body", "Lid"], names
        layer = obj.data.uv_layers.active
        assert layer is not None, fmt
        uvs = np.empty(len(obj.data.loops) * 2, np.float32)
        layer.uv.foreach_get("vector", uvs)
        assert uvs.min() >= -1e-6 and uvs.max() <= 1 + 1e-6, fmt
