# SPDX-License-Identifier: GPL-3.0-or-later
"""Quads turned or split so that made into triangles as Blender draws them they make no non-manifold edge.

Contract: ``drawn_manifold(mesh)`` takes a ``MeshArrays`` (any polygons) and returns ``(mesh, changed)``:
the same vertices and faces in the same order, with ``changed["quads_turned"]`` quads starting one corner
further on, chosen so that ``mesh.triangles(DRAWN_SPLIT)`` has no edge of more than two triangles that the
polygons do not already have. A quad folded over one diagonal is drawn along the other whichever corner it
starts at: where turning cannot help, ``changed["quads_split"]`` quads are made two triangles each, in
their place, along the other diagonal. No vertex moves; ``changed`` holds only what is not 0. Vertices at
the same place count as one (``meshgraph.weld_seams``), as the quality report's topology counts them.
Imports numpy and the engine's own modules only; never touches bpy and runs in the engine child process.

Why: Blender draws a quad as two triangles on the diagonal from its first corner (unless the quad folds
over it), and so does the glTF exporter, which writes triangles, and so is LOD0 split for every LoD
decimated from it (``decimate``). Two quads that share two edges around a vertex (a doublet), or a quad
whose diagonal is another face's edge, can put their triangles on the same line: an edge of three or four
triangles, non-manifold in the export and in every LoD, though the quads themselves are clean (the npm
``snowden`` head at 1,500 quads: 6 such edges; the npm teapot at 300: 2). Turning one of the quads by a
corner moves its split onto its other diagonal.
"""

from __future__ import annotations

import numpy as np

from .meshdata import DRAWN_SPLIT, MeshArrays
from .meshgraph import unique_edges, weld_seams

# Each round turns at most one quad per crowded edge and checks again: a turned quad's new diagonal may
# meet another's. Rounds stop when nothing improves.
MAX_ROUNDS = 4


Drawn = tuple[np.ndarray, np.ndarray, np.ndarray]


def _drawn(mesh: MeshArrays) -> Drawn:
    """``mesh`` split as Blender draws it: the triangles (T, 3), the edge each of their sides runs along
    (T, 3) and how many triangles each edge has."""
    tris = mesh.triangles(DRAWN_SPLIT)
    _, counts, side_edge = unique_edges(MeshArrays.from_triangles(mesh.verts, tris))
    return tris, side_edge.reshape(-1, 3), counts


def _first_triangles(mesh: MeshArrays) -> np.ndarray:
    """The index of each face's first triangle in ``mesh.triangles()``."""
    per_face = mesh.face_sizes.astype(np.int64) - 2
    return np.cumsum(per_face) - per_face


def _diagonals(mesh: MeshArrays, quads: np.ndarray) -> np.ndarray:
    """The diagonal each of ``quads`` is drawn along, as a key ``min * V + max`` of its two vertices."""
    first = mesh.triangles(DRAWN_SPLIT)[_first_triangles(mesh)[quads]].astype(np.int64)
    ends = np.sort(first[:, [0, 2]], axis=1)
    return ends[:, 0] * mesh.vert_count + ends[:, 1]


def _crowded_quads(mesh: MeshArrays, drawn: Drawn, turnable: bool = True) -> np.ndarray:
    """Indices of quads drawn (``drawn = _drawn(mesh)``) along a diagonal of more than two triangles, one
    quad per such diagonal; with ``turnable``, only quads that turning moves off it."""
    _, side_edge, counts = drawn
    faces = np.repeat(np.repeat(np.arange(mesh.face_count), mesh.face_sizes - 2), 3)
    edge_of = side_edge.ravel()
    crowded = (counts[edge_of] > 2) & (mesh.face_sizes[faces] == 4)
    if not crowded.any():
        return np.zeros(0, dtype=np.int64)
    # A side is a quad's diagonal when both of the quad's triangles have it.
    pairs, seen = np.unique(np.stack([edge_of, faces], axis=1)[crowded], axis=0, return_counts=True)
    pairs = pairs[seen == 2]
    if turnable:
        # A quad folded over one diagonal is drawn along the other whichever corner it starts at.
        pairs = pairs[_diagonals(mesh, pairs[:, 1]) != _diagonals(_turned(mesh, pairs[:, 1]), pairs[:, 1])]
    _, first = np.unique(pairs[:, 0], return_index=True)
    return pairs[first, 1]


