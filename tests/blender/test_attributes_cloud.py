# SPDX-License-Identifier: GPL-3.0-or-later
"""Attributes carried over to a cloud service's OBJ results (CSM emulator): materials per face, vertex
groups with interpolated weights, the rig, hard edges; computed in the worker host, never in Blender."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest
from emulators import CsmEmulator
from emulators.remote import Remote

from tests.support.cloud import configure, reset
from tests.support.scene import ico_sphere, select_only

KEY = "csm-secret-key-0123456789"


@pytest.fixture
def csm(addon, blank, monkeypatch):
    monkeypatch.delenv("CSM_API_KEY", raising=False)
    monkeypatch.delenv("CSM_BASE_URL", raising=False)
    addon.jobs.session.set_online_override(False)
    with Remote(CsmEmulator, KEY) as emu:
        configure(addon, "csm", emu.base_url, api_key=KEY)
        try:
            yield emu
        finally:
            reset(addon)
            addon.jobs.session.set_online_override(False)
            addon.jobs.session.set_cache_dir(None)
        assert not emu.internal_errors, emu.internal_errors


def _verts(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def test_csm_obj_results_carry_materials_weights_rig_and_hard_edges(csm):
    from mathutils.bvhtree import BVHTree

    rock = ico_sphere("Rock", subdivisions=5)
    mesh = rock.data
    for name in ("Bottom", "Top"):
        mesh.materials.append(bpy.data.materials.new(name))
    centres = np.array([p.center[:] for p in mesh.polygons])
    upper = (centres[:, 2] > 0.1).astype(np.int32)
    mesh.polygons.foreach_set("material_index", upper)
    group = rock.vertex_groups.new(name="height")
    for index, z in enumerate(_verts(mesh)[:, 2]):
        group.add([index], float(np.clip((z + 1.0) / 2.0, 0.0, 1.0)), "REPLACE")
    rig = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    bpy.context.scene.collection.objects.link(rig)
    rock.modifiers.new("Armature", "ARMATURE").object = rig
    select_only(rock)
    bpy.context.view_layer.update()
    rock.retopo_hub.provider = "csm"
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    tree = BVHTree.FromPolygons(
        [v.co.copy() for v in mesh.vertices], [tuple(p.vertices) for p in mesh.polygons]
    )
    record = bpy.context.scene.retopo_hub.jobs[-1]
    results = [o for o in bpy.data.collections["Rock_RetopoHub"].objects]
    assert len(results) == 2
    for obj in results:
        result = obj.data
        assert (Path(record.work_dir) / f"csm_{obj['retopo_hub_variant']}.obj.attributes.npz").is_file()
        got = np.empty(len(result.polygons), np.int32)
        result.polygons.foreach_get("material_index", got)
        truth = np.array([upper[tree.find_nearest(p.center)[2]] for p in result.polygons])
        assert (got == truth).mean() >= 0.95 and 0.1 < got.mean() < 0.9
        assert [g.name for g in obj.vertex_groups] == ["height"]
        co = _verts(result)
        close = []
        for v in np.linspace(0, len(co) - 1, 100).astype(int):
            nearest = tree.find_nearest(co[v].tolist())[0]
            weight = dict((g.group, g.weight) for g in result.vertices[v].groups).get(0, 0.0)
            close.append(abs(weight - min(max((nearest.z + 1.0) / 2.0, 0.0), 1.0)) < 0.03)
        assert np.mean(close) >= 0.95
        assert [m.object for m in obj.modifiers if m.type == "ARMATURE"] == [rig]
        smooth = np.empty(len(result.polygons), bool)
        result.polygons.foreach_get("use_smooth", smooth)
        assert smooth.all()
