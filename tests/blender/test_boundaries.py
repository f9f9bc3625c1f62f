# SPDX-License-Identifier: GPL-3.0-or-later
"""Open borders end to end in real Blender: a sheet's small holes stay holes through the operator (Keep
Boundaries on), are covered over with it off, and a mesh that lies clear of its symmetry plane is refused in
one line that says to move the origin, leaving the scene as it was."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.support.scene import fingerprint, mesh_object, quality_after_submit, scene_state

HOLE_CENTRES = ((-0.2, -0.2), (0.2, -0.15), (0.0, 0.22))


def _holed_sheet(name: str, radius: float = 0.025):
    """A wavy 1 x 1 sheet of 120 x 120 quads with three round holes ``2 * radius`` across (narrower than
    two faces of a 600-quad remesh, which Instant Meshes covers over)."""
    n = 120
    x, y = np.meshgrid(np.linspace(-0.5, 0.5, n + 1), np.linspace(-0.5, 0.5, n + 1))
    z = 0.04 * np.sin(6.0 * x) * np.cos(5.0 * y)
    verts = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    corner = (np.arange(n)[None, :] + (n + 1) * np.arange(n)[:, None]).ravel()
    quads = np.stack([corner, corner + 1, corner + n + 2, corner + n + 1], axis=1)
    centres = verts[quads, :2].mean(axis=1)
    inside = np.zeros(len(quads), dtype=bool)
    for centre in HOLE_CENTRES:
        inside |= np.linalg.norm(centres - np.asarray(centre), axis=1) < radius
    kept = quads[~inside]
    used, faces = np.unique(kept, return_inverse=True)
    return mesh_object(name, verts[used].tolist(), faces.reshape(-1, 4).tolist())


def test_a_sheets_small_holes_stay_open(blank):
    sheet = _holed_sheet("Holed")
    before = fingerprint(sheet)
    settings = sheet.retopo_hub
    settings.target_faces, settings.lod_levels, settings.reproducible = 600, 0, True
    loops = {}
    for keep in (True, False):
        settings.keep_boundaries = keep
        quality = quality_after_submit("Holed_retopo")
        assert quality["source_topology"]["boundary_loops"] == 4  # the outline and three holes
        loops[keep] = quality["topology"]["boundary_loops"]
        if keep:
            shape = ("pieces", "boundary_loops", "genus")
            assert [quality["topology"][k] for k in shape] == [quality["source_topology"][k] for k in shape]
        bpy.data.objects.remove(bpy.data.objects["Holed_retopo"])
    assert loops[False] < loops[True] == 4, loops
    assert fingerprint(sheet) == before, "the source is untouched"


def test_a_mesh_clear_of_its_symmetry_plane_is_refused(blank):
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=4, radius=0.5, location=(0.0, 0.0, 0.0))
    rock = bpy.context.active_object
    rock.name = "Aside"
    for v in rock.data.vertices:
        v.co.x += 2.0  # the mesh starts 1.5 units along local +X: its origin is far from it
    rock.data.update()
    rock.retopo_hub.target_faces, rock.retopo_hub.symmetry = 500, {"x"}
    print_before, state_before = fingerprint(rock), scene_state()
    with pytest.raises(RuntimeError) as info:
        bpy.ops.retopo_hub.submit()
    record = bpy.context.scene.retopo_hub.jobs[-1]
    assert record.state == "failed"
    assert "set the object's origin on the mirror plane" in record.message
    assert len(record.message.strip().splitlines()) == 1, record.message
    assert "Aside" in str(info.value)
    assert scene_state() == state_before and fingerprint(rock) == print_before
    assert not Path(record.work_dir).exists(), "a refused local job leaves no files"
