# SPDX-License-Identifier: GPL-3.0-or-later
"""A thin limb stays attached through the operator: a dumbbell whose neck Instant Meshes alone cuts off
comes back in one closed piece, the neck covered, the source untouched."""

from __future__ import annotations

import json

import bpy
import numpy as np

from tests.support.scene import fingerprint, mesh_object
from tests.unit.shapes import dumbbell


def test_a_thin_neck_stays_attached(blank):
    verts, tris = dumbbell(96, 200, neck=0.03)
    bar = mesh_object("Bar", verts, tris)
    before = fingerprint(bar)
    settings = bar.retopo_hub
    settings.target_faces, settings.reproducible = 1000, True
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "done", record.message
    result = bpy.data.objects["Bar_retopo"]
    quality = json.loads(result["retopo_hub_quality"])
    assert quality["topology"] == quality["source_topology"], quality
    assert quality["source_topology"]["pieces"] == 1 and quality["source_topology"]["boundary_edges"] == 0
    # The report says whether the neck cost faces beyond the budget, and by how much.
    assert quality["target_faces"] == 1000
    assert quality["target_exceeded"] == round(max(0.0, quality["faces"] / 1000 - 1.0), 4)
    co = np.empty(len(result.data.vertices) * 3, np.float32)
    result.data.vertices.foreach_get("co", co)
    middle = co.reshape(-1, 3)[np.abs(co.reshape(-1, 3)[:, 2]) < 0.25]
    assert middle.shape[0] >= 6, "the neck has faces of its own"
    assert np.hypot(middle[:, 0], middle[:, 1]).max() < 0.05, "on the thin neck, not on an inflated copy"
    assert fingerprint(bar) == before, "the source is untouched"
