# SPDX-License-Identifier: GPL-3.0-or-later
"""The armature of a LoD chain, for engine packages: which rig deforms the levels, stand-in copies of it
for Blender's FBX exporter, and its skeleton and skin weights as plain arrays for the glTF writer.

Contract:
- ``rigs_of(objects)``: the armature objects deforming ``objects`` (Armature modifiers, then an ARMATURE-type
  parent), each once, in the order met. A chain with none is static and every function below is a no-op.
- ``rest_copy(rig, name, to_package)``: a copy of ``rig`` (sharing its armature data) linked to the scene,
  named ``name``, with no animation, constraints or parent, every pose bone at rest, placed by
  ``to_package @ rig.matrix_world``. The caller removes it.
- ``deform_by(copy, rig_copies)``: a level's stand-in (``Object.copy()`` of the level, so it keeps its vertex
  groups) keeps only its Armature modifiers, pointed at the rig copies; an ARMATURE-type parent becomes an
  Armature modifier, since a stand-in is parented to the package's root, not to the rig.
- ``skeleton(rig, to_package)``: ``(names, parents, rest)`` of every bone: parents index earlier bones (-1 for
  a root), ``rest`` (N, 4, 4) float64 is each bone's rest matrix in the package's space (LOD0's object space).
- ``skin_weights(obj, names, influences)``: per vertex of ``obj``'s mesh the ``influences`` largest weights
  of its groups named after bones: joints (V, k) uint16 indexes into ``names``, weights (V, k) float32
  summing to 1; a vertex no bone weighs gets joint 0 at weight 1 (the skeleton's first root), as glTF wants
  every skinned vertex weighted.
Main thread only; nothing in the scene changes but what ``rest_copy`` and ``deform_by`` make.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import bpy
import numpy as np
from mathutils import Matrix


def rigs_of(objects: Iterable[bpy.types.Object]) -> list[bpy.types.Object]:
    found: list[bpy.types.Object] = []
    for obj in objects:
        candidates = [m.object for m in obj.modifiers if m.type == "ARMATURE"]
        if obj.parent_type == "ARMATURE":
            candidates.append(obj.parent)
        for rig in candidates:
            if rig is not None and rig.type == "ARMATURE" and rig not in found:
                found.append(rig)
    return found


def rest_copy(rig: bpy.types.Object, name: str, to_package: Matrix) -> bpy.types.Object:
    copy = rig.copy()
    copy.name = name
    # Animation, drivers, constraints or a parent would move the copy away from where it is placed.
    copy.animation_data_clear()
    copy.constraints.clear()
    copy.parent = None
    copy.hide_viewport = False
    bpy.context.scene.collection.objects.link(copy)
    copy.matrix_world = to_package @ rig.matrix_world
    for bone in copy.pose.bones:  # the pose is the copy's own: the rig in the scene keeps its pose
        bone.matrix_basis = Matrix.Identity(4)
        for constraint in list(bone.constraints):
            bone.constraints.remove(constraint)
    return copy


def deform_by(copy: bpy.types.Object, level: bpy.types.Object, rig_copies: dict) -> None:
    for modifier in list(copy.modifiers):
        if modifier.type != "ARMATURE" or modifier.object not in rig_copies:
            copy.modifiers.remove(modifier)
        else:
            modifier.object = rig_copies[modifier.object]
    if level.parent_type == "ARMATURE" and level.parent in rig_copies:
        copy.modifiers.new("Armature", "ARMATURE").object = rig_copies[level.parent]


def skeleton(rig: bpy.types.Object, to_package: Matrix) -> tuple[list[str], list[int], np.ndarray]:
    bones = list(rig.data.bones)  # parents come before their children in Blender's bone list
    index = {bone.name: number for number, bone in enumerate(bones)}
    place = to_package @ rig.matrix_world
    parents = [index[bone.parent.name] if bone.parent is not None else -1 for bone in bones]
    rest = np.array([np.array(place @ bone.matrix_local) for bone in bones], dtype=np.float64)
    return [bone.name for bone in bones], parents, rest.reshape(-1, 4, 4)


def skin_weights(obj: bpy.types.Object, names: Sequence[str], influences: int = 4) -> tuple[np.ndarray, ...]:
    bone = {name: number for number, name in enumerate(names)}
    joint_of_group = {group.index: bone[group.name] for group in obj.vertex_groups if group.name in bone}
    mesh = obj.data
    count = len(mesh.vertices)
    joints = np.zeros((count, influences), dtype=np.uint16)
    weights = np.zeros((count, influences), dtype=np.float32)
    # Blender has no bulk reader for weights: one pass in Python (about 0.3 s per 100K weighted vertices).
    for vertex in mesh.vertices:
        found = [(g.weight, joint_of_group[g.group]) for g in vertex.groups if g.group in joint_of_group]
        pairs = sorted((pair for pair in found if pair[0] > 0), reverse=True)[:influences]
        for slot, (weight, joint) in enumerate(pairs):
            joints[vertex.index, slot], weights[vertex.index, slot] = joint, weight
    total = weights.sum(axis=1)
    unweighted = total <= 0
    weights[unweighted, 0], total[unweighted] = 1.0, 1.0
    return joints, weights / total[:, None]
