# SPDX-License-Identifier: GPL-3.0-or-later
"""Feature (hard) edges of a triangle mesh: by dihedral angle, and merged with edges the user marked.

Contract:
- ``sharp_edges(verts, tris, angle_deg)`` returns int64 (K, 2) source vertex pairs, smaller index first,
  sorted, one row per manifold edge whose two faces' normals differ by at least ``angle_deg`` (0 = none).
- ``feature_edges`` adds the caller's marked edges (any (M, 2) integer array of source vertex index pairs,
  e.g. Blender's sharp edges, seams and material borders) to those, dropping pairs that are not edges of
  the triangles, repeats and out-of-range rows.
- ``edges_of_two_faces(keys, face)``: from one sort of per-corner undirected edge keys and the face of
  each corner, the keys used by exactly two corners and those two faces; what any dihedral test needs,
  for triangles here and for polygons in ``transfer.hard_edges``.
Imports numpy only; never touches bpy.
"""

from __future__ import annotations

import numpy as np


def _edge_keys(tris: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected key per triangle corner edge (3T,) and the face each belongs to."""
    t = np.asarray(tris, dtype=np.int64)
    a = t.ravel()
    b = t[:, [1, 2, 0]].ravel()
    keys = np.minimum(a, b) * n + np.maximum(a, b)
    return keys, np.repeat(np.arange(t.shape[0]), 3)


def edges_of_two_faces(keys: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted keys used by exactly two corners, the face of one, the face of the other)."""
    order = np.argsort(keys)
    sorted_keys = keys[order]
    start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    pair = start[np.diff(np.r_[start, sorted_keys.shape[0]]) == 2]
    return sorted_keys[pair], face[order[pair]], face[order[pair + 1]]


def face_normals(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    v = np.asarray(verts, dtype=np.float64)
    t = np.asarray(tris, dtype=np.int64)
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, length, out=np.zeros_like(n), where=length > 0)


def sharp_edges(verts: np.ndarray, tris: np.ndarray, angle_deg: float) -> np.ndarray:
    """Manifold edges whose dihedral (angle between face normals) is at least ``angle_deg`` degrees."""
    n = max(int(np.asarray(verts).shape[0]), 1)
    if angle_deg <= 0 or len(tris) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    keys, first, second = edges_of_two_faces(*_edge_keys(tris, n))
    normals = face_normals(verts, tris)
    cos = np.einsum("ij,ij->i", normals[first], normals[second])
    sharp = keys[cos <= np.cos(np.radians(angle_deg))]
    return np.stack([sharp // n, sharp % n], axis=1)


def feature_edges(
    verts: np.ndarray, tris: np.ndarray, angle_deg: float, marked: np.ndarray | None = None
) -> np.ndarray:
    """Sharp edges by angle plus the ``marked`` vertex pairs that are edges of ``tris``; int64 (K, 2)."""
    n = max(int(np.asarray(verts).shape[0]), 1)
    found = sharp_edges(verts, tris, angle_deg)
    keys = found[:, 0] * n + found[:, 1]
    if marked is not None and len(marked):
        m = np.asarray(marked, dtype=np.int64).reshape(-1, 2)
        m = m[((m >= 0) & (m < n)).all(axis=1) & (m[:, 0] != m[:, 1])]
        mk = np.minimum(m[:, 0], m[:, 1]) * n + np.maximum(m[:, 0], m[:, 1])
        all_keys, _ = _edge_keys(tris, n)
        keys = np.union1d(keys, mk[np.isin(mk, all_keys)])
    keys = np.unique(keys)
    return np.stack([keys // n, keys % n], axis=1)