def _turned(mesh: MeshArrays, quads: np.ndarray) -> MeshArrays:
    corners = mesh.corner_verts.copy()
    at = mesh.face_starts[quads][:, None] + np.arange(4)
    corners[at] = corners[np.roll(at, -1, axis=1)]
    return MeshArrays(mesh.verts, mesh.face_sizes, corners)


def _crowded_edges(drawn: Drawn) -> int:
    return int(np.count_nonzero(drawn[2] > 2))


def _split(mesh: MeshArrays, quads: np.ndarray) -> MeshArrays:
    """``mesh`` with each of ``quads`` made two triangles, in its place, along the diagonal it is not drawn
    along."""
    sizes, starts = mesh.face_sizes.astype(np.int64), mesh.face_starts
    first = mesh.triangles(DRAWN_SPLIT)[_first_triangles(mesh)[quads]]
    drawn_from_first = first[:, 0] == mesh.corner_verts[starts[quads]]
    quad_corners = mesh.corner_verts[starts[quads][:, None] + np.arange(4)]
    order = (np.array([0, 1, 2, 0, 2, 3]) + drawn_from_first[:, None]) % 4
    split = np.zeros(mesh.face_count, dtype=bool)
    split[quads] = True
    count = np.where(split, 2, 1)
    new_sizes = np.repeat(sizes, count)
    new_sizes[np.repeat(split, count)] = 3
    new_starts = np.cumsum(new_sizes) - new_sizes
    first_new = np.cumsum(count) - count
    corners = np.empty(int(new_sizes.sum()), dtype=np.int64)
    face_of_corner = np.repeat(np.arange(mesh.face_count), sizes)
    kept = ~split[face_of_corner]
    within = np.arange(face_of_corner.shape[0]) - starts[face_of_corner]
    corners[new_starts[first_new[face_of_corner[kept]]] + within[kept]] = mesh.corner_verts[kept]
    corners[new_starts[first_new[quads]][:, None] + np.arange(6)] = np.take_along_axis(quad_corners, order, 1)
    return MeshArrays(mesh.verts, new_sizes, corners)


def drawn_manifold(mesh: MeshArrays) -> tuple[MeshArrays, dict[str, int]]:
    """(``mesh`` with quads turned so its drawn split adds no non-manifold edge, and where turning cannot
    (a quad folded over one diagonal is drawn along the other whichever corner it starts at) split into two
    triangles on the other diagonal; ``{"quads_turned": n, "quads_split": m}`` for those that changed)."""
    if not np.any(mesh.face_sizes == 4):
        return mesh, {}
    welded = weld_seams(mesh)  # same faces, same corner order: only vertex numbers are joined
    drawn = _drawn(welded)
    turned = np.zeros(mesh.face_count, dtype=bool)
    for _ in range(MAX_ROUNDS):
        if not _crowded_edges(drawn):
            break
        quads = _crowded_quads(welded, drawn)
        trial = _turned(welded, quads)
        trial_drawn = _drawn(trial)
        if _crowded_edges(trial_drawn) >= _crowded_edges(drawn):
            break
        welded, drawn = trial, trial_drawn
        turned[quads] ^= True
    changed: dict[str, int] = {}
    if turned.any():
        # A quad turned twice is back as it was; the rest are turned once in the caller's own numbering.
        mesh = _turned(mesh, np.flatnonzero(turned))
        changed["quads_turned"] = int(np.count_nonzero(turned))
    if _crowded_edges(drawn):
        quads = _crowded_quads(welded, drawn, turnable=False)
        if quads.size and _crowded_edges(_drawn(_split(welded, quads))) < _crowded_edges(drawn):
            mesh = _split(mesh, quads)
            changed["quads_split"] = int(quads.size)
    return mesh, changed
