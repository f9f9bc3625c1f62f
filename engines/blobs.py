# SPDX-License-Identifier: GPL-3.0-or-later
"""Blobs and debris a remesh leaves beside the surface it made, taken away.

Contract: ``without_blobs(result, index, verts, tris, source_open, units)`` takes a remesh ``MeshArrays``
(``index``, a ``TriangleIndex`` over the source's ``verts`` and ``tris``; ``source_open``, its
open half-edges as ``holes.boundary_half_edges`` gives them; ``units``, (centre, scale) when the result is in
object units and the source copy is ``(object - centre) / scale``) and returns ``(mesh, dropped)``: the result
without its blobs (unused vertices dropped) and how many went. A blob is a connected bit of the result that
holds under ``BLOB_SHARE`` of the result's faces and lies on a source piece (its faces' nearest source
triangles, by majority) that a larger bit of the result covers too; on an open source piece only a bit with
no open edge is one (an open bit may be a shred of the scan), on a closed piece any bit is. The only or
largest bit of a piece never is (an eye beside an open head keeps its eyeball). Imports numpy and the
engine's own modules only; never touches bpy.

Why: on pymeshlab's face range scan (one open piece of 161,609 triangles and 16 specks) Instant Meshes
left, beside the remeshed face, seven closed bits of 2 to 20 faces where the scan folds over itself at its
ragged borders (a pocket of 8 quads, two quads back to back, one of genus -2): 7 of the result's 27 pieces
against the source's 17, invisible at a glance and each one a cleanup job for the artist. On a closed
source the extraction leaves debris too: the Stanford dragon's vertex-clustered scan (dragon_vrip_res3.ply)
came back at 5,000 quads with two quads beside the dragon, which every retry kept and the hole filling then
closed back to back.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import face_centroids, face_components, most_frequent, unique_edges
from .project import TriangleIndex

# A closed bit holding this share of the result's faces or more is kept, whatever it lies on.
BLOB_SHARE = 0.01


def without_blobs(
    result: MeshArrays,
    index: TriangleIndex,
    verts: np.ndarray,
    tris: np.ndarray,
    source_open: tuple[np.ndarray, np.ndarray],
    units: tuple[np.ndarray, float] = (np.zeros(3), 1.0),
) -> tuple[MeshArrays, int]:
    if result.face_count == 0:
        return result, 0
    bits = face_components(result)
    count = int(bits.max()) + 1
    sizes = np.bincount(bits, minlength=count)
    small = sizes < BLOB_SHARE * result.face_count
    if count < 2 or not small.any():
        return result, 0
    _, users, corner_edge = unique_edges(result)
    open_edges = np.bincount(np.repeat(bits, result.face_sizes)[users[corner_edge] == 1], minlength=count)
    tris = np.asarray(tris, dtype=np.int64)
    source_bits = face_components(MeshArrays.from_triangles(verts, tris))
    open_vertex = np.zeros(verts.shape[0], dtype=bool)
    open_vertex[source_open[0]] = True
    open_piece = np.zeros(int(source_bits.max()) + 1, dtype=bool)
    open_piece[source_bits[open_vertex[tris].any(axis=1)]] = True
    center, scale = units
    nearest = index.query((face_centroids(result) - center) / scale)[2]
    piece_of_bit = most_frequent(bits, source_bits[np.maximum(nearest, 0)], count)
    largest = np.zeros(open_piece.shape[0], dtype=np.int64)
    np.maximum.at(largest, piece_of_bit, sizes)
    on_open = open_piece[piece_of_bit]
    blob = small & (sizes < largest[piece_of_bit]) & ((open_edges == 0) | ~on_open)
    if not blob.any():
        return result, 0
    return result.select_faces(~blob[bits]).compact(), int(np.count_nonzero(blob))
