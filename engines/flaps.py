# SPDX-License-Identifier: GPL-3.0-or-later
"""Triangles doubled on the same three points, which an edge-collapse decimation leaves: ``doubled``.

Contract: ``doubled(tris)`` returns a bool per triangle (T,): the triangles to drop. Triangles on the same
three vertices form a group. A group whose edges the rest of the mesh uses twice or not at all is a flap
folded onto itself (hinged on an edge the surface crosses) and all of it goes; a group on an edge the rest
uses once fills a place the surface needs, and all but one go (the one wound as its neighbours are); a group
sharing no edge but a corner with the rest (a pillow of no volume hung on the surface) goes; a group on its
own (a two-sided card) stays as it is, but for copies wound alike. Nothing else is marked. Imports numpy and
the engine's own modules only; never touches bpy and runs in the engine child process.

Why. fast_simplification (and collapse.py after it) can fold two triangles onto each other across an edge
they then share with the surface: a zero-width flap, the same three vertices wound both ways. It renders
as a flicker of two faces in one place, makes its hinge edge non-manifold, and Blender's own importers drop
such faces, so the FBX packages had fewer triangles than the .glb (the npm snowden head's LoD 2: 2,528 in
the .glb, 2,524 read back from the FBX; the Stanford dragon's coarsest scan at LoD 3: 7 flaps in 1,008).
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import unique_edges


def _edge_uses(tris: np.ndarray) -> np.ndarray:
    """For each triangle's three edges (a->b, b->c, c->a), how many triangles use that edge: (T, 3)."""
    # Only the connectivity counts: the positions are left at zero.
    mesh = MeshArrays.from_triangles(np.zeros((int(tris.max()) + 1, 3)), tris)
    _, counts, corner_edge = unique_edges(mesh)
    return counts[corner_edge].reshape(-1, 3)


def _agrees(tri: np.ndarray, others: set[tuple[int, int]]) -> int:
    """How many of the triangle's edges the surface around it runs the other way (consistent winding)."""
    return sum((int(tri[(k + 1) % 3]), int(tri[k])) in others for k in range(3))


def doubled(tris: np.ndarray) -> np.ndarray:
    """Bool per triangle: the doubled triangles to drop (module docstring). Vertices are told apart by
    number, not place: two at one place are LOD0's to join or keep apart (a seam), and dropping triangles
    that merely lie on each other there opens a crack."""
    drop = np.zeros(tris.shape[0], dtype=bool)
    if tris.shape[0] < 2:
        return drop
    tris = np.asarray(tris, dtype=np.int64)
    corners = np.sort(tris, axis=1)
    # One int64 per triangle while three vertex numbers fit in 63 bits (2M vertices), rows past that; a
    # plain sort first, since most meshes have no doubled triangle at all.
    if int(tris.max()) < 1 << 21:
        key = (corners[:, 0] << 42) | (corners[:, 1] << 21) | corners[:, 2]
        ordered = np.sort(key)
        if not (ordered[1:] == ordered[:-1]).any():
            return drop
        order = np.argsort(key)
        same = key[order][1:] == key[order][:-1]
    else:
        order = np.lexsort(corners.T[::-1])
        same = np.all(corners[order][1:] == corners[order][:-1], axis=1)
        if not same.any():
            return drop
    group = np.cumsum(np.r_[True, ~same]) - 1
    sizes = np.bincount(group)
    members = np.split(order, np.flatnonzero(np.diff(group)) + 1)
    uses = _edge_uses(tris)
    corner_uses = np.bincount(tris.ravel())
    for size, faces in zip(sizes, members, strict=True):
        if size < 2:
            continue
        left = uses[faces[0]] - size  # other triangles on each of the group's edges
        if (left == 0).all():
            if (corner_uses[tris[faces[0]]] > size).any():
                drop[faces] = True  # a pillow of no volume hung on the surface by a corner: a flap shut
            elif len({tuple(np.roll(t, -int(np.argmin(t))).tolist()) for t in tris[faces]}) == 1:
                drop[faces[1:]] = True  # a card on its own: two-sided is a choice, copies wound alike are not
            continue
        if not (left == 1).any():
            drop[faces] = True  # a flap: free on an edge, hinged where the surface goes on without it
            continue
        # It goes on where the rest of the surface stops (a border or a hole there without it): one copy
        # belongs, the one wound as the triangles around it are.
        around = np.ones(tris.shape[0], dtype=bool)
        around[faces] = False
        near = tris[around]
        near = near[np.isin(near, tris[faces[0]]).any(axis=1)]
        others = {(int(t[k]), int(t[(k + 1) % 3])) for t in near for k in range(3)}
        keep = max(faces, key=lambda face: _agrees(tris[face], others))
        drop[faces] = True
        drop[keep] = False
    return drop
