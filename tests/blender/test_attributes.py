# SPDX-License-Identifier: GPL-3.0-or-later
"""Attributes carried over to local results in real Blender: per-face materials, vertex groups with their
weights and the rig, hard edges marked sharp on smooth-shaded faces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.support.scene import ico_sphere, select_only


def _results(bpy, source_name: str) -> dict[str, object]:
    coll = bpy.data.collections[f"{source_name}_RetopoHub"]
    return {o.name: o for o in coll.objects}


def _verts(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _source_tree(obj):
    from mathutils.bvhtree import BVHTree

    mesh = obj.data
    return BVHTree.FromPolygons(
        [v.co.copy() for v in mesh.vertices], [tuple(p.vertices) for p in mesh.polygons]
    )


def _face_centroids(mesh) -> np.ndarray:
    return np.array([p.center[:] for p in mesh.polygons])


def test_each_result_face_takes_the_material_of_the_nearest_source_face(blank):
    bpy = blank
    rock = ico_sphere("Rock", subdivisions=5)
    top, bottom = bpy.data.materials.new("Top"), bpy.data.materials.new("Bottom")
    rock.data.materials.append(bottom)
    rock.data.materials.append(top)
    upper = (_face_centroids(rock.data)[:, 2] > 0.2).astype(np.int32)
    rock.data.polygons.foreach_set("material_index", upper)
    rock.retopo_hub.target_faces, rock.retopo_hub.lod_levels = 1200, 1
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    tree = _source_tree(rock)
    results = _results(bpy, "Rock")
    for name in ("Rock_retopo", "Rock_LOD1"):
        mesh = results[name].data
        assert [m.name for m in mesh.materials] == ["Bottom", "Top"]
        got = np.empty(len(mesh.polygons), np.int32)
        mesh.polygons.foreach_get("material_index", got)
        truth = np.array([upper[tree.find_nearest(c)[2]] for c in _face_centroids(mesh)])
        assert (got == truth).mean() >= 0.95, name
        assert 0.2 < got.mean() < 0.8, "both materials are used"


def _skinned_column(bpy, *, modifier: bool, armature_parent: bool):
    """A tall blob from z = -2 to 2, an armature of two bones (lower, upper) and weights by height."""
    column = ico_sphere("Column", subdivisions=5, location=(0.5, 0.0, 0.0))
    column.rotation_euler = (0.0, 0.0, 0.0)
    column.scale = (1.0, 1.0, 1.0)
    column.data.transform(np.diag([0.6, 0.6, 2.0, 1.0]).tolist())
    z = _verts(column.data)[:, 2]
    upper_weight = np.clip((z + 1.0) / 2.0, 0.0, 1.0)
    upper, lower = column.vertex_groups.new(name="upper"), column.vertex_groups.new(name="lower")
    for index, w in enumerate(upper_weight):
        if w > 0:
            upper.add([index], float(w), "REPLACE")
        if w < 1:
            lower.add([index], float(1.0 - w), "REPLACE")
    data = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", data)
    bpy.context.scene.collection.objects.link(rig)
    rig.location = (0.5, 0.0, 0.0)
    select_only(rig)
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail in (("lower", (0, 0, -2), (0, 0, 0)), ("upper", (0, 0, 0), (0, 0, 2))):
        bone = data.edit_bones.new(name)
        bone.head, bone.tail = head, tail
    data.edit_bones["upper"].parent = data.edit_bones["lower"]
    bpy.ops.object.mode_set(mode="OBJECT")
    if modifier:
        column.modifiers.new("Armature", "ARMATURE").object = rig
    if armature_parent:
        column.parent = rig
        column.parent_type = "ARMATURE"
        column.matrix_parent_inverse = rig.matrix_world.inverted()
    select_only(column)
    bpy.context.view_layer.update()
    column.retopo_hub.target_faces = 1000
    return column, rig, upper_weight


def _posed_moves(bpy, rig, result) -> np.ndarray:
    """Displacement of each result vertex (object space) when the upper bone bends 60 degrees."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    rest = _verts(result.evaluated_get(depsgraph).data)
    rig.pose.bones["upper"].rotation_mode = "XYZ"
    rig.pose.bones["upper"].rotation_euler = (math.radians(60.0), 0.0, 0.0)
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    posed = _verts(result.evaluated_get(depsgraph).data)
    return np.linalg.norm(posed - rest, axis=1)


