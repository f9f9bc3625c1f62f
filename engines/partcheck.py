# SPDX-License-Identifier: GPL-3.0-or-later
"""What the engine made of a source's large pieces, checked piece by piece (see pieces.py).

Contract: ``nearest_piece(result, source, labels)`` gives the source piece (``labels`` per source triangle)
each result face counts for, and ``owners(result, nearest)`` the piece each face's whole connected part
counts for. ``lost_pieces`` finds the pieces no result face lies on, ``fused_pieces`` those the result
joined to another (``pieces.each_alone`` then makes every large piece in a run of its own), and
``reshaped_pieces`` those of at most ``RESHAPED_UP_TO`` faces whose parts came back with other pieces,
open borders or genus than the piece's own. ``left_for_small_way(made, sharp, ...)`` takes the reshaped
pieces' faces out of ``made`` (``with_faces``, which renumbers the sharp edges, vertex pairs) and returns
them with the lost ones, for ``pieces.small_pieces``. Imports numpy and the engine's own modules only;
never touches bpy and runs in the engine child process.

Why: at a few dozen quads Instant Meshes cannot draw a small part's rims. 20 short open cones of 39 quads
each, beside a sphere, came back with their wide ends pinched shut (20 open borders for their 40); made
the small way (their own triangles decimated, paired into quads) each keeps both rims.
"""

from __future__ import annotations

import logging

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import face_components, most_frequent
from .project import TriangleIndex
from .quality import topology

log = logging.getLogger(__name__)

# Faces of a piece in a connected part of the result that make it count as joined there (a face or two
# nearest another piece where two parts touch do not).
FUSED_FACES = 4
# Pieces with a budget up to this many faces that the engine reshaped are made the small way.
RESHAPED_UP_TO = 128


def nearest_piece(result: MeshArrays, source: MeshArrays, labels: np.ndarray) -> np.ndarray:
    """The piece of ``source`` (``labels`` per triangle) nearest each result face's first corner: the piece
    that face counts for in ``lost_pieces`` and ``fused_pieces``."""
    if result.face_count == 0:
        return np.zeros(0, dtype=np.int64)
    first = result.verts[result.corner_verts[result.face_starts]]
    return labels[TriangleIndex(source.verts, source.triangles()).query(first)[2]]


def lost_pieces(labels: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """The piece ids among ``labels`` (one per source triangle) that no result face lies on, ``nearest``
    being the piece each result face counts for (``nearest_piece``)."""
    present = np.unique(labels)
    if nearest.shape[0] == 0 or present.shape[0] == 0:
        return present
    hit = np.zeros(int(present[-1]) + 1, dtype=bool)
    hit[nearest] = True
    return present[~hit[present]]


def fused_pieces(result: MeshArrays, piece: np.ndarray) -> np.ndarray:
    """The piece ids that ``result`` joined to another: a connected part of ``result`` holds at least
    FUSED_FACES faces of each (``piece``: the piece each result face counts for, ``nearest_piece``).
    Instant Meshes joins parts that lie within a cell of each other, as Suzanne's eyes in their sockets."""
    if result.face_count == 0:
        return np.zeros(0, dtype=np.int64)
    span = int(piece.max()) + 1
    pairs, counts = np.unique(face_components(result) * span + piece, return_counts=True)
    part, member = np.divmod(pairs[counts >= FUSED_FACES], span)
    shared = np.bincount(part)[part] > 1
    return np.unique(member[shared])


def owners(result: MeshArrays, nearest: np.ndarray) -> np.ndarray:
    """The piece each face of ``result`` counts for as a whole connected part: the piece most of that part's
    faces are nearest (``nearest_piece``). A head's faces in an eye socket lie nearest the eye; its part is
    still the head's."""
    if result.face_count == 0:
        return np.zeros(0, dtype=np.int64)
    bits = face_components(result)
    return most_frequent(bits, nearest, int(bits.max()) + 1)[bits]


def reshaped_pieces(
    result: MeshArrays, source: MeshArrays, labels: np.ndarray, owner: np.ndarray, budgets: np.ndarray
) -> np.ndarray:
    """The piece ids (``labels`` per ``source`` triangle) with budgets up to ``RESHAPED_UP_TO`` whose
    connected parts in ``result`` (``owner`` per face, see ``owners``) have other pieces, open borders or
    genus than the piece's own triangles."""
    reshaped = []
    for piece in np.unique(owner):
        if budgets[piece] > RESHAPED_UP_TO:
            continue
        made = topology(result.select_faces(owner == piece).compact())
        own = topology(source.select_faces(labels == piece).compact())
        if any(made[key] != own[key] for key in ("pieces", "boundary_loops", "genus")):
            reshaped.append(int(piece))
    return np.asarray(reshaped, dtype=np.int64)


def left_for_small_way(
    made: MeshArrays,
    sharp: np.ndarray,
    source: MeshArrays,
    labels: np.ndarray,
    nearest: np.ndarray,
    budgets: np.ndarray,
) -> tuple[MeshArrays, np.ndarray, np.ndarray]:
    """(mesh, sharp edges, piece ids): ``made`` without the faces of the pieces it reshaped, and those pieces
    with the ones it lost, for the small way (``labels`` per ``source`` triangle, ``nearest`` per face)."""
    owner = owners(made, nearest)
    reshaped = reshaped_pieces(made, source, labels, owner, budgets)
    if reshaped.size:
        log.info("%d small parts came back reshaped: made the small way", reshaped.shape[0])
        made, sharp = with_faces(made, sharp, ~np.isin(owner, reshaped))
    return made, sharp, np.union1d(lost_pieces(labels, nearest), reshaped)


def with_faces(mesh: MeshArrays, sharp: np.ndarray, keep: np.ndarray) -> tuple[MeshArrays, np.ndarray]:
    """``mesh`` with only the faces where ``keep`` is True (unused vertices dropped) and its sharp edges
    (vertex pairs) renumbered, those of the dropped vertices gone."""
    kept = mesh.select_faces(keep)
    used = np.zeros(mesh.vert_count, dtype=bool)
    used[kept.corner_verts] = True
    remap = np.cumsum(used, dtype=np.int64) - 1
    sharp = remap[sharp[used[sharp].all(axis=1)]].astype(np.int32) if sharp.size else sharp
    return kept.compact(), sharp
