# SPDX-License-Identifier: GPL-3.0-or-later
"""A glTF 2.0 skin from plain arrays (a ``formats.skeleton.Skeleton``): ``add_skin``.

Contract: ``add_skin(doc_nodes, skeleton, y_up, add_matrices)`` appends one node per bone to
``doc_nodes`` (a bone's ``matrix`` is relative to its parent bone, a root's to the scene, with the same Z-up
to Y-up turn as the vertices), adds the inverse bind matrices through ``add_matrices`` (float32 (N, 4, 4),
column-major as glTF reads them; returns the accessor index) and returns ``(skin, roots)``: the skin object
(``joints`` in bone order, so a vertex's joint k is bone k) and the nodes that belong in the scene: one node
named after the armature (``skeleton.root``), with no transform, holding the root bones. A mesh node using
the skin must be a scene root with no transform of its own (glTF ignores it). Per vertex, up to four
``JOINTS_0`` (unsigned short) and ``WEIGHTS_0`` (float, summing to 1) go in the mesh's attributes, as
formats/lodglb.py writes them. ValueError for a malformed skeleton. Pure Python + numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .mesh import Y_UP_MATRIX
from .skeleton import Skeleton


def add_skin(
    doc_nodes: list[dict], skeleton: Skeleton, y_up: bool, add_matrices: Callable[[np.ndarray], int]
) -> tuple[dict, list[int]]:
    bones = skeleton.checked()
    world = np.einsum("ij,njk->nik", Y_UP_MATRIX, bones.rest) if y_up else bones.rest
    # One untransformed node holds the root bones: glTF wants a skin's joints to share a root, and an
    # armature may have several root bones.
    holder = len(doc_nodes)
    doc_nodes.append({"name": bones.root, "children": []})
    first = holder + 1
    for number, (name, parent) in enumerate(zip(bones.names, bones.parents, strict=True)):
        local = world[number] if parent < 0 else np.linalg.solve(world[parent], world[number])
        doc_nodes.append({"name": name, "matrix": [float(x) for x in local.T.ravel()]})
        doc_nodes[holder if parent < 0 else first + parent].setdefault("children", []).append(first + number)
    # The mesh's space is the scene's (its node has no transform), so the bind pose inverts each bone's world.
    inverse = np.linalg.inv(world).astype(np.float32)
    joints = list(range(first, first + len(bones.names)))
    binds = add_matrices(np.ascontiguousarray(inverse.transpose(0, 2, 1)))
    skin = {"joints": joints, "skeleton": holder, "inverseBindMatrices": binds}
    return skin, [holder]