def test_a_skinned_source_gives_a_result_with_its_groups_weights_and_armature(blank):
    bpy = blank
    column, rig, _ = _skinned_column(bpy, modifier=True, armature_parent=False)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    result = _results(bpy, "Column")["Column_retopo"]
    assert [g.name for g in result.vertex_groups] == ["upper", "lower"]
    armatures = [m for m in result.modifiers if m.type == "ARMATURE"]
    assert len(armatures) == 1 and armatures[0].object == rig and armatures[0].use_vertex_groups
    # Truth: the source's weights (linear in height) at the nearest source surface point of each vertex.
    tree = _source_tree(column)
    co = _verts(result.data)
    sample = np.linspace(0, len(co) - 1, 200).astype(int)
    index = {g.name: g.index for g in result.vertex_groups}
    for v in sample:
        nearest = tree.find_nearest(co[v].tolist())[0]
        expected = min(max((nearest.z + 1.0) / 2.0, 0.0), 1.0)
        weights = {g.group: g.weight for g in result.data.vertices[v].groups}
        assert weights.get(index["upper"], 0.0) == pytest.approx(expected, abs=0.03)
        assert weights.get(index["lower"], 0.0) == pytest.approx(1.0 - expected, abs=0.03)
    moved = _posed_moves(bpy, rig, result)
    assert moved[co[:, 2] > 1.5].min() > 0.1, "the upper part follows the bent bone"
    assert moved[co[:, 2] < -1.2].max() < 1e-4, "the lower part stays"


def test_a_posed_rig_is_read_at_rest_so_the_result_deforms_once(blank):
    bpy = blank
    column, rig, _ = _skinned_column(bpy, modifier=True, armature_parent=False)
    bend = rig.pose.bones["upper"]
    bend.rotation_mode = "XYZ"
    bend.rotation_euler = (math.radians(45.0), 0.0, 0.0)
    bpy.context.view_layer.update()
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    assert rig.data.pose_position == "POSE" and bend.rotation_euler[0] == pytest.approx(math.radians(45.0))
    result = _results(bpy, "Column")["Column_retopo"]
    tree = _source_tree(column)  # the base mesh: the rest shape
    gaps = [tree.find_nearest(co.tolist())[3] for co in _verts(result.data)]
    assert max(gaps) < 0.02, "the result's own mesh is the rest shape"
    depsgraph = bpy.context.evaluated_depsgraph_get()
    source_posed = _verts(column.evaluated_get(depsgraph).data)
    result_posed = _verts(result.evaluated_get(depsgraph).data)
    assert result_posed[:, 1].max() == pytest.approx(source_posed[:, 1].max(), abs=0.05)


def test_a_source_parented_to_its_armature_gives_a_result_with_the_same_parent(blank):
    bpy = blank
    column, rig, _ = _skinned_column(bpy, modifier=False, armature_parent=True)
    before = np.array(column.matrix_world)
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    result = _results(bpy, "Column")["Column_retopo"]
    assert result.parent == rig and result.parent_type == "ARMATURE"
    bpy.context.view_layer.update()
    assert np.allclose(np.array(result.matrix_world), before, atol=1e-6)
    assert not [m for m in result.modifiers if m.type == "ARMATURE"]
    co = _verts(result.data)
    moved = _posed_moves(bpy, rig, result)
    assert moved[co[:, 2] > 1.5].min() > 0.1 and moved[co[:, 2] < -1.2].max() < 1e-4


def test_a_hard_surface_result_has_sharp_rims_and_smooth_faces(blank):
    bpy = blank
    bpy.ops.mesh.primitive_cube_add(size=2.0)
    box = bpy.context.active_object
    box.name = "Box"
    subdivide = box.modifiers.new("Subdivide", "SUBSURF")
    subdivide.subdivision_type, subdivide.levels = "SIMPLE", 4
    box.retopo_hub.target_faces = 600
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    mesh = _results(bpy, "Box")["Box_retopo"].data
    smooth = np.empty(len(mesh.polygons), bool)
    mesh.polygons.foreach_get("use_smooth", smooth)
    assert smooth.all(), "every face is shaded smooth"
    sharp = np.zeros(len(mesh.edges), bool)
    mesh.attributes["sharp_edge"].data.foreach_get("value", sharp)
    ends = np.empty(len(mesh.edges) * 2, np.int32)
    mesh.edges.foreach_get("vertices", ends)
    co = _verts(mesh)[ends.reshape(-1, 2)]  # (E, 2, 3)
    # An edge on a rim has both ends on two of the cube's faces; an edge inside a side has both ends
    # well inside that side.
    on_planes = (np.abs(co) > 0.98).sum(axis=2)
    on_rim = (on_planes >= 2).all(axis=1)
    inside = (np.abs(co) < 0.8).sum(axis=2).min(axis=1) >= 2
    assert on_rim.sum() >= 24 and sharp[on_rim].mean() >= 0.9, (on_rim.sum(), sharp[on_rim].mean())
    assert not sharp[inside].any(), "flat sides have no hard edges"


def test_the_snapshot_reads_weights_and_marked_sharp_edges(blank, addon):
    bpy = blank
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=3, y_subdivisions=3)
    grid = bpy.context.active_object
    mesh = grid.data
    group = grid.vertex_groups.new(name="half")
    group.add([0, 1, 2], 0.25, "REPLACE")
    grid.vertex_groups.new(name="empty")
    marked = mesh.attributes.new("sharp_edge", "BOOLEAN", "EDGE")
    flags = np.zeros(len(mesh.edges), bool)
    flags[[1, 4]] = True
    marked.data.foreach_set("value", flags)
    snap = addon.blender_io.mesh_arrays.snapshot_object(grid, None, with_attributes=True)
    assert list(snap.group_names) == ["half", "empty"]
    assert snap.weight_verts.tolist() == [0, 1, 2] and snap.weight_groups.tolist() == [0, 0, 0]
    assert np.allclose(snap.weight_values, 0.25)
    assert snap.sharp_edges.tolist() == [list(mesh.edges[1].vertices), list(mesh.edges[4].vertices)]
    bare = addon.blender_io.mesh_arrays.snapshot_object(grid, None)
    assert bare.group_names is None and bare.sharp_edges is None


def _sharp_count(mesh) -> int:
    sharp = mesh.attributes.get("sharp_edge")
    if sharp is None:
        return 0
    flags = np.empty(len(mesh.edges), dtype=bool)
    sharp.data.foreach_get("value", flags)
    return int(flags.sum())


@pytest.mark.parametrize("marked", [False, True])
def test_marked_edges_get_edge_loops_marked_sharp_only_when_asked(blank, marked):
    bpy = blank
    ball = ico_sphere("Ball", subdivisions=5)
    ball.data.materials.append(bpy.data.materials.new("Paint"))
    ball.data.materials.append(bpy.data.materials.new("Metal"))
    upper = (_face_centroids(ball.data)[:, 2] > 0.2).astype(np.int32)
    ball.data.polygons.foreach_set("material_index", upper)
    ball.data.edges[0].use_seam = True  # one seam edge: a border of its own, read through the property
    settings = ball.retopo_hub
    settings.target_faces, settings.marked_edges, settings.sharp_angle = 1200, marked, 0.0
    assert bpy.ops.retopo_hub.submit() == {"FINISHED"}

    result = _results(bpy, "Ball")["Ball_retopo"]
    count = _sharp_count(result.data)
    if marked:
        assert count >= 30, "a loop along the material border, marked sharp"
    else:
        assert count == 0, "a smooth sphere has no hard edge of its own"
